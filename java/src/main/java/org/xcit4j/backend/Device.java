package org.xcit4j.backend;

import java.util.Locale;

/** Where a session runs. {@link #AUTO} picks the best available and says which. */
public enum Device {
    /** CUDA when a device and the libraries are present, else the native CPU, else Java. */
    AUTO,
    /** {@code JavaBackend}: the reference, plain Java loops with sums in double. */
    JAVA,
    /** {@code CpuBackend}: C kernels and oneDNN GEMMs. */
    CPU,
    /** {@code CudaBackend}: CUDA kernels and cuBLASLt GEMMs on an NVIDIA GPU. */
    CUDA;

    /**
     * The device of a name, in any case: auto, java, cpu or cuda.
     *
     * @param name the name
     * @return the device
     * @throws IllegalArgumentException naming the valid names if there is no such device
     */
    public static Device parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown device '" + name + "': expected auto, java, cpu or cuda");
        }
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
