package org.xcit4j.cli;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.Charset;

/**
 * Where the CLI's results go. HotSpot prints a fatal error's banner on file descriptor 1, and
 * no option moves it, so the launcher gives the JVM stderr as fd 1 and the caller's stdout as
 * another descriptor, named by {@code -Dxcit.stdout.fd}; results are written there with
 * write(2). Without the property (java -jar xcit.jar), System.out.
 */
final class Stdout {
    static final String FD_PROPERTY = "xcit.stdout.fd";
    /** write(2)'s errno when the reader has gone ({@code xcit ... | head}). */
    private static final int EPIPE = 32;
    private static volatile boolean readerGone;

    private Stdout() {
    }

    /** The results' writer, flushed at every line. */
    static PrintWriter writer() {
        Integer fd = Integer.getInteger(FD_PROPERTY);
        OutputStream out = fd == null ? System.out : new BufferedOutputStream(new FdOutputStream(fd), 1 << 16);
        return new PrintWriter(new OutputStreamWriter(out, Charset.defaultCharset()), true);
    }

    /**
     * Whether writing failed because the reader closed its end of the pipe: the caller chose
     * to read no more, which is not an error to report (a C tool would die of SIGPIPE, which
     * the JVM ignores).
     */
    static boolean readerGone() {
        return readerGone;
    }

    /** An output stream over a raw file descriptor, which java.io cannot open. */
    private static final class FdOutputStream extends OutputStream {
        private static final int EINTR = 4;
        private static final Linker LINKER = Linker.nativeLinker();
        private static final MemoryLayout STATE = Linker.Option.captureStateLayout();
        private static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        private static final MethodHandle WRITE = LINKER.downcallHandle(LINKER.defaultLookup().find("write").orElseThrow(),
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), Linker.Option.captureCallState("errno"));

        private final int fd;
        private final Arena arena = Arena.ofAuto();
        private final MemorySegment buffer = arena.allocate(1 << 16);
        private final MemorySegment state = arena.allocate(STATE);

        FdOutputStream(int fd) {
            this.fd = fd;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                int n = (int) Math.min(len, buffer.byteSize());
                MemorySegment.copy(b, off, buffer, JAVA_BYTE, 0, n);
                long done = 0;
                while (done < n) {
                    long w;
                    try {
                        w = (long) WRITE.invokeExact(state, fd, buffer.asSlice(done), (long) (n - done));
                    } catch (Throwable t) {
                        throw new IOException("write(2) to descriptor " + fd + " failed: " + t, t);
                    }
                    if (w < 0) {
                        int errno = (int) ERRNO.get(state, 0L);
                        if (errno == EINTR) continue;
                        if (errno == EPIPE) readerGone = true;
                        throw new IOException("write(2) to descriptor " + fd + " failed with errno " + errno);
                    }
                    done += w;
                }
                off += n;
                len -= n;
            }
        }
    }
}
