package org.xcit4j.io;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.ToLongFunction;
import org.xcit4j.io.Unpickler.PickleError;
import org.xcit4j.tensor.DType;

/**
 * The allow-list for torch.save pickles: the only globals a checkpoint may name, each
 * implemented here as an inert Java constructor. Tensors are not read here; the pickle only
 * yields {@link TensorRef} descriptions, checked against the archive afterwards.
 *
 * <p>Training frameworks put their own objects beside the state dict (mmengine checkpoints
 * carry numpy scalars and arrays and mmengine's HistoryBuffer in 'meta' and 'message_hub').
 * Globals of those data libraries ({@link #FOREIGN_MODULES}) become {@link Foreign} markers:
 * nothing is imported or constructed, calls on them and their state are dropped, and the
 * marker keeps only the class name. That is safe because the VM never runs code either way
 * and because a state dict entry must be a tensor (the reader checks), so a marker can never
 * reach the model. Every other global (os, posix, builtins, subprocess, ...) is still refused.
 */
final class TorchPickle implements Unpickler.Resolver {
    /** Every global a checkpoint may name; storages carry their element type. */
    enum Global {
        ORDERED_DICT("collections", "OrderedDict"),
        REBUILD_TENSOR_V2("torch._utils", "_rebuild_tensor_v2"),
        REBUILD_PARAMETER("torch._utils", "_rebuild_parameter"),
        REBUILD_PARAMETER_WITH_STATE("torch._utils", "_rebuild_parameter_with_state"),
        GET_LAYOUT("torch.serialization", "_get_layout"),
        STRIDED("torch", "strided"),
        NAMESPACE("argparse", "Namespace"),
        /** Protocol 2 spells a Python 3 bytes object as _codecs.encode(str, 'latin1'). */
        CODECS_ENCODE("_codecs", "encode"),
        FLOAT_STORAGE("torch", "FloatStorage", DType.F32),
        HALF_STORAGE("torch", "HalfStorage", DType.F16),
        BFLOAT16_STORAGE("torch", "BFloat16Storage", DType.BF16),
        DOUBLE_STORAGE("torch", "DoubleStorage", DType.F64),
        LONG_STORAGE("torch", "LongStorage", DType.I64),
        INT_STORAGE("torch", "IntStorage", DType.I32),
        SHORT_STORAGE("torch", "ShortStorage", DType.I16),
        CHAR_STORAGE("torch", "CharStorage", DType.I8),
        BYTE_STORAGE("torch", "ByteStorage", DType.U8),
        BOOL_STORAGE("torch", "BoolStorage", DType.BOOL);

        final String module;
        final String name;
        /** Element type of a storage type; null for the other globals. */
        final DType storageType;

        Global(String module, String name) {
            this(module, name, null);
        }

        Global(String module, String name, DType storageType) {
            this.module = module;
            this.name = name;
            this.storageType = storageType;
        }

        @Override
        public String toString() {
            return module + "." + name;
        }
    }

    /** A storage the pickle references: {@code <prefix>/data/<key>}, {@code numel} elements of {@code type}. */
    record StorageRef(String key, DType type, long numel) {}

    /**
     * A tensor as the pickle describes it, in elements of its storage. Geometry is checked by
     * the reader, which knows the tensor's name for messages.
     */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {}

    /** An argparse.Namespace of training arguments, kept as plain data. */
    record Namespace(Map<String, Object> fields) {}

    /**
     * A class or function of a tolerated data library, or a value made by calling one: an
     * inert placeholder that remembers only what it stands for (arguments and state dropped).
     */
    record Foreign(String qualifiedName) implements Unpickler.Inert {
        @Override
        public String describe() {
            return qualifiedName + " (ignored)";
        }
    }

    /** Module prefixes whose globals become {@link Foreign} markers instead of being refused. */
    static final java.util.List<String> FOREIGN_MODULES = java.util.List.of("numpy", "mmengine", "mmcv", "mmseg", "mmdet");

    static boolean isForeignModule(String module) {
        for (String m : FOREIGN_MODULES) {
            if (module.equals(m) || module.startsWith(m + ".")) return true;
        }
        return false;
    }

    private static final Map<String, Global> BY_NAME = new HashMap<>();

