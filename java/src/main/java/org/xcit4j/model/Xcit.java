package org.xcit4j.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.xcit4j.backend.Backend;
import org.xcit4j.backend.Backends;
import org.xcit4j.backend.Device;
import org.xcit4j.backend.Precision;
import org.xcit4j.tensor.Tensor;

/**
 * An XCiT network with its weights (timm's {@code Xcit}): patch embedding, Fourier positions,
 * XCA blocks, class-attention blocks, final norm and head, and the FPN ops of the original
 * dense backbone where the checkpoint has them. A dense (mmseg/mmdet) checkpoint has no
 * class-attention stage ({@link #hasClassifier()} false). Weights live in one arena owned
 * by this object; {@link #close()} frees them. Inference runs in a {@link Session} or a
 * {@link DenseSession}.
 */
public final class Xcit implements AutoCloseable {
    private final XcitConfig config;
    private final Arena arena;
    private final PatchEmbed patchEmbed;
    private final FourierPosition position;
    private final List<XcaBlock> blocks;
    private final Tensor clsToken;
    private final List<ClassAttentionBlock> clsBlocks;
    private final LayerNorm norm;
    private final Linear head;
    private final Fpn fpn;
    private List<String> notes = List.of();
    private List<String> warnings = List.of();
    private Map<String, String> metadata = Map.of();
    private boolean closed;

    private Xcit(XcitConfig config, Arena arena, WeightScope root) {
        this.config = config;
        this.arena = arena;
        int c = config.embedDim();
        this.patchEmbed = PatchEmbed.load(root.child("patch_embed"), config);
        this.position = FourierPosition.load(root.child("pos_embed"), c);
        List<XcaBlock> b = new ArrayList<>();
        for (int i = 0; i < config.depth(); i++) b.add(XcaBlock.load(root.child("blocks").child(i), config));
        this.blocks = List.copyOf(b);
        // clsAttnLayers 0 is a dense backbone: no cls token, class attention, norm or head.
        boolean classifier = config.clsAttnLayers() > 0;
        this.clsToken = classifier ? root.tensor("cls_token", 1, 1, c).reshape(c) : null;
        List<ClassAttentionBlock> cb = new ArrayList<>();
        for (int i = 0; i < config.clsAttnLayers(); i++) {
            cb.add(ClassAttentionBlock.load(root.child("cls_attn_blocks").child(i), config));
        }
        this.clsBlocks = List.copyOf(cb);
        this.norm = classifier ? LayerNorm.load(root.child("norm"), c) : null;
        this.head = classifier && config.numClasses() > 0 ? Linear.load(root.child("head"), c, config.numClasses()) : null;
        this.fpn = Fpn.load(root, config);
        root.finish();
    }

    /**
     * Builds the model from tensors in timm naming (see {@link CheckpointNaming}) that live in
     * {@code arena}; the model takes ownership of the arena and closes it on {@link #close()},
     * also when the tensors do not match (then every mismatch is reported in one exception).
     *
     * @param config the architecture
     * @param source names the tensors' origin in messages
     * @param tensors the weights by timm name
     * @param arena the arena the tensors live in; the model owns it from now on
     * @return the model
     * @throws IllegalArgumentException naming every missing, unexpected or mis-shaped tensor
     */
    public static Xcit fromTensors(XcitConfig config, String source, Map<String, Tensor> tensors, Arena arena) {
        return fromScope(config, WeightScope.root(source, tensors, arena), arena);
    }

    /**
     * Loads a checkpoint: timm safetensors (F32, F16 or BF16) or a PyTorch .pth zip in timm
     * or original naming, wrapped in 'model' or 'state_dict' or bare. The architecture is
     * read off the checkpoint.
     *
     * @param path a .safetensors or .pth file
     * @return the model, which owns its weights until closed
     * @throws IOException if the file cannot be read
     * @throws org.xcit4j.io.CheckpointException if it is not a valid checkpoint or does not match an XCiT
     */
    public static Xcit load(Path path) throws IOException {
        return ModelLoader.load(path, LoadOptions.DEFAULT);
    }

