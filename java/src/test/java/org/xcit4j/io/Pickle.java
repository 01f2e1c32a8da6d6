package org.xcit4j.io;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Writes pickle opcodes by hand, so tests need no Python to craft hostile or minimal pickles. */
public final class Pickle {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    public static Pickle proto(int protocol) {
        Pickle p = new Pickle();
        return p.op(0x80).op(protocol);
    }

    public Pickle op(int... bytes) {
        for (int b : bytes) out.write(b);
        return this;
    }

    public int offset() {
        return out.size();
    }

    /** GLOBAL: module and name as newline-terminated lines. */
    public Pickle global(String module, String name) {
        op('c');
        out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
        return this;
    }

    /** STACK_GLOBAL from two SHORT_BINUNICODE strings. */
    public Pickle stackGlobal(String module, String name) {
        return str(module).str(name).op(0x93);
    }

    /** SHORT_BINUNICODE. */
    public Pickle str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        op(0x8c, b.length);
        out.writeBytes(b);
        return this;
    }

    /** BININT1 for 0..255, BININT for other 32-bit values, else LONG1 (8 bytes, two's complement). */
    public Pickle integer(long v) {
        if (v >= 0 && v < 256) return op('K', (int) v);
        if (v != (int) v) {
            op(0x8a, 8);
            for (int i = 0; i < 8; i++) out.write((int) (v >>> (8 * i)));
            return this;
        }
        op('J');
        for (int i = 0; i < 4; i++) out.write((int) (v >>> (8 * i)));
        return this;
    }

    public Pickle mark() {
        return op('(');
    }

    public Pickle tuple() {
        return op('t');
    }

    public Pickle emptyDict() {
        return op('}');
    }

    public Pickle emptyTuple() {
        return op(')');
    }

    public Pickle setitem() {
        return op('s');
    }

    public Pickle reduce() {
        return op('R');
    }

    public Pickle stop() {
        return op('.');
    }

    /** A tuple of ints built with MARK ... TUPLE. */
    public Pickle ints(long... values) {
        mark();
        for (long v : values) integer(v);
        return tuple();
    }

    /**
     * {@code torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())}
     * with the storage as torch's persistent id ('storage', torch.<type>, key, 'cpu', numel).
     */
    public Pickle tensor(String storageType, String key, long numel, long offset, long[] size, long[] stride) {
        global("torch._utils", "_rebuild_tensor_v2").mark();
        mark().str("storage").global("torch", storageType).str(key).str("cpu").integer(numel).tuple().op('Q');
        integer(offset).ints(size).ints(stride).op(0x89);
        global("collections", "OrderedDict").emptyTuple().reduce();
        return tuple().reduce();
    }

    /**
     * A dict whose key is a tuple of 4 references to the tuple below, {@code levels} deep
     * (4^levels paths in levels * 12 bytes of pickle, the memo fan-out of issue 14), once per
     * tree; {@code trees} such keys built from separate leaves, so that comparing them for
     * equality would walk every path too. Each tree's tuples are also kept in a list value.
     */
    public static Pickle fanOutKeys(int levels, int trees) {
        Pickle p = proto(2).op('}');
        int memo = 0;
        for (int t = 0; t < trees; t++) {
            p.str("junk" + t).mark().str("leaf").op('q', memo);
            for (int l = 1; l <= levels; l++) {
                p.mark().op('h', memo, 'h', memo, 'h', memo, 'h', memo).tuple().op('q', ++memo);
            }
            memo++;
            p.op('l').setitem(); // dict["junk<t>"] = [leaf, t1, ..., tN]: values are never hashed
            p.op('h', memo - 1).str("v").setitem();
        }
        return p.stop();
    }

    public byte[] bytes() {
        return out.toByteArray();
    }
}
