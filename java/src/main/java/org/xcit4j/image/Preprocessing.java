package org.xcit4j.image;

import java.util.Arrays;
import org.xcit4j.tensor.Shape;
import org.xcit4j.tensor.Tensor;

/**
 * timm's evaluation transform for XCiT (spec section 9; {@code create_transform} with
 * crop_pct 1.0, bicubic, ImageNet mean/std): torchvision {@code Resize(size)} of the short side
 * with PIL's antialiased bicubic ({@link PilResize}), {@code CenterCrop(size)},
 * {@code ToTensor()} (/255) and {@code Normalize(mean, std)}, all in the same float32
 * operations as torchvision, so equal pixels give bit-identical tensors.
 *
 * <p>A non-square input (height != width) follows timm 1.0's branch for it:
 * {@code ResizeKeepRatio((height, width))} (the side with the smaller ratio to its target
 * becomes exactly the target, the other {@code round(side / ratio)}, Python's rounding) then
 * {@code CenterCrop((height, width))}. That branch builds ResizeKeepRatio without passing the
 * configured interpolation, so timm resizes non-square targets bilinearly: so does this.
 *
 * @param height rows of the model input
 * @param width  columns of the model input
 * @param mean   per-channel mean subtracted after scaling to [0, 1]
 * @param std    per-channel divisor
 */