    static {
        for (Global g : Global.values()) BY_NAME.put(g.module + "\n" + g.name, g);
    }

    /** Far above any tensor (torch's own limit is 25 dims in practice); keeps size tuples from being reused huge. */
    static final int MAX_RANK = 64;
    private static final int MAX_COPIED_ATTRIBUTES = 1 << 16;

    private int copiedAttributes;
    /** Element counts of storages seen so far, keyed by storage key. */
    private final Map<String, StorageRef> storages = new LinkedHashMap<>();
    /** Byte size of the archive entry for a storage key, or -1 when it does not exist. */
    private final ToLongFunction<String> storageBytes;

    TorchPickle(ToLongFunction<String> storageBytes) {
        this.storageBytes = storageBytes;
    }

    @Override
    public Object global(String module, String name) throws PickleError {
        Global g = BY_NAME.get(module + "\n" + name);
        if (g == null && isForeignModule(module)) return new Foreign(module + "." + name);
        if (g == null) {
            throw PickleError.unsafe("refusing to unpickle global '" + module + "." + name
                    + "' (only tensors, storages, ordered dicts and primitives are allowed)");
        }
        return g;
    }

    @Override
    public Object reduce(Object callable, PickleTuple args) throws PickleError {
        if (callable instanceof Foreign f) return f;
        if (!(callable instanceof Global g)) {
            throw PickleError.unsafe("refusing to call a " + Unpickler.typeName(callable) + " (only allow-listed constructors)");
        }
        return switch (g) {
            case ORDERED_DICT -> orderedDict(args);
            case REBUILD_TENSOR_V2 -> rebuildTensor(args);
            case REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE -> {
                // (data, requires_grad, backward_hooks[, state]): a Parameter is its data for inference.
                if (args.size() != (g == Global.REBUILD_PARAMETER ? 3 : 4) || !(args.get(0) instanceof TensorRef t)) {
                    throw PickleError.invalid(g + " expects (tensor, requires_grad, hooks" + (g == Global.REBUILD_PARAMETER ? ")" : ", state)"));
                }
                yield t;
            }
            case GET_LAYOUT -> {
                if (args.size() != 1 || !"torch.strided".equals(args.get(0))) {
                    throw PickleError.invalid(g + " supports only 'torch.strided'");
                }
                yield Global.STRIDED;
            }
            case NAMESPACE -> {
                if (args.size() != 0) throw PickleError.invalid(g + " takes no positional arguments");
                yield new Namespace(new LinkedHashMap<>());
            }
            case CODECS_ENCODE -> {
                if (args.size() != 2 || !(args.get(0) instanceof String s)
                        || !("latin1".equals(args.get(1)) || "latin-1".equals(args.get(1)))) {
                    throw PickleError.invalid(g + " supports only (str, 'latin1')");
                }
                yield s.getBytes(StandardCharsets.ISO_8859_1);
            }
            default -> throw PickleError.invalid("'" + g + "' cannot be called");
        };
    }

    @Override
    public Object newObject(Object cls, PickleTuple args) throws PickleError {
        if (cls == Global.NAMESPACE && args.size() == 0) return new Namespace(new LinkedHashMap<>());
        if (cls == Global.ORDERED_DICT && args.size() == 0) return new LinkedHashMap<Object, Object>();
        if (cls instanceof Foreign f) return f;
        throw PickleError.unsafe("refusing NEWOBJ of " + Unpickler.typeName(cls) + " (only argparse.Namespace and OrderedDict)");
    }