    /**
     * Like {@link #load(Path)}, checking the architecture against a zoo name or giving tokens_norm.
     *
     * @param path a .safetensors or .pth file
     * @param options a zoo name to check against, tokens_norm
     * @return the model, which owns its weights until closed
     * @throws IOException if the file cannot be read
     * @throws org.xcit4j.io.CheckpointException if it is not a valid checkpoint or does not match an XCiT
     */
    public static Xcit load(Path path, LoadOptions options) throws IOException {
        return ModelLoader.load(path, options);
    }

    /**
     * A model with seeded random weights (see {@link WeightScope#random}), for benchmarks and tests.
     *
     * @param config the architecture
     * @param seed the random seed: one seed, one set of weights
     * @return the model
     */
    public static Xcit random(XcitConfig config, long seed) {
        Arena arena = Arena.ofShared();
        return fromScope(config, WeightScope.random(seed, arena, false), arena);
    }

    /**
     * Like {@link #random}, plus random weights for the FPN (fpn1, fpn2) that a dense-prediction
     * checkpoint carries, so {@link #denseSession} produces all four levels: for tests and
     * checks of the upsampling path. The trunk's weights are those {@link #random} gives.
     *
     * @param config the architecture
     * @param seed the random seed: one seed, one set of weights
     * @return the model, {@link #hasFpnWeights()} true
     */
    public static Xcit randomWithFpn(XcitConfig config, long seed) {
        Arena arena = Arena.ofShared();
        return fromScope(config, WeightScope.random(seed, arena, true), arena);
    }

