package org.xcit4j.io;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Writes pickle opcodes by hand, so tests need no Python to craft hostile or minimal pickles. */
final class Pickle {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    static Pickle proto(int protocol) {
        Pickle p = new Pickle();
        return p.op(0x80).op(protocol);
    }

    Pickle op(int... bytes) {
        for (int b : bytes) out.write(b);
        return this;
    }

    int offset() {
        return out.size();
    }

    /** GLOBAL: module and name as newline-terminated lines. */
    Pickle global(String module, String name) {
        op('c');
        out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
        return this;
    }

    /** STACK_GLOBAL from two SHORT_BINUNICODE strings. */
    Pickle stackGlobal(String module, String name) {
        return str(module).str(name).op(0x93);
    }

    /** SHORT_BINUNICODE. */
    Pickle str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        op(0x8c, b.length);
        out.writeBytes(b);
        return this;
    }

    /** BININT1 for 0..255, else BININT. */
    Pickle integer(long v) {
        if (v >= 0 && v < 256) return op('K', (int) v);
        op('J');
        for (int i = 0; i < 4; i++) out.write((int) (v >>> (8 * i)));
        return this;
    }

    Pickle mark() {
        return op('(');
    }

    Pickle tuple() {
        return op('t');
    }

    Pickle emptyDict() {
        return op('}');
    }

    Pickle emptyTuple() {
        return op(')');
    }

    Pickle setitem() {
        return op('s');
    }

    Pickle reduce() {
        return op('R');
    }

    Pickle stop() {
        return op('.');
    }

    /** A tuple of ints built with MARK ... TUPLE. */
    Pickle ints(long... values) {
        mark();
        for (long v : values) integer(v);
        return tuple();
    }

    /**
     * {@code torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())}
     * with the storage as torch's persistent id ('storage', torch.<type>, key, 'cpu', numel).
     */
    Pickle tensor(String storageType, String key, long numel, long offset, long[] size, long[] stride) {
        global("torch._utils", "_rebuild_tensor_v2").mark();
        mark().str("storage").global("torch", storageType).str(key).str("cpu").integer(numel).tuple().op('Q');
        integer(offset).ints(size).ints(stride).op(0x89);
        global("collections", "OrderedDict").emptyTuple().reduce();
        return tuple().reduce();
    }

    byte[] bytes() {
        return out.toByteArray();
    }
}