    @Override
    public void build(Object target, Object state) throws PickleError {
        switch (target) {
            case Namespace ns when state instanceof Map<?, ?> m -> {
                // BUILD copies; one memoised dict applied to many namespaces must not multiply memory.
                copiedAttributes += m.size();
                if (copiedAttributes > MAX_COPIED_ATTRIBUTES) {
                    throw PickleError.invalid("more than " + MAX_COPIED_ATTRIBUTES + " Namespace attributes in total");
                }
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!(e.getKey() instanceof String k)) throw PickleError.invalid("Namespace attribute names must be str");
                    ns.fields().put(k, e.getValue());
                }
            }
            // An OrderedDict's state is its instance attributes (a state_dict's '_metadata': module
            // versions), not items; inference needs none of it.
            case LinkedHashMap<?, ?> d -> { }
            case Foreign f -> { }
            default -> throw PickleError.invalid("BUILD on a " + Unpickler.typeName(target) + " is not allowed");
        }
    }

    @Override
    public Object persistentLoad(Object pid) throws PickleError {
        // torch.save writes ('storage', storage_type, key, location, numel).
        if (!(pid instanceof PickleTuple t) || t.size() != 5 || !"storage".equals(t.get(0))) {
            throw PickleError.invalid("persistent id must be ('storage', type, key, location, numel), got "
                    + Unpickler.typeName(pid));
        }
        if (!(t.get(1) instanceof Global g) || g.storageType == null) {
            throw PickleError.invalid("persistent id names storage type " + Unpickler.typeName(t.get(1))
                    + ", not a torch storage type");
        }
        if (!(t.get(2) instanceof String key) || key.isEmpty() || key.contains("/")) {
            throw PickleError.invalid("persistent id has a bad storage key " + Unpickler.typeName(t.get(2)));
        }
        if (!(t.get(4) instanceof Long numel) || numel < 0) {
            throw PickleError.invalid("storage '" + key + "' has a bad element count");
        }
        StorageRef s = new StorageRef(key, g.storageType, numel);
        StorageRef seen = storages.get(key);
        if (seen != null) {
            if (!seen.equals(s)) {
                throw PickleError.invalid("storage '" + key + "' is referenced as " + seen.numel() + " x " + seen.type()
                        + " and as " + numel + " x " + s.type());
            }
            return seen;
        }
        long bytes = storageBytes.applyAsLong(key);
        if (bytes < 0) throw PickleError.invalid("storage 'data/" + key + "' referenced by the pickle is missing from the archive");
        long want;
        try {
            want = Math.multiplyExact(numel, g.storageType.byteSize());
        } catch (ArithmeticException e) {
            throw PickleError.invalid("storage 'data/" + key + "' element count " + numel + " overflows");
        }
        if (bytes != want) {
            throw PickleError.invalid("storage 'data/" + key + "' holds " + bytes + " bytes, but " + numel + " x "
                    + s.type() + " needs " + want);
        }
        storages.put(key, s);
        return s;
    }

    /**
     * Only {@code OrderedDict()}: pickle fills it with SETITEMS. Copying an argument list would let
     * a few bytes (one memoised list reused) allocate without bound.
     */
    private static Map<Object, Object> orderedDict(PickleTuple args) throws PickleError {
        if (args.size() != 0) throw PickleError.invalid("OrderedDict is only supported without arguments");
        return new LinkedHashMap<>();
    }

    /** {@code _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])}. */
    private static TensorRef rebuildTensor(PickleTuple args) throws PickleError {
        if (args.size() != 6 && args.size() != 7) {
            throw PickleError.invalid("_rebuild_tensor_v2 expects 6 or 7 arguments, got " + args.size());
        }
        if (!(args.get(0) instanceof StorageRef s)) {
            throw PickleError.invalid("_rebuild_tensor_v2 expects a storage, got " + Unpickler.typeName(args.get(0)));
        }
        if (!(args.get(1) instanceof Long offset) || offset < 0) {
            throw PickleError.invalid("_rebuild_tensor_v2 expects a non-negative storage offset");
        }
        long[] size = longs(args.get(2), "size");
        long[] stride = longs(args.get(3), "stride");
        if (size.length != stride.length) {
            throw PickleError.invalid("_rebuild_tensor_v2 size has " + size.length + " dims but stride " + stride.length);
        }
        return new TensorRef(s, offset, size, stride);
    }

    private static long[] longs(Object o, String what) throws PickleError {
        if (!(o instanceof PickleTuple t)) throw PickleError.invalid("_rebuild_tensor_v2 " + what + " must be a tuple");
        if (t.size() > MAX_RANK) throw PickleError.invalid("_rebuild_tensor_v2 " + what + " has " + t.size() + " dims, above " + MAX_RANK);
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(t.get(i) instanceof Long v)) throw PickleError.invalid("_rebuild_tensor_v2 " + what + " must hold ints");
            out[i] = v;
        }
        return out;
    }
}
