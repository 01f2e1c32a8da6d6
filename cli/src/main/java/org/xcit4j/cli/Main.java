package org.xcit4j.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The {@code xcit} command: subcommands for inference and diagnostics. */
@Command(name = "xcit", mixinStandardHelpOptions = true, version = "xcit4j 0.1.0",
        description = "XCiT (Cross-Covariance Image Transformer) inference on the JVM.",
        subcommands = {ClassifyCommand.class, ForwardCommand.class, ExplainCommand.class, BenchCommand.class, InfoCommand.class,
                SelftestCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    /** Shared by every subcommand: full stack traces on error. */
    @Option(names = "--verbose", description = "Print stack traces on errors.", scope = CommandLine.ScopeType.INHERIT)
    boolean verbose;

    /** The top-level command, for picocli. */
    public Main() {
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(new CommandLine(this), "missing command: try 'xcit --help'");
    }

    /**
     * Runs the CLI on the process's streams and exits with its code.
     *
     * @param args the command line
     */
    public static void main(String[] args) {
        System.exit(run(args, Stdout.writer(), new PrintWriter(System.err, true)));
    }

    /**
     * Runs the CLI and returns the exit code: 0 ok, 1 failure, 2 bad usage.
     *
     * @param args the command line
     * @param out  receives the results
     * @param err  receives notes, progress and errors
     * @return the exit code
     */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        return run(new CommandLine(new Main()), args, out, err);
    }

    /** {@link #run(String[], PrintWriter, PrintWriter)} on a given command tree (tests add commands to it). */
    static int run(CommandLine cli, String[] args, PrintWriter out, PrintWriter err) {
        cli.setOut(out).setErr(err);
        cli.setParameterExceptionHandler((e, a) -> {
            err.println("xcit: " + e.getMessage());
            if (isVerbose(e.getCommandLine())) e.printStackTrace(err);
            return 2;
        });
        cli.setExecutionExceptionHandler((e, commandLine, parsed) -> {
            err.println("xcit: " + oneLine(e));
            if (isVerbose(commandLine)) e.printStackTrace(err);
            return 1;
        });
        int code;
        try {
            code = cli.execute(args);
        } catch (Error e) {
            // picocli hands only Exceptions to the handler above: out of memory, a stack overflow
            // or a fault in mapped memory arrive here, and must still be one line.
            String command = String.join(" ", args);
            err.println("xcit: " + oneLine(e) + " (in: xcit " + (command.length() > 300 ? command.substring(0, 300) + "..." : command) + ")");
            if (java.util.Arrays.asList(args).contains("--verbose")) e.printStackTrace(err);
            code = 1;
        }
        // PrintWriter keeps write errors to itself: results that could not be written (a full
        // disk, '> /dev/full', a closed pipe) must not end in exit status 0.
        if (out.checkError()) {
            // A closed pipe (| head) ends the run like the SIGPIPE a C tool would die of: quietly, 128 + 13.
            if (Stdout.readerGone()) return 141;
            err.println("xcit: cannot write to standard output (disk full?): results were lost");
            return code == 0 ? 1 : code;
        }
        return code;
    }

    private static boolean isVerbose(CommandLine cl) {
        for (CommandLine c = cl; c != null; c = c.getParent()) {
            if (c.getCommand() instanceof Main m) return m.verbose;
            if (c.getParseResult() != null && c.getParseResult().hasMatchedOption("--verbose")) return true;
        }
        return false;
    }

    /** A message for humans: the exception's own text (API terms as the CLI's flags), or its type when it has none. */
    static String oneLine(Throwable e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) m = e.getClass().getSimpleName();
        if (e instanceof java.nio.file.NoSuchFileException) m = "no such file: " + m;
        if (e instanceof OutOfMemoryError) m = "out of memory (" + m + "); raise -Xmx through XCIT_JAVA_OPTS";
        if (e instanceof StackOverflowError) m = "stack overflow (input nested too deeply?); raise -Xss through XCIT_JAVA_OPTS";
        if (e instanceof InternalError && m.contains("unsafe memory access")) {
            m += " (a memory-mapped file, such as the weights, was truncated or changed while in use)";
        }
        return FlagNames.of(m).replace('\n', ' ');
    }
}
