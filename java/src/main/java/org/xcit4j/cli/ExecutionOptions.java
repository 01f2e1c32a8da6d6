package org.xcit4j.cli;

import org.xcit4j.model.SessionOptions;
import picocli.CommandLine.Option;

/** Session execution options shared by the commands that run the model (a picocli mixin). */
final class ExecutionOptions {
    enum Stream { auto, on, off }

    @Option(names = "--stream", defaultValue = "auto", paramLabel = "MODE",
            description = "Streamed execution (row bands, chunked blocks: activation memory ~ the residual stream): "
                    + "auto (when the full plan exceeds half the available memory), on, off. Default: ${DEFAULT-VALUE}.")
    Stream stream;

    @Option(names = "--band-rows", defaultValue = "0", paramLabel = "ROWS",
            description = "Token-grid rows per band when streaming; 0 = about 1024 tokens per band (256 in the patch embedding).")
    int bandRows;

    SessionOptions options() {
        SessionOptions.Execution e = switch (stream) {
            case auto -> SessionOptions.Execution.AUTO;
            case on -> SessionOptions.Execution.STREAMED;
            case off -> SessionOptions.Execution.FULL;
        };
        return SessionOptions.DEFAULT.withExecution(e).withBandRows(bandRows);
    }
}
