package org.xcit4j.backend.cuda;

import org.xcit4j.backend.Precision;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.xcit4j.backend.NativeContext;
import org.xcit4j.bindings.xcit.xcit_cuda_h;

/**
 * Calls libxcit_cuda's typed entries by op name and storage type ("layernorm" + FP16 ->
 * xcit_cuda_layernorm_f16) through the bindings' method handles, and turns a status into
 * an exception with the ctx's text. Dynamic invocation costs microseconds per call, which
 * is paid only while a session is prepared and captured: replays of the CUDA graph never
 * come back to Java.
 */
final class Ops {
    private static final ConcurrentMap<String, MethodHandle> HANDLES = new ConcurrentHashMap<>();

    private Ops() {
    }

    /** xcit_cuda_{op}_{suffix}(ctx, args...), checked. Arguments: MemorySegment, long, int or float. */
    public static void call(NativeContext ctx, String op, Precision precision, Object... args) {
        String name = "xcit_cuda_" + op + "_" + precision.suffix();
        MethodHandle h = HANDLES.computeIfAbsent(name, Ops::lookup);
        List<Object> all = new ArrayList<>(args.length + 1);
        all.add(ctx.handle());
        all.addAll(List.of(args));
        int status;
        try {
            status = (int) h.invokeWithArguments(all);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(name + ": " + t, t);
        }
        ctx.check(status, name);
    }

    /** xcit_cuda_convert on the ctx's stream. */
    static void convert(MemorySegment ctx, MemorySegment out, int outType, MemorySegment in, int inType, long count) {
        checked(ctx, xcit_cuda_h.xcit_cuda_convert(ctx, out, outType, in, inType, count), "xcit_cuda_convert");
    }

    /** xcit_cuda_convert_many on the ctx's stream: n device pointers in out and in (host arrays), to fp32. */
    static void convertMany(MemorySegment ctx, int n, MemorySegment out, MemorySegment in, int inType, MemorySegment counts) {
        checked(ctx, xcit_cuda_h.xcit_cuda_convert_many(ctx, n, out, xcit_cuda_h.XCIT_CUDA_F32(), in, inType, counts),
                "xcit_cuda_convert_many");
    }

    private static void checked(MemorySegment ctx, int status, String name) {
        if (status != 0) {
            throw new CudaException(name + " failed (status " + status + "): "
                    + org.xcit4j.bindings.xcit.xcit_h.xcit_ctx_last_error(ctx).getString(0));
        }
    }

    private static MethodHandle lookup(String name) {
        try {
            return (MethodHandle) xcit_cuda_h.class.getMethod(name + "$handle").invoke(null);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("no binding " + name + " in xcit_cuda_h", e);
        }
    }
}
