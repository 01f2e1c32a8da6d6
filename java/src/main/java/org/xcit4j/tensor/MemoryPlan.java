package org.xcit4j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Places every activation buffer of a forward pass at an offset in one allocation. Each
 * buffer declares the steps during which it is live ([first, last], inclusive); buffers whose
 * lifetimes do not overlap may share bytes. Planning happens once per input shape, so a
 * steady-state forward allocates nothing.
 *
 * <p>Public only because sessions (in {@code org.xcit4j.model}) build their plans with it and
 * backends read its block; not API.
 */
public final class MemoryPlan {
    private static final long ALIGN = 64;

    private final Map<String, Tensor> tensors;
    private final long bytes;

    private final MemorySegment block;

    private MemoryPlan(Map<String, Tensor> tensors, long bytes, MemorySegment block) {
        this.tensors = tensors;
        this.bytes = bytes;
        this.block = block;
    }

    /**
     * The one allocation every planned tensor views (device backends mirror it).
     *
     * @return the block
     */
    public MemorySegment block() {
        return block;
    }

    /**
     * A builder of a new plan.
     *
     * @return an empty builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The planned buffer {@code name}, with the shape it was declared with.
     *
     * @param name the buffer's name
     * @return its tensor
     * @throws IllegalArgumentException if no buffer has that name
     */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException("no buffer '" + name + "' in the memory plan");
        return t;
    }

    /**
     * Total bytes of the one allocation behind every buffer.
     *
     * @return the bytes
     */
    public long bytes() {
        return bytes;
    }

    /** Collects buffer declarations, then places them. */
    public static final class Builder {
        private record Request(String name, Shape shape, int first, int last, long size) {
        }

        private final List<Request> requests = new ArrayList<>();

        private Builder() {
        }

        /**
         * Declares buffer {@code name} of {@code shape}, live from step {@code first} to {@code last}.
         *
         * @param name the buffer's name, unique in the plan
         * @param shape its shape (float32)
         * @param first the first step it is live
         * @param last the last step it is live
         * @return this builder
         */
        public Builder add(String name, Shape shape, int first, int last) {
            if (first > last) throw new IllegalArgumentException(name + ": lifetime [" + first + ", " + last + "] is empty");
            if (requests.stream().anyMatch(r -> r.name.equals(name))) {
                throw new IllegalArgumentException("buffer '" + name + "' declared twice");
            }
            long size = (shape.numel() * Float.BYTES + ALIGN - 1) / ALIGN * ALIGN;
            requests.add(new Request(name, shape, first, last, size));
            return this;
        }

        /**
         * Bytes the plan would take, without allocating: for choosing between plans.
         *
         * @return the bytes
         */
        public long bytes() {
            return place().total;
        }

        /**
         * Greedy placement, largest buffers first: each goes to the lowest offset that no
         * already placed buffer with an overlapping lifetime occupies.
         *
         * @param arena owns the block
         * @return the plan
         * @throws IllegalStateException if the block cannot be allocated
         */
        public MemoryPlan allocate(Arena arena) {
            Placement placed = place();
            MemorySegment block;
            try {
                block = arena.allocate(Math.max(placed.total, ALIGN), ALIGN);
            } catch (OutOfMemoryError e) {
                throw new IllegalStateException("cannot allocate " + (placed.total >> 20) + " MiB of activation memory for this "
                        + "input (" + e.getMessage() + "); use a smaller input or streamed execution (SessionOptions.Execution.STREAMED)", e);
            }
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Request r : requests) {
                tensors.put(r.name, Tensor.wrap(block.asSlice(placed.offsets.get(r), r.shape.numel() * Float.BYTES), r.shape));
            }
            return new MemoryPlan(tensors, placed.total, block);
        }

        private record Placement(Map<Request, Long> offsets, long total) {
        }

        private Placement place() {
            List<Request> order = new ArrayList<>(requests);
            order.sort(Comparator.comparingLong(Request::size).reversed());
            Map<Request, Long> offsets = new LinkedHashMap<>();
            long total = 0;
            for (Request r : order) {
                List<long[]> busy = new ArrayList<>();
                offsets.forEach((p, off) -> {
                    if (p.first <= r.last && r.first <= p.last) busy.add(new long[] {off, off + p.size});
                });
                busy.sort(Comparator.comparingLong(a -> a[0]));
                long offset = 0;
                for (long[] span : busy) {
                    if (offset + r.size <= span[0]) break;
                    offset = Math.max(offset, span[1]);
                }
                offsets.put(r, offset);
                total = Math.max(total, offset + r.size);
            }
            return new Placement(offsets, total);
        }
    }
}
