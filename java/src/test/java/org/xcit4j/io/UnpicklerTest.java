package org.xcit4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The pickle VM on hand-written opcode streams; the torch allow-list is the resolver. */
class UnpicklerTest {
    private static final Path FILE = Path.of("model.pth");

    private static Object load(byte[] pickle) throws CheckpointException {
        return new Unpickler(FILE, "archive/data.pkl", pickle, new TorchPickle(key -> -1)).load();
    }

    @Test
    void buildsPrimitivesAndContainers() throws CheckpointException {
        Pickle p = Pickle.proto(2).op('}').op('q', 0).mark()
                .str("ints").op(']').mark().integer(7).op('J', 0xfe, 0xff, 0xff, 0xff).op('M', 0x34, 0x12)
                .op(0x8a, 1, 0xff).op(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1).op(0x8a, 0).op('e')
                .str("float").op('G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0)
                .str("flags").op('N', 0x88, 0x89, 0x87)
                .str("bytes").op('C', 2, 'h', 'i')
                .str("long").op('X', 3, 0, 0, 0).op('a', 'b', 'c')
                .str("old").op('U', 2, 'o', 'k')
                .str("nested").mark().integer(1).op(0x85).op(0x94).op(']', 'h', 0, 'a').tuple()
                .str("again").op('h', 1)
                .op('u').stop();
        Object root = load(p.bytes());
        Map<?, ?> d = (Map<?, ?>) root;
        assertEquals(List.of("ints", "float", "flags", "bytes", "long", "old", "nested", "again"), List.copyOf(d.keySet()));
        assertEquals(List.of(7L, -2L, 0x1234L, -1L, BigInteger.ONE.shiftLeft(64), 0L), d.get("ints"));
        assertEquals(1.5, d.get("float"));
        PickleTuple flags = (PickleTuple) d.get("flags");
        assertNull(flags.get(0));
        assertEquals(List.of(true, false), flags.items().subList(1, 3));
        assertArrayEquals("hi".getBytes(), (byte[]) d.get("bytes"));
        assertEquals("abc", d.get("long"));
        assertEquals("ok", d.get("old"));
        // ((1,), [root]): the tuple is memoised (MEMOIZE) and fetched again under "again"; the list
        // holds the root dict itself (BINGET 0), as a self-referencing pickle would.
        PickleTuple nested = (PickleTuple) d.get("nested");
        assertEquals(new PickleTuple(List.of(1L)), nested.get(0));
        @SuppressWarnings("unchecked")
        List<Object> selfRef = (List<Object>) nested.get(1);
        assertSame(root, selfRef.getFirst());
        assertSame(nested.get(0), d.get("again"));
    }

    @Test
    void namespaceAndOrderedDictAreInertRecords() throws CheckpointException {
        Pickle p = Pickle.proto(2).op('}').str("args").global("argparse", "Namespace").emptyTuple().op(0x81)
                .op('}').str("lr").op('G', 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a).setitem().op('b').setitem()
                .str("od").global("collections", "OrderedDict").emptyTuple().reduce()
                .op('}').str("_metadata").op('}').setitem().op('b').setitem().stop();
        Map<?, ?> d = (Map<?, ?>) load(p.bytes());
        assertEquals(new TorchPickle.Namespace(new LinkedHashMap<>(Map.of("lr", 0.1))), d.get("args"));
        assertEquals(Map.of(), d.get("od"), "an OrderedDict's BUILD state is attributes, not items");
    }

    @ParameterizedTest
    @CsvSource({"os,system", "builtins,eval", "posix,system", "subprocess,Popen", "builtins,getattr",
        "torch,load", "__builtin__,exec", "torch._utils,_rebuild_tensor"})
    void refusesGlobalsOutsideTheAllowList(String module, String name) {
        byte[] viaGlobal = Pickle.proto(2).global(module, name).str("x").op(0x85).reduce().stop().bytes();
        var e = assertThrows(UnsafePickleException.class, () -> load(viaGlobal));
        assertEquals("model.pth: refusing to unpickle global '" + module + "." + name + "' (only tensors, storages, "
                + "ordered dicts and primitives are allowed) [archive/data.pkl byte 2]", e.getMessage());
        byte[] viaStack = Pickle.proto(4).stackGlobal(module, name).str("x").op(0x85).reduce().stop().bytes();
        var s = assertThrows(UnsafePickleException.class, () -> load(viaStack));
        assertTrue(s.getMessage().contains("refusing to unpickle global '" + module + "." + name + "'"), s.getMessage());
    }

    @Test
    void refusesCallsOfNonConstructors() {
        // REDUCE on a plain string, NEWOBJ of a storage type: no path from data to a call.
        byte[] str = Pickle.proto(2).str("os.system").emptyTuple().reduce().stop().bytes();
        assertTrue(assertThrows(UnsafePickleException.class, () -> load(str)).getMessage().contains("refusing to call a str"));
        byte[] newobj = Pickle.proto(2).global("torch", "FloatStorage").emptyTuple().op(0x81).stop().bytes();
        assertTrue(assertThrows(UnsafePickleException.class, () -> load(newobj)).getMessage()
                .contains("refusing NEWOBJ of torch.FloatStorage"));
    }

    @ParameterizedTest
    @CsvSource({"0x69,INST", "0x92,NEWOBJ_EX", "0x50,PERSID", "0x8f,EMPTY_SET", "0x30,POP", "0x82,EXT1", "0xff,"})
    void refusesUnsupportedOpcodesWithTheirOffset(String hex, String name) {
        int op = Integer.decode(hex);
        byte[] pickle = Pickle.proto(2).op('}').op(op).stop().bytes();
        var e = assertThrows(CheckpointException.class, () -> load(pickle));
        String expected = "model.pth: unsupported pickle opcode 0x" + String.format("%02x", op)
                + (name == null ? "" : " (" + name + ")") + " [archive/data.pkl byte 3]";
        assertEquals(expected, e.getMessage());
    }

    @Test
    void refusesStructuralNonsense() {
        assertMessage(Pickle.proto(2).op('X', 0xff, 0xff, 0xff, 0x7f).stop(), "pickle truncated: 2147483647 bytes needed");
        assertMessage(Pickle.proto(2).op(0x8d, 0, 0, 0, 0, 0, 0, 0, 0x80), "pickle truncated");
        assertMessage(Pickle.proto(2).op('}'), "pickle ends without a STOP opcode");
        assertMessage(Pickle.proto(2).stop(), "stack underflow [archive/data.pkl byte 2]");
        assertMessage(Pickle.proto(2).op('h', 5).stop(), "memo entry 5 was never stored");
        assertMessage(Pickle.proto(2).op('t'), "no MARK to pop to");
        assertMessage(Pickle.proto(2).op(']').op('}').op('s'), "stack underflow");
        assertMessage(Pickle.proto(2).op('}').op(']').integer(1).op('s'), "unhashable dict key of type list");
        assertMessage(Pickle.proto(2).integer(3).integer(1).op('a'), "APPEND to a int, expected a list");
        assertMessage(Pickle.proto(6), "pickle protocol 6 is not supported");
        assertMessage(Pickle.proto(2).op('c').op('o', 's'), "pickle truncated inside GLOBAL");
        // A list inside a tuple key (unhashable in Python; cyclic lists would overflow Java's hashCode).
        assertMessage(Pickle.proto(2).op('}').op(']').op(0x85).integer(1).op('s'), "unhashable dict key of type list");
        Pickle deep = Pickle.proto(2).op('}').integer(1);
        for (int i = 0; i < 10_000; i++) deep.op(0x85);
        assertMessage(deep.integer(1).op('s'), "dict key nested deeper than 32");
        assertMessage(Pickle.proto(2).global("collections", "OrderedDict").op(']').op(0x85).reduce(),
                "OrderedDict is only supported without arguments");
    }

    @Test
    void bigContainersAreBoundedByThePickleSize() throws CheckpointException {
        // 100k appends of one memoised item: memory grows with the pickle, nothing more.
        Pickle p = Pickle.proto(2).op(']').str("x").op('q', 1).op('a');
        for (int i = 0; i < 100_000; i++) p.op('h', 1, 'a');
        List<?> l = (List<?>) load(p.stop().bytes());
        assertEquals(100_001, l.size());
        assertEquals(new ArrayList<>(List.of("x", "x")), new ArrayList<>(l.subList(0, 2)));
    }

    @Test
    void memoFanOutKeysAreRefusedWithoutWalkingTheirPaths() {
        // 4^24 paths: hashing or comparing them path by path would take days (it did: issue 14).
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            assertMessage(Pickle.fanOutKeys(24, 1), "dict key is a tuple of more than 1024 values counting shared parts");
            assertMessage(Pickle.fanOutKeys(24, 2), "dict key is a tuple of more than 1024 values counting shared parts");
        });
        // Fan-out that stays small is an ordinary key: 4^4 = 256 leaves.
        Map<?, ?> small = (Map<?, ?>) assertDoesNotThrow(() -> load(Pickle.fanOutKeys(4, 2).bytes()));
        assertEquals(3, small.size(), "two equal tuple keys are one entry, beside the two lists");
    }

    @Test
    void dictsOfKeysHashMapCannotOrderAreBounded() throws CheckpointException {
        // Java's HashMap keeps colliding keys of one comparable type in a tree, but tuples and
        // mixed types in a list: crafted collisions would cost quadratic time, so such dicts stay small.
        Pickle strings = Pickle.proto(2).op('}');
        for (int i = 0; i < 5000; i++) strings.str("k" + i).integer(i).setitem();
        assertEquals(5000, ((Map<?, ?>) load(strings.stop().bytes())).size());
        Pickle mixed = Pickle.proto(2).op('}').integer(1).integer(1).setitem();
        for (int i = 0; i < Unpickler.MAX_UNORDERED_KEYS; i++) mixed.str("k" + i).integer(i).setitem();
        assertMessage(mixed, "dict with more than 1024 keys that are tuples or of mixed types");
        Pickle tuples = Pickle.proto(2).op('}');
        for (int i = 0; i <= Unpickler.MAX_UNORDERED_KEYS; i++) tuples.str("k" + i).op(0x85).integer(i).setitem();
        assertMessage(tuples, "dict with more than 1024 keys that are tuples or of mixed types");
    }

    @Test
    void aSelfContainingListInsideATupleValueIsNotHashed() throws CheckpointException {
        // [L] with L appended to itself, inside a tuple that is a dict value: building the tuple
        // must not hash its items (List.hashCode of a cycle never returns).
        byte[] p = Pickle.proto(2).op('}').str("t").op(']', 'q', 1, 'h', 1, 'a').op(0x85).setitem().stop().bytes();
        Map<?, ?> d = (Map<?, ?>) load(p);
        assertTrue(d.get("t") instanceof PickleTuple);
    }

    private static void assertMessage(Pickle p, String fragment) {
        var e = assertThrows(CheckpointException.class, () -> load(p.bytes()));
        assertTrue(e.getMessage().startsWith("model.pth: "), e.getMessage());
        assertTrue(e.getMessage().contains(fragment), () -> "expected '" + fragment + "' in: " + e.getMessage());
    }
}
