"""Writes the small numpy-made .npy/.npz files that NpyTest and NpzTest read.

Run from this folder:  python3 make_numpy_fixtures.py   (numpy >= 1.17)
The tests do not need Python; the files are committed. Values: arange(6) * 0.25 - 0.5 as
float32 of shape (2, 3), so the Java tests can state them literally.
"""
import numpy as np

a = (np.arange(6, dtype=np.float32) * 0.25 - 0.5).reshape(2, 3)
np.save("numpy_v1.npy", a)
for major in (2, 3):
    with open("numpy_v%d.npy" % major, "wb") as f:
        np.lib.format.write_array(f, a, version=(major, 0))
np.save("numpy_f8.npy", a.astype(np.float64))
np.save("numpy_fortran.npy", np.asfortranarray(a))
np.save("numpy_scalar.npy", np.float32(2.5))
np.savez("numpy_stored.npz", x=a, y=np.float32([7.0]))
np.savez_compressed("numpy_deflated.npz", x=a, y=np.float32([7.0]))
