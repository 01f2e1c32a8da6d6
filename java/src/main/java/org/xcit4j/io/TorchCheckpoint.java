package org.xcit4j.io;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.xcit4j.io.TorchPickle.StorageRef;
import org.xcit4j.io.TorchPickle.TensorRef;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * Reads the state dict of a PyTorch checkpoint as {@code torch.save} writes it since 1.6: a
 * zip holding {@code <prefix>/data.pkl} (the pickled object), {@code <prefix>/data/<key>}
 * (raw little-endian storages), {@code <prefix>/byteorder} and {@code <prefix>/version}. The
 * pickle runs on {@link Unpickler} with the {@link TorchPickle} allow-list, so only tensors,
 * storages, ordered dicts, argparse namespaces and primitives can come out of it. Accepts a
 * bare state dict or one wrapped as {@code {'state_dict': sd, ...}} or {@code {'model': sd,
 * ...}} (other entries are ignored).
 */
public final class TorchCheckpoint {
    /** A state dict pickle is ~100 bytes per tensor; this is generous and still bounded. */
    static final long MAX_PICKLE_BYTES = 256L << 20;
    /**
     * torch.save stores every entry uncompressed, so an archive decompresses to about its own
     * size; more than this times its size (beyond {@link Zips.Budget#EXPANSION_ALLOWANCE}) is
     * a zip bomb, refused before anything is inflated.
     */
    static final long MAX_EXPANSION = 16;
    /**
     * Float32 tensors may take at most this times the bytes their storages hold (plus
     * {@link #VIEW_ALLOWANCE}): float16/bfloat16 weights double, float32 ones stay equal. What
     * goes beyond is tensors viewing one storage many times, or bytes viewed as floats.
     */
    static final long MAX_VIEW_EXPANSION = 2;
    static final long VIEW_ALLOWANCE = 64L << 20;

    private TorchCheckpoint() {}

    /**
     * Reads the state dict of {@code file} as float32 tensors in {@code arena}.
     *
     * @param file a torch.save zip
     * @param arena owns the tensors
     * @return the state dict
     * @throws CheckpointException naming the file and the first problem found
     */
    public static StateDict read(Path file, Arena arena) throws CheckpointException {
        try {
            checkMagic(file);
            try (ZipFile zip = Zips.open(file)) {
                return read(file, zip, arena);
            }
        } catch (IOException e) {
            throw CheckpointException.wrap(file, e);
        }
    }

    /** torch.save's magic number 0x1950a86a20f9469cfc6c, pickled first by the legacy (non-zip) format, as LONG1 bytes. */
    private static final byte[] LEGACY_MAGIC = {(byte) 0x8a, 10, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20, 0x6a,
        (byte) 0xa8, 0x50, 0x19};

