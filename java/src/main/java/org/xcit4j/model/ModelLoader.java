package org.xcit4j.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.xcit4j.io.SafeTensors;
import org.xcit4j.io.StateDict;
import org.xcit4j.io.TorchCheckpoint;
import org.xcit4j.tensor.NonFinite;
import org.xcit4j.tensor.Tensor;

/**
 * Reads a checkpoint file (timm safetensors, or a torch.save zip in timm or original naming,
 * or an mmseg/mmdet checkpoint whose backbone is an XCiT: see {@link OpenMmlabLayout}),
 * infers and checks the architecture, and builds the model. On any failure nothing stays
 * allocated.
 */
final class ModelLoader {
    /** Safetensors metadata key holding "true"/"false" for models outside the zoo. */
    static final String METADATA_TOKENS_NORM = "tokens_norm";
    private ModelLoader() {
    }

    static Xcit load(Path path, LoadOptions options) throws IOException {
        // An unknown model name is reported before the file is even read.
        Optional<ModelZoo.Entry> expected = options.model().map(ModelZoo::require);
        String source = path.toString();
        Arena arena = Arena.ofShared();
        Map<String, Tensor> tensors;
        XcitConfig config;
        List<String> notes = List.of();
        Map<String, String> metadata;
        try {
            StateDict dict = read(path, arena);
            metadata = dict.metadata();
            tensors = dict.tensors();
            if (OpenMmlabLayout.matches(tensors)) {
                OpenMmlabLayout.Unwrapped backbone = OpenMmlabLayout.unwrap(tensors);
                tensors = backbone.tensors();
                notes = backbone.notes();
            }
            tensors = CheckpointNaming.toTimm(tensors);
            config = CheckpointArchitecture.infer(source, tensors, tokensNorm(dict, options));
            if (expected.isPresent()) CheckpointArchitecture.check(source, config, expected.get());
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
        List<String> warnings = nonFinite(tensors);
        Xcit model = Xcit.fromTensors(config, source, tensors, arena); // owns the arena from here, also on failure
        model.setNotes(notes);
        model.setWarnings(warnings);
        model.setMetadata(metadata);
        return model;
    }

    /** One warning per tensor with NaN or infinite values (a diverged training run, a corrupted file). */
    private static List<String> nonFinite(Map<String, Tensor> tensors) {
        List<String> out = new java.util.ArrayList<>();
        tensors.forEach((key, t) -> {
            NonFinite n = NonFinite.of(t);
            if (n.any()) out.add("tensor '" + key + "' " + n.describe() + ": the model's outputs will not be finite");
        });
        return out;
    }

    /**
     * tokens_norm is not part of a state dict: an explicit option wins, then a {@code tokens_norm}
     * entry in the safetensors metadata (xcit4j writes one for custom models), then the zoo.
     */
    private static Optional<Boolean> tokensNorm(StateDict dict, LoadOptions options) {
        if (options.tokensNorm().isPresent()) return options.tokensNorm();
        String meta = dict.metadata().get(METADATA_TOKENS_NORM);
        if (meta == null) return Optional.empty();
        return switch (meta.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true" -> Optional.of(true);
            case "false" -> Optional.of(false);
            default -> throw new IllegalArgumentException(dict.source() + ": metadata " + METADATA_TOKENS_NORM + " is '"
                    + meta + "', expected true or false");
        };
    }

    /**
     * Picks the reader by content: torch.save writes a zip ("PK"; the legacy format a pickled
     * magic number, which the torch reader refuses by name), safetensors starts with a header length.
     */
    static StateDict read(Path path, Arena arena) throws IOException {
        if (!Files.isRegularFile(path)) throw new java.nio.file.NoSuchFileException(path.toString(), null, "no such checkpoint file");
        return TorchCheckpoint.recognizes(path) ? TorchCheckpoint.read(path, arena) : SafeTensors.read(path, arena);
    }
}
