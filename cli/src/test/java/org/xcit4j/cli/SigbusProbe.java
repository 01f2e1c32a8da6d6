package org.xcit4j.cli;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Crashes the JVM the way a run does when its weights file is truncated under it: native code
 * (here libc's memcpy, in a run a C kernel or oneDNN) reads a mapping whose file has shrunk,
 * and the kernel answers with SIGBUS. For {@link CrashBannerTest}, in a JVM of its own.
 */
public final class SigbusProbe {
    private SigbusProbe() {
    }

    public static void main(String[] args) throws Throwable {
        // A result first, written the way the CLI writes its results: it must reach the caller's stdout.
        Stdout.writer().println("a result before the crash");
        Path file = Path.of(args[0]);
        int bytes = 1 << 20;
        Files.write(file, new byte[bytes]);
        Linker linker = Linker.nativeLinker();
        MethodHandle memcpy = linker.downcallHandle(linker.defaultLookup().find("memcpy").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
             Arena arena = Arena.ofConfined()) {
            MemorySegment weights = ch.map(FileChannel.MapMode.READ_ONLY, 0, bytes, arena);
            ch.truncate(0);
            MemorySegment copy = arena.allocate(bytes);
            MemorySegment ignored = (MemorySegment) memcpy.invokeExact(copy, weights, (long) bytes);
        }
        System.out.println("survived: the mapping did not fault");
    }
}
