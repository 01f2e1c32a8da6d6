package org.xcit4j.io;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A restricted pickle virtual machine for protocols 2 to 5. It builds plain values (None,
 * bool, int, float, str, bytes, tuple, list, dict) itself and hands every request for
 * something else (a global, a call, a persistent id) to a {@link Resolver}, which implements
 * an allow-list of inert constructors in Java. Nothing a pickle says can run code: the VM has
 * no way to import or call anything. Opcodes outside the supported set are refused, as are
 * sizes beyond fixed caps, so a hostile file can only make it allocate bounded memory.
 *
 * <p>Value mapping: None is {@code null}, ints are {@link Long} (or {@link BigInteger} past 64
 * bits), floats {@link Double}, str {@link String}, bytes {@code byte[]}, tuples {@link PickleTuple},
 * lists {@link ArrayList}, dicts {@link LinkedHashMap} in insertion order.
 */
final class Unpickler {
    /**
     * A resolver's placeholder for an object it does not construct: items appended or set on
     * it are dropped (after the usual size checks on the way in), never stored.
     */
    interface Inert {
        /** What it stands for, for messages. */
        String describe();
    }

    /** The allow-list: what the VM may construct beyond plain values. */
    interface Resolver {
        /** The object a GLOBAL names; must throw {@link PickleError#unsafe} for anything not allowed. */
        Object global(String module, String name) throws PickleError;

        /** REDUCE: {@code callable(*args)}, where callable came from {@link #global}. */
        Object reduce(Object callable, PickleTuple args) throws PickleError;

        /** NEWOBJ: {@code cls.__new__(cls, *args)}. */
        Object newObject(Object cls, PickleTuple args) throws PickleError;

        /** BUILD: applies {@code state} to {@code target} (its {@code __setstate__}). */
        void build(Object target, Object state) throws PickleError;

        /** BINPERSID: the object an external reference stands for. */
        Object persistentLoad(Object pid) throws PickleError;
    }

    /** A problem found while interpreting; the VM adds file, entry and byte offset. */
    static final class PickleError extends Exception {
        private static final long serialVersionUID = 1L;

        final boolean unsafe;

        private PickleError(String message, boolean unsafe) {
            super(message);
            this.unsafe = unsafe;
        }

        static PickleError invalid(String message) {
            return new PickleError(message, false);
        }

        static PickleError unsafe(String message) {
            return new PickleError(message, true);
        }
    }

    /** Caps: far above any state dict (a few thousand tensors), far below memory trouble. */
    static final int MAX_MEMO = 1 << 22;
    static final int MAX_CONTAINER = 1 << 24;
    private static final int MAX_GLOBAL_NAME = 1024;
    private static final int MAX_KEY_DEPTH = 32;
    /**
     * Values a tuple dict key may hold, shared parts counted at each use: hashing and comparing
     * keys costs that much. torch writes str (and int) keys; a tuple key beyond this is memo
     * fan-out (4^24 paths in 300 bytes) whose hash or equality would never finish.
     */
    static final int MAX_KEY_NODES = 1 << 10;
    /**
     * Entries a dict may hold when its keys cannot all be ordered (tuple keys, or keys of mixed
     * types): Java's HashMap keeps colliding keys it cannot order in a list, so a pickle of
     * crafted colliding keys would cost quadratic time. Keys of one ordered type (str, int,
     * float) are kept in a tree and need no limit.
     */
    static final int MAX_UNORDERED_KEYS = 1 << 10;

    private static final String[] OPCODE_NAMES = opcodeNames();

    private final Path file;
    private final String entry;
    private final byte[] data;
    private final Resolver resolver;
    private int pos;
    private int opStart;
    private List<Object> stack = new ArrayList<>();
    private final List<List<Object>> metastack = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();
    /** Dicts holding a key that cannot be kept in HashMap's ordered bins (see {@link #MAX_UNORDERED_KEYS}). */
    private final Set<Object> unorderedDicts = Collections.newSetFromMap(new IdentityHashMap<>());

    /**
     * @param file  the file, for messages
     * @param entry where the pickle lives inside it (e.g. {@code archive/data.pkl}), for messages
     */
    Unpickler(Path file, String entry, byte[] data, Resolver resolver) {
        this.file = file;
        this.entry = entry;
        this.data = data;
        this.resolver = resolver;
    }

    /** Runs the pickle to its STOP opcode and returns the value it built. */
    Object load() throws CheckpointException {
        try {
            while (pos < data.length) {
                opStart = pos;
                int op = data[pos++] & 0xff;
                if (op == '.') return pop(); // STOP
                step(op);
            }
            throw PickleError.invalid("pickle ends without a STOP opcode");
        } catch (PickleError e) {
            String where = " [" + entry + " byte " + opStart + "]";
            if (e.unsafe) throw new UnsafePickleException(file, e.getMessage() + where);
            throw new CheckpointException(file, e.getMessage() + where);
        }
    }

