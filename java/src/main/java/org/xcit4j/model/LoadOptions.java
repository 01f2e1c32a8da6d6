package org.xcit4j.model;

import java.util.Optional;

/**
 * How to interpret a checkpoint. Both fields are optional: the architecture is read off the
 * checkpoint, {@code model} (a zoo name) is then only checked against it, and tokens_norm
 * comes from the zoo unless given.
 *
 * @param model a zoo name the checkpoint must match
 * @param tokensNorm the class-attention norm, where the checkpoint cannot tell
 */
public record LoadOptions(Optional<String> model, Optional<Boolean> tokensNorm) {
    public static final LoadOptions DEFAULT = new LoadOptions(Optional.empty(), Optional.empty());

    /**
     * A copy that checks the checkpoint against a zoo model.
     *
     * @param name a zoo name, or null for none
     * @return the new options
     */
    public LoadOptions withModel(String name) {
        return new LoadOptions(Optional.ofNullable(name), tokensNorm);
    }

    /**
     * A copy that gives tokens_norm.
     *
     * @param value the class-attention norm, or null to infer it
     * @return the new options
     */
    public LoadOptions withTokensNorm(Boolean value) {
        return new LoadOptions(model, Optional.ofNullable(value));
    }
}
