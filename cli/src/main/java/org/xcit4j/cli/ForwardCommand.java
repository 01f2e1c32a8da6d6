package org.xcit4j.cli;

import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.Backends;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.io.Npy;
import org.xcit4j.io.Npz;
import org.xcit4j.model.DenseOptions;
import org.xcit4j.model.DenseSession;
import org.xcit4j.model.LoadOptions;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.tensor.NonFinite;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code xcit forward}: one forward pass from a .npy input to a .npy (or, for dense maps, .npz) output. */
@Command(name = "forward", mixinStandardHelpOptions = true,
        description = "Run the model on an already normalised float32 (B, 3, H, W) .npy and write one output.")
final class ForwardCommand implements Callable<Integer> {

    enum What {
        logits, features, tokens, dense, cls_attn;

        static What parse(String s) {
            return valueOf(s.replace('-', '_'));
        }
    }

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--weights", required = true, paramLabel = "FILE",
            description = "Checkpoint: timm .safetensors, a torch .pth (timm or original naming), or an mmseg/mmdet .pth.")
    Path weights;

    @Option(names = "--model", paramLabel = "NAME",
            description = "Zoo name (e.g. xcit_small_12_p16_224); optional, checked against the checkpoint.")
    String model;

    @Option(names = "--tokens-norm", paramLabel = "BOOL", arity = "1",
            description = "Class-attention norm of every row (true) or only cls (false); default: from the zoo.")
    Boolean tokensNorm;

    @Option(names = "--input", required = true, paramLabel = "X.npy", description = "float32 (B, 3, H, W), normalised.")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "Y.npy",
            description = "Where to write the float32 result (.npy; .npz for --what dense).")
    Path output;

    @Option(names = "--what", defaultValue = "logits", paramLabel = "KIND", converter = WhatConverter.class,
            description = "logits (B, classes), features (B, C), tokens (B, N, C), cls-attn (B, heads, Hp, Wp): the last "
                    + "class-attention block's cls->patch weights, or dense: a .npz of stride4, stride8, stride16, stride32 "
                    + "(B, C, h, w). Default: ${DEFAULT-VALUE}.")
    What what;

    @Option(names = "--out-indices", split = ",", paramLabel = "I,J,K,L",
            description = "For --what dense: the blocks feeding strides 4..32; default [3,5,7,11] (depth 12), "
                    + "[7,11,15,23] (depth 24), ceil(depth * (1/3, 1/2, 2/3, 1)) - 1 otherwise.")
    List<Integer> outIndices;

    @Mixin
    ExecutionOptions execution;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "DEVICE",
            description = "auto, java, cpu or cuda. Default: ${DEFAULT-VALUE}.")
    String device;

    static final class WhatConverter implements picocli.CommandLine.ITypeConverter<What> {
        @Override
        public What convert(String value) {
            try {
                return What.parse(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException("expected one of logits, features, tokens, cls-attn, dense, got '" + value + "'");
            }
        }
    }

    @Override
    public Integer call() throws Exception {
        Device dev = Device.parse(device);
        Precision precision = execution.precision(dev, spec);
        PrintWriter err = spec.commandLine().getErr();
        boolean npz = output.getFileName().toString().endsWith(".npz");
        if ((what == What.dense) != npz) {
            throw new IllegalArgumentException(what == What.dense ? "--what dense writes several arrays: give an --output ending in .npz"
                    : "--what " + what.name().replace('_', '-') + " writes one array: give an --output ending in .npy, not .npz");
        }
        if (outIndices != null && what != What.dense) throw new IllegalArgumentException("--out-indices applies to --what dense only");
        try (Arena arena = Arena.ofConfined()) {
            Shape shape = Npy.readShape(input);
            if (shape.rank() != 4 || shape.dim(1) != 3 || shape.numel() == 0) {
                throw new IllegalArgumentException(input + ": expected a float32 array of shape (B, 3, H, W), got " + shape);
            }
            Tensor x = Npy.read(input, arena);
            LoadOptions options = LoadOptions.DEFAULT.withModel(model).withTokensNorm(tokensNorm);
            try (Xcit net = Xcit.load(weights, options);
                 Backend backend = Backends.open(dev, 0, precision, note -> err.println("xcit: " + note))) {
                // Notes go out once the session exists, so a failing command prints only its error line.
                int b = shape.size(0), h = shape.size(2), w = shape.size(3);
                if (what == What.dense) {
                    DenseOptions dense = outIndices == null ? DenseOptions.DEFAULT : new DenseOptions(outIndices);
                    try (DenseSession session = net.denseSession(backend, b, h, w, dense, execution.options())) {
                        net.notes().forEach(n -> err.println("xcit: note: " + n));
                        net.warnings().forEach(n -> err.println("xcit: warning: " + n));
                        session.missing().forEach(m -> err.println("xcit: note: not written: " + m));
                        var maps = session.run(x).present();
                        maps.forEach((name, t) -> warnIfNotFinite(err, name, t));
                        Npz.write(output, maps);
                    }
                    return 0;
                }
                if (what == What.logits && net.hasClassifier() && net.config().numClasses() == 0) {
                    throw new IllegalArgumentException(weights + ": the checkpoint has no classifier head; use --what features or tokens");
                }
                try (Session session = net.session(backend, b, h, w, execution.options())) {
                    net.notes().forEach(n -> err.println("xcit: note: " + n));
                    net.warnings().forEach(n -> err.println("xcit: warning: " + n));
                    Session.Outputs out = session.run(x);
                    Tensor y = switch (what) {
                        case logits -> out.logits();
                        case features -> out.features();
                        case tokens -> out.tokens();
                        case cls_attn -> out.clsAttention();
                        case dense -> throw new AssertionError();
                    };
                    warnIfNotFinite(err, what.name().replace('_', '-'), y);
                    Npy.write(output, y);
                }
            }
        }
        return 0;
    }

    /** The output is still written (it is what the model computed), with a line naming what is not finite. */
    private static void warnIfNotFinite(PrintWriter err, String name, Tensor t) {
        NonFinite n = NonFinite.of(t);
        if (n.any()) err.println("xcit: warning: output '" + name + "' " + n.describe() + " (non-finite weights or input?)");
    }
}