    private void step(int op) throws PickleError {
        switch (op) {
            case 0x80 -> { // PROTO
                int proto = u8();
                if (proto < 2 || proto > 5) throw PickleError.invalid("pickle protocol " + proto + " is not supported (2 to 5)");
            }
            case 0x95 -> { // FRAME: a length hint only
                long n = le(8);
                if (n < 0 || n > data.length - pos) throw PickleError.invalid("FRAME of " + Long.toUnsignedString(n) + " bytes exceeds the pickle");
            }
            case '}' -> push(new LinkedHashMap<>()); // EMPTY_DICT
            case ']' -> push(new ArrayList<>()); // EMPTY_LIST
            case ')' -> push(new PickleTuple(List.of())); // EMPTY_TUPLE
            case '(' -> { // MARK
                if (metastack.size() >= MAX_CONTAINER) throw PickleError.invalid("too many nested MARKs");
                metastack.add(stack);
                stack = new ArrayList<>();
            }
            case 'J' -> push((long) (int) le(4)); // BININT
            case 'K' -> push((long) u8()); // BININT1
            case 'M' -> push(le(2)); // BININT2
            case 0x8a -> push(long1()); // LONG1
            case 'G' -> push(Double.longBitsToDouble(be8())); // BINFLOAT
            case 0x8c -> push(utf8(need(u8()))); // SHORT_BINUNICODE
            case 'X' -> push(utf8(need(le(4)))); // BINUNICODE
            case 0x8d -> push(utf8(need(le(8)))); // BINUNICODE8
            case 'T' -> push(utf8(need((int) le(4)))); // BINSTRING (Python 2 str; torch decodes as UTF-8)
            case 'U' -> push(utf8(need(u8()))); // SHORT_BINSTRING
            case 'B' -> push(bytes(need(le(4)))); // BINBYTES
            case 'C' -> push(bytes(need(u8()))); // SHORT_BINBYTES
            case 0x8e -> push(bytes(need(le(8)))); // BINBYTES8
            case 'N' -> push(null); // NONE
            case 0x88 -> push(Boolean.TRUE); // NEWTRUE
            case 0x89 -> push(Boolean.FALSE); // NEWFALSE
            case 0x85, 0x86, 0x87 -> { // TUPLE1..3
                int n = op - 0x84;
                if (stack.size() < n) throw PickleError.invalid(OPCODE_NAMES[op] + " needs " + n + " items on the stack");
                List<Object> top = stack.subList(stack.size() - n, stack.size());
                PickleTuple t = new PickleTuple(top);
                top.clear();
                push(t);
            }
            case 't' -> push(new PickleTuple(popMark())); // TUPLE
            case 'l' -> push(new ArrayList<>(popMark())); // LIST
            case 'a' -> { // APPEND
                Object v = pop();
                appendAll(top(), Collections.singletonList(v));
            }
            case 'e' -> { // APPENDS
                List<Object> items = popMark();
                appendAll(top(), items);
            }
            case 'd' -> { // DICT
                List<Object> items = popMark();
                Map<Object, Object> d = new LinkedHashMap<>();
                setItems(d, items);
                push(d);
            }
            case 's' -> { // SETITEM
                Object v = pop();
                Object k = pop();
                List<Object> kv = new ArrayList<>(2);
                kv.add(k);
                kv.add(v);
                setItems(top(), kv);
            }
            case 'u' -> { // SETITEMS
                List<Object> items = popMark();
                setItems(top(), items);
            }
            case 'q' -> memoPut(u8()); // BINPUT
            case 'r' -> memoPut(le(4)); // LONG_BINPUT
            case 0x94 -> memoPut(memo.size()); // MEMOIZE
            case 'h' -> push(memoGet(u8())); // BINGET
            case 'j' -> push(memoGet(le(4))); // LONG_BINGET
            case 'c' -> { // GLOBAL
                String module = line();
                String name = line();
                push(resolver.global(module, name));
            }
            case 0x93 -> { // STACK_GLOBAL
                Object name = pop();
                Object module = pop();
                if (!(module instanceof String m) || !(name instanceof String n)) {
                    throw PickleError.invalid("STACK_GLOBAL needs two strings on the stack");
                }
                push(resolver.global(m, n));
            }
            case 'R' -> { // REDUCE
                PickleTuple args = tupleArg(pop(), "REDUCE");
                Object callable = pop();
                push(resolver.reduce(callable, args));
            }
            case 0x81 -> { // NEWOBJ
                PickleTuple args = tupleArg(pop(), "NEWOBJ");
                Object cls = pop();
                push(resolver.newObject(cls, args));
            }
            case 'b' -> { // BUILD
                Object state = pop();
                resolver.build(top(), state);
            }
            case 'Q' -> push(resolver.persistentLoad(pop())); // BINPERSID
            default -> throw PickleError.invalid("unsupported pickle opcode 0x" + String.format("%02x", op)
                    + (OPCODE_NAMES[op] == null ? "" : " (" + OPCODE_NAMES[op] + ")"));
        }
    }

