package org.xcit4j.cli;

import java.util.function.Supplier;
import org.xcit4j.backend.Backends;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.backend.cpu.CpuInfo;
import org.xcit4j.model.SessionOptions;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * Session execution options shared by the commands that run the model (a picocli mixin):
 * the precision, and streaming. Commands that never stream (classify, selftest) mix in
 * {@link PrecisionOption} alone.
 */
final class ExecutionOptions {
    enum Stream { auto, on, off }

    @Mixin
    PrecisionOption precision;

    @Option(names = "--stream", defaultValue = "auto", paramLabel = "MODE",
            description = "Streamed execution (row bands, chunked blocks: activation memory ~ the residual stream): "
                    + "auto (when the full plan exceeds half the available memory), on, off. Default: ${DEFAULT-VALUE}.")
    Stream stream;

    @Option(names = "--band-rows", defaultValue = "0", paramLabel = "ROWS",
            description = "Token-grid rows per band when streaming; 0 = about 1024 tokens per band (256 in the patch embedding).")
    int bandRows;

    /** The precision, checked against {@code device} (see {@link PrecisionOption#on}). */
    Precision precision(Device device, CommandSpec command) {
        return precision.on(device, command);
    }

    SessionOptions options() {
        SessionOptions.Execution e = switch (stream) {
            case auto -> SessionOptions.Execution.AUTO;
            case on -> SessionOptions.Execution.STREAMED;
            case off -> SessionOptions.Execution.FULL;
        };
        return SessionOptions.DEFAULT.withExecution(e).withBandRows(bandRows);
    }

    /**
     * {@code --precision fp32|tf32|fp16|bf16}. What each device computes in: java fp32 only
     * (the reference); cpu fp32, and bf16 where the CPU has avx512_bf16; cuda all four. A
     * precision the device cannot do is refused as a usage error naming both options, before
     * any model is loaded, never silently replaced (timings and accuracy would lie).
     */
    static final class PrecisionOption {
        @Option(names = "--precision", defaultValue = "fp32", paramLabel = "P",
                description = "Arithmetic: fp32, tf32, fp16 or bf16. cuda: all four; cpu: fp32, bf16 (CPUs with avx512_bf16); "
                        + "java: fp32. Default: ${DEFAULT-VALUE}.")
        String value;

        /** The precision, or a usage error of {@code command} (exit 2, one line) where {@code device} cannot compute in it. */
        Precision on(Device device, CommandSpec command) {
            Precision p;
            try {
                p = Precision.parse(value);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(command.commandLine(), "--precision: " + e.getMessage());
            }
            String refusal = refusal(device, p, CpuInfo.detect(), Backends::cudaUnavailableReason);
            if (refusal != null) throw new ParameterException(command.commandLine(), refusal);
            return p;
        }

        /**
         * Why {@code device} cannot compute in {@code p}, as one line naming --precision and
         * --device, or null when it can. {@code auto} picks cuda when it is available, else
         * the cpu (whose rules then apply); {@code cudaReason} gives null when cuda is available.
         */
        static String refusal(Device device, Precision p, CpuInfo cpu, Supplier<String> cudaReason) {
            String why = switch (device) {
                case JAVA -> p == Precision.FP32 ? null : "the Java reference computes in fp32 only";
                case CPU -> cpuRefusal(p, cpu);
                case CUDA -> null;
                case AUTO -> {
                    String cpuWhy = p == Precision.FP32 ? null : cpuRefusal(p, cpu);
                    String cuda = cpuWhy == null ? null : cudaReason.get();
                    yield cuda == null ? null : "cuda is not available (" + cuda + ") and " + cpuWhy;
                }
            };
            return why == null ? null : "--precision " + p + " is not available on --device " + device + ": " + why;
        }

        private static String cpuRefusal(Precision p, CpuInfo cpu) {
            return switch (p) {
                case FP32 -> null;
                case TF32, FP16 -> "the cpu computes in fp32 or bf16 (" + p + " is a cuda mode)";
                case BF16 -> cpu.has("avx512_bf16") ? null
                        : "bf16 on the cpu needs avx512_bf16, which this CPU lacks (it has: " + cpu.relevantFlags() + ")";
            };
        }
    }
}