public record Preprocessing(int height, int width, float[] mean, float[] std) {
    /** ImageNet statistics, timm's IMAGENET_DEFAULT_MEAN/STD (every XCiT uses them). */
    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};

    /**
     * Checks the sizes and copies the statistics.
     *
     * @throws IllegalArgumentException if a side is not positive or a statistic has not 3 channels
     */
    public Preprocessing {
        if (height < 1 || width < 1) throw new IllegalArgumentException("input size must be positive, got " + height + "x" + width);
        if (mean.length != 3 || std.length != 3) throw new IllegalArgumentException("mean and std need 3 channels");
        mean = mean.clone();
        std = std.clone();
    }

    /**
     * timm's default for every XCiT checkpoint at input side {@code size} (224 or 384 in the zoo).
     *
     * @param size the square input's side
     * @return the transform
     */
    public static Preprocessing timm(int size) {
        return timm(size, size);
    }

    /**
     * timm's eval transform to a {@code height} x {@code width} input (square or not).
     *
     * @param height the input's height
     * @param width the input's width
     * @return the transform
     */
    public static Preprocessing timm(int height, int width) {
        return new Preprocessing(height, width, IMAGENET_MEAN, IMAGENET_STD);
    }

    /**
     * Side of the square model input; an IllegalStateException for a non-square one.
     *
     * @return the side
     */
    public int size() {
        if (height != width) throw new IllegalStateException("the input is " + height + "x" + width + ", not square");
        return height;
    }

    /**
     * Whether the model input is square (timm's short-side Resize) rather than not (ResizeKeepRatio).
     *
     * @return whether height equals width
     */
    public boolean square() {
        return height == width;
    }

    /**
     * The size torchvision's {@code Resize(size)} gives a width x height image: the short
     * side becomes {@code size}, the long one {@code int(size * long / short)} (Python's
     * true division, then truncation).
     *
     * @return {width, height}
     *
     * @param width the image's width
     * @param height the image's height
     */
    public int[] resizedSize(int width, int height) {
        int size = size();
        int shortSide = Math.min(width, height), longSide = Math.max(width, height);
        long newLong = (long) ((double) ((long) size * longSide) / shortSide);
        if (newLong > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a " + width + " x " + height + " image resized to a short side of " + size
                    + " would be " + newLong + " pixels long, more than an image can hold");
        }
        return width <= height ? new int[] {size, (int) newLong} : new int[] {(int) newLong, size};
    }

    /**
     * torchvision's CenterCrop offset {@code int(round((resized - size) / 2.0))}; Python's
     * round goes half to even (2.5 -> 2), which {@link Math#rint} matches.
     */
    static int cropOffset(int resized, int size) {
        return (int) Math.rint((resized - size) / 2.0);
    }

    /**
     * The size timm's {@code ResizeKeepRatio((height, width))} gives a width x height image
     * (a non-square target): ratio = min(h / height, w / width) in double, each side
     * {@code round(side / ratio)} with Python's round (half to even, as {@link Math#rint}).
     *
     * @return {width, height}
     *
     * @param imageWidth the image's width
     * @param imageHeight the image's height
     */
    public int[] keepRatioSize(int imageWidth, int imageHeight) {
        double ratio = Math.min((double) imageHeight / height, (double) imageWidth / width);
        double w = Math.rint(imageWidth / ratio), h = Math.rint(imageHeight / ratio);
        if (Math.max(w, h) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a " + imageWidth + " x " + imageHeight + " image resized to cover " + width + " x "
                    + height + " would be " + (long) Math.max(w, h) + " pixels long, more than an image can hold");
        }
        return new int[] {(int) w, (int) h};
    }

    /**
     * {width, height} of a width x height image after the resize step, the short-side Resize
     * for a square input, ResizeKeepRatio otherwise; an IllegalArgumentException when a side
     * would not fit an image (the caller can refuse such a file from its header).
     *
     * @param imageWidth the image's width
     * @param imageHeight the image's height
     * @return {width, height} after resizing
     */
    public int[] resizeOf(int imageWidth, int imageHeight) {
        return square() ? resizedSize(imageWidth, imageHeight) : keepRatioSize(imageWidth, imageHeight);
    }

    /**
     * The resized and center-cropped 8-bit image, before normalisation (width x height).
     *
     * @param image the decoded image
     * @return the model-sized image
     */
    public RgbImage resizeAndCrop(RgbImage image) {
        if (square()) {
            int[] wh = resizedSize(image.width(), image.height());
            // Resize(short side = size) never leaves a side below size, so CenterCrop never pads.
            return PilResize.resizeCrop(image, wh[0], wh[1], cropOffset(wh[0], width), cropOffset(wh[1], height), width, height);
        }
        int[] wh = keepRatioSize(image.width(), image.height());
        // The side with the smaller ratio lands on its target (round() absorbs the division's
        // error), the other on at least its target: CenterCrop never pads.
        return PilResize.resizeCrop(image, wh[0], wh[1], cropOffset(wh[0], width), cropOffset(wh[1], height), width, height,
                PilResize.Filter.BILINEAR);
    }

    /**
     * Writes the normalised (3, height, width) tensor of {@code image} into slot {@code index}
     * of {@code batch} (B, 3, height, width); nothing is allocated for the output.
     *
     * @param image the decoded image
     * @param batch (B, 3, height, width)
     * @param index the batch slot written
     */
    public void apply(RgbImage image, Tensor batch, int index) {
        Shape s = batch.shape();
        if (s.rank() != 4 || s.dim(1) != 3 || s.dim(2) != height || s.dim(3) != width) {
            throw new IllegalArgumentException("preprocessing to " + height + "x" + width + " (height x width) needs a (B, 3, "
                    + height + ", " + width + ") tensor, got " + s);
        }
        if (index < 0 || index >= s.dim(0)) throw new IndexOutOfBoundsException("batch index " + index + " of " + s);
        normalize(resizeAndCrop(image), batch, index);
    }

    /**
     * timm's Resize alone (short side to {@link #size()}, aspect kept, no crop): for whole-image maps.
     *
     * @param image the decoded image
     * @return the resized image
     */
    public RgbImage resizeShortSide(RgbImage image) {
        int[] wh = resizedSize(image.width(), image.height());
        return PilResize.resize(image, wh[0], wh[1]);
    }

    /**
     * ToTensor and Normalize of {@code image} (any size) into slot {@code index} of
     * {@code batch} (B, 3, image height, image width).
     *
     * @param image the image, at the tensor's size
     * @param batch (B, 3, image height, image width)
     * @param index the batch slot written
     */
    public void toTensor(RgbImage image, Tensor batch, int index) {
        Shape s = batch.shape();
        if (s.rank() != 4 || s.dim(1) != 3 || s.dim(2) != image.height() || s.dim(3) != image.width()) {
            throw new IllegalArgumentException("a " + image.width() + "x" + image.height() + " image needs a (B, 3, "
                    + image.height() + ", " + image.width() + ") tensor, got " + s);
        }
        if (index < 0 || index >= s.dim(0)) throw new IndexOutOfBoundsException("batch index " + index + " of " + s);
        normalize(image, batch, index);
    }

    /** ToTensor and Normalize of an image of the tensor's spatial size into slot {@code index}. */
    void normalize(RgbImage cropped, Tensor batch, int index) {
        byte[] px = cropped.pixels();
        int plane = cropped.width() * cropped.height();
        long base = (long) index * 3 * plane;
        for (int c = 0; c < 3; c++) {
            float m = mean[c], d = std[c];
            long o = base + (long) c * plane;
            for (int i = 0; i < plane; i++) {
                // torchvision: to_tensor divides the uint8 value by 255 in float32, then
                // Normalize does sub_(mean).div_(std) in float32: same operations, same bits.
                float x = (px[i * 3 + c] & 0xff) / 255f;
                batch.set(o + i, (x - m) / d);
            }
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Preprocessing p && p.height == height && p.width == width && Arrays.equals(p.mean, mean)
                && Arrays.equals(p.std, std);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * (31 * height + width) + Arrays.hashCode(mean)) + Arrays.hashCode(std);
    }

    @Override
    public String toString() {
        return "Preprocessing[" + height + "x" + width + ", mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + "]";
    }

    /**
     * The per-channel mean.
     *
     * @return a copy of it
     */
    @Override
    public float[] mean() {
        return mean.clone();
    }

    /**
     * The per-channel divisor.
     *
     * @return a copy of it
     */
    @Override
    public float[] std() {
        return std.clone();
    }
}