    @SuppressWarnings("unchecked")
    private static void appendAll(Object target, List<Object> items) throws PickleError {
        if (target instanceof Inert) return;
        if (!(target instanceof ArrayList<?> raw)) {
            throw PickleError.invalid("APPEND to a " + typeName(target) + ", expected a list");
        }
        List<Object> list = (List<Object>) raw;
        if ((long) list.size() + items.size() > MAX_CONTAINER) throw PickleError.invalid("list longer than " + MAX_CONTAINER);
        list.addAll(items);
    }

    @SuppressWarnings("unchecked")
    private void setItems(Object target, List<Object> kv) throws PickleError {
        if (target instanceof Inert) return;
        if (!(target instanceof LinkedHashMap<?, ?> raw)) {
            throw PickleError.invalid("SETITEM on a " + typeName(target) + ", expected a dict");
        }
        if (kv.size() % 2 != 0) throw PickleError.invalid("odd number of items for a dict");
        Map<Object, Object> d = (Map<Object, Object>) raw;
        if ((long) d.size() + kv.size() / 2 > MAX_CONTAINER) throw PickleError.invalid("dict larger than " + MAX_CONTAINER);
        for (int i = 0; i < kv.size(); i += 2) {
            Object k = kv.get(i);
            checkKey(k, d);
            d.put(k, kv.get(i + 1));
        }
    }

    /**
     * Python refuses unhashable keys; here the checks also bound the work of hashing and
     * comparing keys (see {@link #MAX_KEY_NODES}, {@link #MAX_UNORDERED_KEYS}), in constant
     * time per key from what {@link PickleTuple} measured when it was built.
     */
    private void checkKey(Object k, Map<Object, Object> d) throws PickleError {
        if (k instanceof List || k instanceof Map) throw PickleError.invalid("unhashable dict key of type " + typeName(k));
        if (k instanceof PickleTuple t) {
            if (t.unhashable() != null) throw PickleError.invalid("unhashable dict key of type " + t.unhashable() + " (inside a tuple)");
            if (t.depth() > MAX_KEY_DEPTH) throw PickleError.invalid("dict key nested deeper than " + MAX_KEY_DEPTH);
            if (t.nodes() > MAX_KEY_NODES) {
                throw PickleError.invalid("dict key is a tuple of more than " + MAX_KEY_NODES + " values counting shared parts"
                        + " (memo references reused as a fan-out; checkpoints key dicts by str or int)");
            }
        }
        boolean ordered = k instanceof Comparable<?> && (d.isEmpty() || k.getClass() == classOfFirstKey(d));
        if (!ordered) unorderedDicts.add(d);
        if (d.size() >= MAX_UNORDERED_KEYS && unorderedDicts.contains(d) && !d.containsKey(k)) {
            throw PickleError.invalid("dict with more than " + MAX_UNORDERED_KEYS + " keys that are tuples or of mixed types");
        }
    }

    private static Class<?> classOfFirstKey(Map<Object, Object> d) {
        Object first = d.keySet().iterator().next();
        return first == null ? null : first.getClass();
    }

    private static PickleTuple tupleArg(Object o, String op) throws PickleError {
        if (o instanceof PickleTuple t) return t;
        throw PickleError.invalid(op + " arguments must be a tuple, got " + typeName(o));
    }

    private void memoPut(long index) throws PickleError {
        if (stack.isEmpty()) throw PickleError.invalid("memo store with an empty stack");
        if (memo.size() >= MAX_MEMO && !memo.containsKey(index)) throw PickleError.invalid("memo larger than " + MAX_MEMO);
        memo.put(index, stack.getLast());
    }

    private Object memoGet(long index) throws PickleError {
        Object v = memo.get(index);
        if (v == null && !memo.containsKey(index)) throw PickleError.invalid("memo entry " + index + " was never stored");
        return v;
    }

    private void push(Object o) throws PickleError {
        if (stack.size() >= MAX_CONTAINER) throw PickleError.invalid("stack deeper than " + MAX_CONTAINER);
        stack.add(o);
    }

    private Object pop() throws PickleError {
        if (stack.isEmpty()) throw PickleError.invalid("stack underflow");
        return stack.removeLast();
    }

