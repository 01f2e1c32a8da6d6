package org.xcit4j.cli;

import java.io.Console;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.io.PrintWriter;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress of long work (many images, big checkpoints) on stderr, never on stdout where
 * results go: a redrawn bar on a terminal (me.tongfei:progressbar), a plain line every few
 * seconds otherwise (logs and pipes should not fill with carriage returns), nothing when quiet.
 */
interface Progress extends AutoCloseable {

    /** How progress is shown. */
    enum Mode {
        QUIET, LINES, BAR;

        /** BAR when stderr is a terminal, LINES when not (a log, a pipe), QUIET if asked. */
        public static Mode auto(boolean quiet) {
            if (quiet) return QUIET;
            return stderrIsTerminal() ? BAR : LINES;
        }

        /**
         * isatty(2) through FFM: results on stdout are often redirected to a file while the
         * user watches stderr, which {@link System#console()} (stdin and stdout) cannot tell.
         * Falls back to the console check where libc's isatty is not found.
         */
        static boolean stderrIsTerminal() {
            try {
                Linker linker = Linker.nativeLinker();
                MemorySegment isatty = linker.defaultLookup().find("isatty").orElse(null);
                if (isatty != null) {
                    MethodHandle h = linker.downcallHandle(isatty, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
                    return (int) h.invokeExact(2) == 1;
                }
            } catch (Throwable e) {
                // no native access (--enable-native-access missing): fall through
            }
            Console c = System.console();
            return c != null && c.isTerminal();
        }
    }

    /** One more unit of work done. */
    void step();

    /** Ends the display (the bar's last state stays; lines mode prints a summary). */
    @Override
    void close();

    /**
     * A progress display for {@code total} units of {@code task}. BAR writes to the process's
     * stderr (the terminal); LINES to {@code err}.
     */
    static Progress start(Mode mode, String task, long total, PrintWriter err) {
        return switch (mode) {
            case QUIET -> new Progress() {
                @Override
                public void step() {
                }

                @Override
                public void close() {
                }
            };
            case LINES -> new Lines(task, total, err);
            case BAR -> new Bar(new ProgressBarBuilder().setTaskName(task).setInitialMax(total)
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(200).showSpeed()
                    .setConsumer(new ConsoleProgressBarConsumer(System.err)).build());
        };
    }

    /** The bar of me.tongfei:progressbar. */
    final class Bar implements Progress {
        private final ProgressBar bar;

        Bar(ProgressBar bar) {
            this.bar = bar;
        }

        @Override
        public void step() {
            bar.step();
        }

        @Override
        public void close() {
            bar.close();
        }
    }

    /** "task: 120/500 (24%), 8.1/s" at most every {@value #INTERVAL_NANOS} ns, and a last line. */
    final class Lines implements Progress {
        static final long INTERVAL_NANOS = 2_000_000_000L;
        private final String task;
        private final long total;
        private final PrintWriter err;
        private long done, first, lastPrint;
        private boolean printed, closed;

        Lines(String task, long total, PrintWriter err) {
            this.task = task;
            this.total = total;
            this.err = err;
        }

        @Override
        public void step() {
            long now = System.nanoTime();
            // The rate counts from the first completed unit: before it come loading and JIT
            // warm-up, which would make every early rate look slow.
            if (done++ == 0) first = lastPrint = now;
            if (now - lastPrint >= INTERVAL_NANOS && done < total) {
                print(now);
                lastPrint = now;
            }
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            // Short runs print nothing at all; long ones end with the totals.
            if (printed) print(System.nanoTime());
        }

        private void print(long now) {
            double s = (now - first) / 1e9;
            err.println(String.format(Locale.ROOT, "xcit: %s %d/%d (%.0f%%), %.1f/s", task, done, total,
                    total == 0 ? 100.0 : 100.0 * done / total, s > 0 ? (done - 1) / s : 0.0));
            err.flush();
            printed = true;
        }
    }
}