    private static Xcit fromScope(XcitConfig config, WeightScope root, Arena arena) {
        try {
            return new Xcit(config, arena, root);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * The architecture, read off the checkpoint.
     *
     * @return the configuration
     */
    public XcitConfig config() {
        return config;
    }

    /**
     * Number of learned parameters, counted as PyTorch does (BatchNorm statistics excluded).
     *
     * @return the parameter count
     */
    public long parameters() {
        long p = patchEmbed.parameters() + position.parameters() + fpn.parameters();
        if (hasClassifier()) p += clsToken.numel() + norm.parameters();
        for (XcaBlock b : blocks) p += b.parameters();
        for (ClassAttentionBlock b : clsBlocks) p += b.parameters();
        return head == null ? p : p + head.parameters();
    }

    /**
     * Whether the model has the class-attention stage (cls token, class attention, norm): false for dense backbones.
     *
     * @return whether classification sessions can be made
     */
    public boolean hasClassifier() {
        return clsToken != null;
    }

    /**
     * Whether the checkpoint had FPN weights (fpn1 / fpn2 of the original dense backbone).
     *
     * @return whether the FPN's learned levels are present
     */
    public boolean hasFpnWeights() {
        return fpn.hasWeights();
    }

    /**
     * What loading left out or assumed (ignored heads, meta), one line each, for the user.
     *
     * @return the notes, possibly empty
     */
    public List<String> notes() {
        return notes;
    }

    /**
     * The checkpoint's string metadata (safetensors {@code __metadata__}: e.g. {@code labels},
     * {@code input_size}, {@code tokens_norm}); empty for formats without it.
     *
     * @return the metadata, possibly empty
     */
    public Map<String, String> metadata() {
        return metadata;
    }

    void setMetadata(Map<String, String> metadata) {
        this.metadata = Map.copyOf(metadata);
    }

    /**
     * What in the checkpoint will spoil results, one line each: tensors holding NaN or
     * infinite values, named (outputs computed from them are not finite either).
     *
     * @return the warnings, possibly empty
     */
    public List<String> warnings() {
        return warnings;
    }

    void setWarnings(List<String> warnings) {
        this.warnings = List.copyOf(warnings);
    }

    void setNotes(List<String> notes) {
        this.notes = List.copyOf(notes);
    }

    /**
     * A session for inputs of shape (batch, 3, height, width) on {@code backend}, which the
     * caller keeps owning (one backend can serve several sessions in turn).
     *
     * @param backend runs the ops; the caller closes it after the session
     * @param batch B, images per forward
     * @param height H, the input height in pixels
     * @param width W, the input width in pixels
     * @return the session, which plans its memory now
     */
    public Session session(Backend backend, int batch, int height, int width) {
        return session(backend, batch, height, width, SessionOptions.DEFAULT);
    }

    /**
     * Like {@link #session(Backend, int, int, int)} with execution options (streaming).
     *
     * @param backend runs the ops; the caller closes it after the session
     * @param batch B, images per forward
     * @param height H, the input height in pixels
     * @param width W, the input width in pixels
     * @param options full or streamed execution
     * @return the session, which plans its memory now
     */
    public Session session(Backend backend, int batch, int height, int width, SessionOptions options) {
        requireClassifier();
        return new Session(this, backend, false, batch, height, width, options);
    }

    /**
     * A dense session (spec section 6): stride 4, 8, 16 and 32 maps for inputs of shape
     * (batch, 3, height, width) on {@code backend}, which the caller keeps owning.
     *
     * @param backend runs the ops; the caller closes it after the session
     * @param batch B, images per forward
     * @param height H, the input height in pixels
     * @param width W, the input width in pixels
     * @param dense which blocks feed the FPN levels
     * @param options full or streamed execution
     * @return the dense session
     */
    public DenseSession denseSession(Backend backend, int batch, int height, int width, DenseOptions dense,
                                     SessionOptions options) {
        ensureOpen();
        return new DenseSession(this, backend, batch, height, width, dense, options);
    }

    /**
     * A session on {@code device} that owns its backend and closes it with itself. With
     * {@link Device#AUTO}, the choice (and why better devices were passed over) goes to
     * {@code notes}.
     *
     * @param device where it runs
     * @param batch B, images per forward
     * @param height H, the input height in pixels
     * @param width W, the input width in pixels
     * @param notes receives what AUTO picked and why
     * @return the session, owning its backend
     */
    public Session session(Device device, int batch, int height, int width, Consumer<String> notes) {
        return session(device, Precision.FP32, batch, height, width, notes);
    }

    /**
     * Like {@link #session(Device, int, int, int, Consumer)} in {@code precision}; a precision
     * the device cannot do is refused (see {@link Backends#open(Device, int, Precision, Consumer)}).
     *
     * @param device where it runs
     * @param precision the arithmetic; refused where the device cannot do it
     * @param batch B, images per forward
     * @param height H, the input height in pixels
     * @param width W, the input width in pixels
     * @param notes receives what AUTO picked and why
     * @return the session, owning its backend
     */
    public Session session(Device device, Precision precision, int batch, int height, int width, Consumer<String> notes) {
        ensureOpen();
        requireClassifier();
        Backend backend = Backends.open(device, 0, precision, notes);
        try {
            return new Session(this, backend, true, batch, height, width, SessionOptions.DEFAULT);
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
    }

    /**
     * Like {@link #session(Device, int, int, int, Consumer)}, with notes to the {@link System.Logger} of this class at INFO.
     *
     * @param device where it runs
     * @param batch B, images per forward
     * @param height H, the input height in pixels
     * @param width W, the input width in pixels
     * @return the session, owning its backend
     */
    public Session session(Device device, int batch, int height, int width) {
        return session(device, batch, height, width, note -> System.getLogger(Xcit.class.getName()).log(System.Logger.Level.INFO, note));
    }

    PatchEmbed patchEmbed() {
        return patchEmbed;
    }

    FourierPosition position() {
        return position;
    }

    List<XcaBlock> blocks() {
        return blocks;
    }

    Tensor clsToken() {
        return clsToken;
    }

    List<ClassAttentionBlock> clsBlocks() {
        return clsBlocks;
    }

    LayerNorm norm() {
        return norm;
    }

    Linear head() {
        return head;
    }

    Fpn fpn() {
        return fpn;
    }

    private void requireClassifier() {
        ensureOpen();
        if (!hasClassifier()) {
            throw new IllegalStateException("this checkpoint is a dense (detection/segmentation) backbone without a "
                    + "class-attention stage: it gives dense outputs only (Xcit.denseSession)");
        }
    }

    void ensureOpen() {
        if (closed) throw new IllegalStateException("the model has been closed");
    }

    /** Frees the weights; closing twice is harmless. Sessions must be closed first. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }
}
