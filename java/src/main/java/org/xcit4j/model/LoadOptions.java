package org.xcit4j.model;

import java.util.Optional;

/**
 * How to interpret a checkpoint. Both fields are optional: the architecture is read off the
 * checkpoint, {@code model} (a zoo name) is then only checked against it, and tokens_norm
 * comes from the zoo unless given.
 */
public record LoadOptions(Optional<String> model, Optional<Boolean> tokensNorm) {
    public static final LoadOptions DEFAULT = new LoadOptions(Optional.empty(), Optional.empty());

    public LoadOptions withModel(String name) {
        return new LoadOptions(Optional.ofNullable(name), tokensNorm);
    }

    public LoadOptions withTokensNorm(Boolean value) {
        return new LoadOptions(model, Optional.ofNullable(value));
    }
}
