package org.xcit4j.backend.cpu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * A read-only float32 tensor of zeros that occupies no memory: a private anonymous mapping
 * that is never written, so every read maps the kernel's shared zero page. CpuBackend's dry
 * walk of a forward reads its input through one, so preparing a session for a 4096 x 4096
 * image does not cost a second 201 MB input.
 */
final class UnbackedTensor implements AutoCloseable {
    private static final int PROT_READ = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
    private static final MethodHandle MMAP, MUNMAP;

    static {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        MMAP = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                ValueLayout.JAVA_LONG));
        MUNMAP = linker.downcallHandle(libc.find("munmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    }

    private final MemorySegment mapping;
    final Tensor tensor;

    UnbackedTensor(Shape shape) {
        long bytes = Math.max(shape.numel() * Float.BYTES, 1);
        MemorySegment address;
        try {
            address = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                    -1, 0L);
        } catch (Throwable e) {
            throw new IllegalStateException("mmap of " + bytes + " bytes failed", e);
        }
        if (address.address() == -1L) throw new OutOfMemoryError("mmap of " + bytes + " bytes (address space) failed");
        mapping = address.reinterpret(bytes).asReadOnly();
        tensor = Tensor.wrap(mapping.asSlice(0, shape.numel() * Float.BYTES), shape);
    }

    @Override
    public void close() {
        try {
            int rc = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(mapping.address()), mapping.byteSize());
            if (rc != 0) throw new IllegalStateException("munmap failed");
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }
}
