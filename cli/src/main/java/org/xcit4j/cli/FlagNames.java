package org.xcit4j.cli;

import java.util.Map;

/**
 * The library's messages name its API (a {@code Device} constant, a {@code LoadOptions} method);
 * the CLI's users know its flags. Each API term the library's messages use, and the flag that
 * sets the same thing.
 */
final class FlagNames {
    private FlagNames() {
    }

    private static final Map<String, String> FLAGS = Map.ofEntries(
            Map.entry("SessionOptions.Execution.STREAMED", "--stream on"),
            Map.entry("LoadOptions.withTokensNorm", "--tokens-norm true|false"),
            Map.entry("LoadOptions.withModel", "--model"),
            Map.entry("Xcit.denseSession", "--what dense"),
            Map.entry("Device.JAVA", "--device java"),
            Map.entry("Device.CPU", "--device cpu"),
            Map.entry("Device.CUDA", "--device cuda"),
            Map.entry("ClassifierOptions.withSize", "--size"),
            Map.entry("ClassifierOptions.withModel", "--model"),
            Map.entry("ImageDecoder.maxPixels", "--max-pixels"),
            Map.entry("(-Xmx)", "(-Xmx through XCIT_JAVA_OPTS)"),
            Map.entry(": -Xmx)", ": -Xmx through XCIT_JAVA_OPTS)"));

    /** {@code message} with every API term the CLI has a flag for replaced by that flag. */
    static String of(String message) {
        for (Map.Entry<String, String> e : FLAGS.entrySet()) message = message.replace(e.getKey(), e.getValue());
        return message;
    }
}