    private Object top() throws PickleError {
        if (stack.isEmpty()) throw PickleError.invalid("stack underflow");
        return stack.getLast();
    }

    private List<Object> popMark() throws PickleError {
        if (metastack.isEmpty()) throw PickleError.invalid("no MARK to pop to");
        List<Object> items = stack;
        stack = metastack.removeLast();
        return items;
    }

    private int u8() throws PickleError {
        need(1);
        return data[pos++] & 0xff;
    }

    /** Unsigned little-endian integer of {@code n} bytes (n = 8 may come out negative: callers check). */
    private long le(int n) throws PickleError {
        need(n);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | (data[pos + i] & 0xff);
        pos += n;
        return v;
    }

    private long be8() throws PickleError {
        need(8);
        long v = 0;
        for (int i = 0; i < 8; i++) v = (v << 8) | (data[pos + i] & 0xff);
        pos += 8;
        return v;
    }

    private Object long1() throws PickleError {
        int n = u8();
        need(n);
        byte[] be = new byte[Math.max(n, 1)];
        for (int i = 0; i < n; i++) be[n - 1 - i] = data[pos + i];
        pos += n;
        BigInteger v = new BigInteger(be); // two's complement, as LONG1 stores it
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    /** Checks that {@code n} more bytes exist before anything of that size is allocated. */
    private int need(long n) throws PickleError {
        if (n < 0 || n > data.length - pos) {
            throw PickleError.invalid("pickle truncated: " + Long.toUnsignedString(n) + " bytes needed, "
                    + (data.length - pos) + " left");
        }
        return (int) n;
    }

    private String utf8(int n) {
        String s = new String(data, pos, n, StandardCharsets.UTF_8);
        pos += n;
        return s;
    }

    private byte[] bytes(int n) {
        byte[] b = java.util.Arrays.copyOfRange(data, pos, pos + n);
        pos += n;
        return b;
    }

    /** A newline-terminated ASCII line of GLOBAL. */
    private String line() throws PickleError {
        int start = pos;
        while (pos < data.length && data[pos] != '\n') {
            if (pos - start > MAX_GLOBAL_NAME) throw PickleError.invalid("GLOBAL name longer than " + MAX_GLOBAL_NAME);
            pos++;
        }
        if (pos >= data.length) throw PickleError.invalid("pickle truncated inside GLOBAL");
        String s = new String(data, start, pos - start, StandardCharsets.UTF_8);
        pos++;
        return s;
    }

    static String typeName(Object o) {
        return switch (o) {
            case null -> "None";
            case String s -> "str";
            case Long l -> "int";
            case BigInteger b -> "int";
            case Double d -> "float";
            case Boolean b -> "bool";
            case byte[] b -> "bytes";
            case PickleTuple t -> "tuple";
            case List<?> l -> "list";
            case Map<?, ?> m -> "dict";
            case Inert i -> i.describe();
            // Allow-listed globals name themselves; other resolver objects by their kind only,
            // since printing their contents could make a message as large as the file.
            default -> o instanceof Enum<?> ? o.toString() : o.getClass().getSimpleName();
        };
    }

    private static String[] opcodeNames() {
        String[] n = new String[256];
        String table = "(MARK .STOP 0POP 1POP_MARK 2DUP FFLOAT IINT JBININT KBININT1 LLONG MBININT2 NNONE "
                + "PPERSID QBINPERSID RREDUCE SSTRING TBINSTRING USHORT_BINSTRING VUNICODE XBINUNICODE aAPPEND "
                + "bBUILD cGLOBAL dDICT }EMPTY_DICT eAPPENDS gGET hBINGET iINST jLONG_BINGET lLIST ]EMPTY_LIST "
                + "oOBJ pPUT qBINPUT rLONG_BINPUT sSETITEM tTUPLE )EMPTY_TUPLE uSETITEMS GBINFLOAT BBINBYTES "
                + "CSHORT_BINBYTES";
        for (String s : table.split(" ")) n[s.charAt(0)] = s.substring(1);
        String[] high = {"PROTO", "NEWOBJ", "EXT1", "EXT2", "EXT4", "TUPLE1", "TUPLE2", "TUPLE3", "NEWTRUE",
            "NEWFALSE", "LONG1", "LONG4", "SHORT_BINUNICODE", "BINUNICODE8", "BINBYTES8", "EMPTY_SET", "ADDITEMS",
            "FROZENSET", "NEWOBJ_EX", "STACK_GLOBAL", "MEMOIZE", "FRAME", "BYTEARRAY8", "NEXT_BUFFER",
            "READONLY_BUFFER"};
        for (int i = 0; i < high.length; i++) n[0x80 + i] = high[i];
        return n;
    }
}
