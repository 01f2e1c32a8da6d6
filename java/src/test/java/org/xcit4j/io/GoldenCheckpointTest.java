package org.xcit4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.xcit4j.tensor.DType;

/**
 * The committed golden model (written by tools/golden with timm and torch) read through both
 * loaders: the original-format .pth and the timm safetensors must hold bitwise the same
 * weights. The .pth uses the facebookresearch names ({@code pos_embeder.}, merged
 * {@code cls_attn_blocks.j.attn.qkv}), so keys are mapped and the merged qkv skipped.
 */
class GoldenCheckpointTest {
    @Test
    void pthAndSafetensorsOfTinyP16AgreeBitwise() throws IOException {
        Path caseDir = repoRoot().resolve("testdata/golden/tiny_p16");
        Path pth = caseDir.resolve("model.pth");
        Path st = caseDir.resolve("model.safetensors");
        assertTrue(Files.isRegularFile(pth) && Files.isRegularFile(st),
                "golden files missing: " + pth + " and " + st + " (generate them with tools/golden/make_goldens.py)");
        try (Arena arena = Arena.ofConfined()) {
            StateDict original = TorchCheckpoint.read(pth, arena);
            StateDict timm = SafeTensors.read(st, arena);
            List<String> compared = new ArrayList<>();
            for (String key : original.keys()) {
                if (key.matches("cls_attn_blocks\\.\\d+\\.attn\\.qkv\\..*")) continue; // merged q/k/v: the model splits it
                String timmKey = key.startsWith("pos_embeder.") ? "pos_embed." + key.substring("pos_embeder.".length()) : key;
                assertTrue(timm.contains(timmKey), () -> st + " lacks '" + timmKey + "' present in the .pth as '" + key + "'");
                assertEquals(timm.get(timmKey).shape(), original.get(key).shape(), key);
                assertArrayEquals(SafeTensorsTest.bits(timm.get(timmKey).toArray()),
                        SafeTensorsTest.bits(original.get(key).toArray()), key);
                compared.add(key);
            }
            // Everything but the split q/k/v of the class-attention blocks has a counterpart.
            long splitQkv = timm.keys().stream().filter(k -> k.matches("cls_attn_blocks\\.\\d+\\.attn\\.[qkv]\\..*")).count();
            assertEquals(timm.size() - splitQkv, compared.size(), "tensors compared");
            assertTrue(compared.stream().anyMatch(k -> k.startsWith("pos_embeder.")), "the pos_embeder. mapping was exercised");
            assertTrue(compared.stream().anyMatch(k -> original.storedType(k) == DType.I64), "num_batches_tracked (int64) read");
        }
    }

    /** The folder holding testdata: the build's xcit.repo.root, else the nearest ancestor of the working directory. */
    static Path repoRoot() {
        String prop = System.getProperty("xcit.repo.root");
        if (prop != null && !prop.isBlank()) return Path.of(prop).toAbsolutePath().normalize();
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("testdata"))) return p;
        }
        throw new AssertionError("cannot find the repository root: set -Dxcit.repo.root or run inside the repository");
    }
}