    /**
     * Whether {@code file} starts like a PyTorch checkpoint: a zip, or the legacy format (its
     * pickled magic number, or a tar), so a caller can route it here rather than to a reader
     * that would misread it. Checks only what no safetensors file can start with.
     *
     * @param file any file
     * @return whether it is PyTorch's
     * @throws CheckpointException if the file cannot be read
     */
    public static boolean recognizes(Path file) throws CheckpointException {
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(512);
        } catch (IOException e) {
            throw CheckpointException.wrap(file, e);
        }
        return isZip(head) || isLegacy(head);
    }

    private static boolean isZip(byte[] head) {
        return head.length >= 4 && head[0] == 'P' && head[1] == 'K' && (head[2] == 3 || head[2] == 5);
    }

    private static boolean isLegacy(byte[] head) {
        if (head.length >= 262 && new String(head, 257, 5, StandardCharsets.US_ASCII).equals("ustar")) return true;
        if (head.length < 2 || (head[0] & 0xff) != 0x80 || head[1] < 2 || head[1] > 5) return false;
        int at = head.length > 2 && (head[2] & 0xff) == 0x95 ? 11 : 2; // protocol 4+ may open with a FRAME
        return head.length >= at + LEGACY_MAGIC.length && Arrays.equals(head, at, at + LEGACY_MAGIC.length, LEGACY_MAGIC, 0, LEGACY_MAGIC.length);
    }

    private static void checkMagic(Path file) throws IOException {
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(512);
        }
        if (isZip(head)) return;
        // Any pickle here (not only one with the magic number) is refused by name: it is never unpickled.
        boolean pickle = head.length >= 2 && (head[0] & 0xff) == 0x80 && head[1] >= 2 && head[1] <= 5;
        if (pickle || isLegacy(head)) {
            throw new CheckpointException(file, "legacy (torch < 1.6, non-zip) checkpoint format is not supported; "
                    + "re-save it with torch >= 1.6 (torch.save(torch.load(f), f2)) or convert it to safetensors");
        }
        throw new CheckpointException(file, "not a PyTorch checkpoint (neither a torch.save zip archive nor a legacy pickle)");
    }

    private static StateDict read(Path file, ZipFile zip, Arena arena) throws IOException {
        String prefix = prefix(file, zip);
        checkByteOrder(file, zip, prefix);
        checkVersion(file, zip, prefix);
        String pklName = prefix + "/data.pkl";
        ZipEntry pkl = zip.getEntry(pklName);
        if (pkl == null) {
            throw new CheckpointException(file, "no '" + pklName + "' entry: not a torch.save checkpoint");
        }
        Zips.Budget budget = new Zips.Budget(file, MAX_EXPANSION);
        budget.take(pkl);
        byte[] pickle = Zips.readSmall(file, zip, pkl, MAX_PICKLE_BYTES);
        TorchPickle resolver = new TorchPickle(key -> {
            ZipEntry e = zip.getEntry(prefix + "/data/" + key);
            return e == null || e.isDirectory() ? -1 : e.getSize();
        });
        Object root = new Unpickler(file, pklName, pickle, resolver).load();
        Map<?, ?> sd = stateDict(file, root);

        // Check every tensor before reading any storage, so a bad file allocates nothing.
        List<String> keys = new ArrayList<>();
        List<TensorRef> refs = new ArrayList<>();
        Map<String, Long> storedBytes = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : sd.entrySet()) {
            if (!(e.getKey() instanceof String key)) {
                throw new CheckpointException(file, "state dict key " + Unpickler.typeName(e.getKey()) + " is not a string");
            }
            if (!(e.getValue() instanceof TensorRef ref)) {
                throw new CheckpointException(file, "state dict entry '" + key + "' is a "
                        + Unpickler.typeName(e.getValue()) + ", not a tensor");
            }
            checkGeometry(file, key, ref);
            if (!storedBytes.containsKey(ref.storage().key())) {
                storedBytes.put(ref.storage().key(), budget.take(zip.getEntry(prefix + "/data/" + ref.storage().key())));
            }
            keys.add(key);
            refs.add(ref);
        }
        checkExpansion(file, refs, storedBytes);
        Tensor[] tensors = readTensors(file, zip, prefix, refs, arena);
        StateDict out = new StateDict(file);
        for (int i = 0; i < keys.size(); i++) out.put(keys.get(i), tensors[i], refs.get(i).storage().type());
        return out;
    }

    /**
     * Each state dict entry gets its own float32 memory (no aliasing), plus scratch for a
     * storage that is not exactly one tensor (decoded whole first, one at a time; see
     * {@link #readTensors}). Refuses, before allocating, a state dict that would take more
     * than {@link #MAX_VIEW_EXPANSION} times the bytes its storages hold.
     */
    private static void checkExpansion(Path file, List<TensorRef> refs, Map<String, Long> storedBytes) throws CheckpointException {
        Map<String, long[]> perStorage = new LinkedHashMap<>(); // key -> {float32 bytes of its views, views}
        for (TensorRef r : refs) {
            long[] v = perStorage.computeIfAbsent(r.storage().key(), k -> new long[2]);
            // No overflow: a view lies inside its storage (checkGeometry), whose size Zips.Budget bounds by the archive's.
            v[0] = saturatingAdd(v[0], numel(r) * Float.BYTES);
            v[1]++;
        }
        long need = 0, scratch = 0, stored = 0;
        String worst = null;
        for (TensorRef r : refs) {
            StorageRef s = r.storage();
            long[] v = perStorage.get(s.key());
            if (numel(r) > 0 && (v[1] > 1 || r.offset() != 0 || numel(r) != s.numel())) scratch = Math.max(scratch, s.numel() * Float.BYTES);
        }
        for (Map.Entry<String, long[]> e : perStorage.entrySet()) {
            need = saturatingAdd(need, e.getValue()[0]);
            stored += storedBytes.get(e.getKey());
            if (worst == null || e.getValue()[0] - storedBytes.get(e.getKey()) > perStorage.get(worst)[0] - storedBytes.get(worst)) {
                worst = e.getKey();
            }
        }
        need = saturatingAdd(need, scratch);
        if (need > MAX_VIEW_EXPANSION * stored + VIEW_ALLOWANCE) {
            long[] w = perStorage.get(worst);
            throw new CheckpointException(file, "the state dict would take " + need + " bytes as float32 tensors, more than "
                    + MAX_VIEW_EXPANSION + " times the " + stored + " bytes its storages hold (storage 'data/" + worst + "': "
                    + storedBytes.get(worst) + " bytes viewed as " + w[0] + " bytes of float32 by " + w[1] + " tensor"
                    + (w[1] == 1 ? "" : "s") + "); refusing to expand it");
        }
        MemoryCheck.require(file, need, "reading its tensors as float32");
    }

    /** torch names the archive folder after the file it saved to; like torch, take the first entry's folder. */
    private static String prefix(Path file, ZipFile zip) throws CheckpointException {
        var entries = zip.entries();
        if (!entries.hasMoreElements()) throw new CheckpointException(file, "empty zip archive: not a torch.save checkpoint");
        String first = entries.nextElement().getName();
        int slash = first.indexOf('/');
        if (slash <= 0) {
            throw new CheckpointException(file, "zip entry '" + first + "' is not inside a top-level folder: "
                    + "not a torch.save checkpoint (no '<folder>/data.pkl')");
        }
        return first.substring(0, slash);
    }

    private static void checkByteOrder(Path file, ZipFile zip, String prefix) throws IOException {
        ZipEntry e = zip.getEntry(prefix + "/byteorder");
        // torch before 1.10 wrote no byteorder record; those files are little-endian.
        if (e == null) return;
        String order = new String(Zips.readSmall(file, zip, e, 64), StandardCharsets.US_ASCII).strip();
        if (!order.equals("little")) {
            throw new CheckpointException(file, "byte order '" + order + "' is not supported (only little-endian checkpoints)");
        }
    }

    private static void checkVersion(Path file, ZipFile zip, String prefix) throws IOException {
        ZipEntry e = zip.getEntry(prefix + "/version");
        if (e == null) return;
        String v = new String(Zips.readSmall(file, zip, e, 64), StandardCharsets.US_ASCII).strip();
        if (!v.matches("[0-9]{1,9}")) {
            throw new CheckpointException(file, "'" + prefix + "/version' holds '" + v + "', not a format version number");
        }
    }

    /** The state dict inside the unpickled object: {'state_dict': sd}, {'model': sd} or sd itself. */
    private static Map<?, ?> stateDict(Path file, Object root) throws CheckpointException {
        if (!(root instanceof Map<?, ?> top)) {
            throw new CheckpointException(file, "the checkpoint holds a " + Unpickler.typeName(root) + ", not a dict");
        }
        for (String wrapper : List.of("state_dict", "model")) {
            if (top.get(wrapper) instanceof Map<?, ?> inner) return inner;
        }
        // A bare state dict; any non-tensor entry in it is then reported by name.
        if (top.values().stream().anyMatch(v -> v instanceof TensorRef)) return top;
        List<String> names = top.keySet().stream().limit(10)
                .map(k -> k instanceof String s ? s : Unpickler.typeName(k)).toList();
        throw new CheckpointException(file, "no state dict found: expected a dict of tensors or a dict with a "
                + "'model' or 'state_dict' entry (top-level keys: " + String.join(", ", names)
                + (top.size() > 10 ? ", ..." : "") + ")");
    }

    private static long saturatingAdd(long a, long b) {
        long s = a + b;
        return s < a ? Long.MAX_VALUE : s; // both are non-negative
    }

    private static long numel(TensorRef ref) {
        long n = 1;
        for (long d : ref.size()) n *= d; // checked not to overflow by checkGeometry
        return n;
    }

    /** Row-major contiguous and inside its storage: the only layout read without a gather. */
    private static void checkGeometry(Path file, String key, TensorRef ref) throws CheckpointException {
        long numel = 1;
        for (long d : ref.size()) {
            if (d < 0) throw new CheckpointException(file, "tensor '" + key + "' has negative size " + Arrays.toString(ref.size()));
            try {
                numel = Math.multiplyExact(numel, d);
            } catch (ArithmeticException e) {
                throw new CheckpointException(file, "tensor '" + key + "' size " + Arrays.toString(ref.size()) + " overflows");
            }
        }
        if (numel == 0) return;
        long expected = 1;
        for (int i = ref.size().length - 1; i >= 0; i--) {
            // torch ignores the stride of a size-1 dimension when deciding contiguity.
            if (ref.size()[i] != 1 && ref.stride()[i] != expected) {
                throw new CheckpointException(file, "tensor '" + key + "' with size " + Arrays.toString(ref.size())
                        + " and stride " + Arrays.toString(ref.stride())
                        + " is not contiguous row-major; save it with .contiguous()");
            }
            expected *= ref.size()[i];
        }
        StorageRef s = ref.storage();
        if (ref.offset() > s.numel() - numel) {
            throw new CheckpointException(file, "tensor '" + key + "' (offset " + ref.offset() + ", " + numel
                    + " elements) does not fit its storage 'data/" + s.key() + "' of " + s.numel() + " elements");
        }
    }

    /**
     * Reads each storage once. A storage that is exactly one tensor (the usual case) is decoded
     * straight into that tensor; a shared storage is decoded into scratch memory and each
     * tensor copies its slice, so no two state dict entries alias each other.
     */
    private static Tensor[] readTensors(Path file, ZipFile zip, String prefix, List<TensorRef> refs, Arena arena)
            throws IOException {
        Tensor[] out = new Tensor[refs.size()];
        Map<String, List<Integer>> byStorage = new LinkedHashMap<>();
        for (int i = 0; i < refs.size(); i++) {
            TensorRef r = refs.get(i);
            out[i] = Tensor.allocate(arena, Shape.of(r.size()));
            if (out[i].numel() > 0) byStorage.computeIfAbsent(r.storage().key(), k -> new ArrayList<>()).add(i);
        }
        for (List<Integer> users : byStorage.values()) {
            TensorRef first = refs.get(users.getFirst());
            StorageRef s = first.storage();
            ZipEntry e = zip.getEntry(prefix + "/data/" + s.key());
            if (users.size() == 1 && first.offset() == 0 && out[users.getFirst()].numel() == s.numel()) {
                readStorage(file, zip, e, s, out[users.getFirst()].segment());
                continue;
            }
            try (Arena scratch = Arena.ofConfined()) {
                MemorySegment all = scratch.allocate(s.numel() * Float.BYTES, 64);
                readStorage(file, zip, e, s, all);
                for (int i : users) {
                    Tensor t = out[i];
                    MemorySegment.copy(all, refs.get(i).offset() * Float.BYTES, t.segment(), 0, t.numel() * Float.BYTES);
                }
            }
        }
        return out;
    }

    private static void readStorage(Path file, ZipFile zip, ZipEntry e, StorageRef s, MemorySegment dst) throws IOException {
        Zips.checkedSize(file, e);
        try (InputStream in = zip.getInputStream(e)) {
            Elements.read(in, s.type(), s.numel(), dst, 0);
            if (in.read() >= 0) throw new CheckpointException(file, "storage '" + e.getName() + "' is longer than its directory size");
        } catch (EOFException x) {
            throw new CheckpointException(file, "storage '" + e.getName() + "' truncated: " + x.getMessage());
        }
    }
}
