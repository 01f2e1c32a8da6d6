package org.xcit4j.cli;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.Backends;
import org.xcit4j.backend.Device;
import org.xcit4j.io.Npy;
import org.xcit4j.model.LoadOptions;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code xcit forward}: one forward pass from a .npy input to a .npy output. */
@Command(name = "forward", mixinStandardHelpOptions = true,
        description = "Run the model on an already normalised float32 (B, 3, H, W) .npy and write one output as .npy.")
final class ForwardCommand implements Callable<Integer> {

    enum What { logits, features, tokens }

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--weights", required = true, paramLabel = "FILE",
            description = "Checkpoint: timm .safetensors, or a torch .pth (timm or original naming).")
    Path weights;

    @Option(names = "--model", paramLabel = "NAME",
            description = "Zoo name (e.g. xcit_small_12_p16_224); optional, checked against the checkpoint.")
    String model;

    @Option(names = "--tokens-norm", paramLabel = "BOOL", arity = "1",
            description = "Class-attention norm of every row (true) or only cls (false); default: from the zoo.")
    Boolean tokensNorm;

    @Option(names = "--input", required = true, paramLabel = "X.npy", description = "float32 (B, 3, H, W), normalised.")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "Y.npy", description = "Where to write the float32 result.")
    Path output;

    @Option(names = "--what", defaultValue = "logits", paramLabel = "KIND",
            description = "logits (B, classes), features (B, C) or tokens (B, N, C). Default: ${DEFAULT-VALUE}.")
    What what;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "DEVICE",
            description = "auto, java, cpu or cuda. Default: ${DEFAULT-VALUE}.")
    String device;

    @Override
    public Integer call() throws Exception {
        Device dev = Device.parse(device);
        try (Arena arena = Arena.ofConfined()) {
            Shape shape = Npy.readShape(input);
            if (shape.rank() != 4 || shape.dim(1) != 3 || shape.numel() == 0) {
                throw new IllegalArgumentException(input + ": expected a float32 array of shape (B, 3, H, W), got " + shape);
            }
            Tensor x = Npy.read(input, arena);
            LoadOptions options = LoadOptions.DEFAULT.withModel(model).withTokensNorm(tokensNorm);
            try (Xcit net = Xcit.load(weights, options);
                 Backend backend = Backends.open(dev, note -> spec.commandLine().getErr().println("xcit: " + note));
                 Session session = net.session(backend, shape.size(0), shape.size(2), shape.size(3))) {
                if (what == What.logits && net.config().numClasses() == 0) {
                    throw new IllegalArgumentException(weights + ": the checkpoint has no classifier head; use --what features or tokens");
                }
                Session.Outputs out = session.run(x);
                Tensor result = switch (what) {
                    case logits -> out.logits();
                    case features -> out.features();
                    case tokens -> out.tokens();
                };
                Npy.write(output, result);
            }
        }
        return 0;
    }
}
