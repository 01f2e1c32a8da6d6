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

    @Override
    public void run() {
        throw new CommandLine.ParameterException(new CommandLine(this), "missing command: try 'xcit --help'");
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI and returns the exit code: 0 ok, 1 failure, 2 bad usage. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
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
        return cli.execute(args);
    }

    private static boolean isVerbose(CommandLine cl) {
        for (CommandLine c = cl; c != null; c = c.getParent()) {
            if (c.getCommand() instanceof Main m) return m.verbose;
            if (c.getParseResult() != null && c.getParseResult().hasMatchedOption("--verbose")) return true;
        }
        return false;
    }

    /** A message for humans: the exception's own text, or its type when it has none. */
    static String oneLine(Throwable e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) m = e.getClass().getSimpleName();
        if (e instanceof java.nio.file.NoSuchFileException) m = "no such file: " + m;
        if (e instanceof OutOfMemoryError) m = "out of memory (" + m + "); raise -Xmx through XCIT_JAVA_OPTS";
        return m.replace('\n', ' ');
    }
}
