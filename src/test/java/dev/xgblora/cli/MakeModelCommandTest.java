package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.io.ModelConfig;
import dev.xgblora.io.SyntheticModel;
import dev.xgblora.io.Tokenizer;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.LlamaDecoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** make-model writes loadable, sharded, seeded random decoders; train on one runs, and a run that cannot fit stops early. */
class MakeModelCommandTest {
    @TempDir
    Path tmp;

    @Test
    void tinyShapesAreShardedSeededAndLoadWithTheirTokenizer() throws Exception {
        for (String shape : new String[] {"tiny", "tiny-qwen2"}) {
            SyntheticModel.Shape s = SyntheticModel.shape(shape);
            Path dir = tmp.resolve(shape), again = tmp.resolve(shape + "-again");
            SyntheticModel.write(s, dir, 3, 64 << 10);
            SyntheticModel.write(s, again, 3, 64 << 10);
            assertTrue(Files.isRegularFile(dir.resolve(WeightStore.INDEX_FILE)), "sharded with an index");
            try (var files = Files.list(dir)) {
                assertTrue(files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).count() >= 2);
            }
            assertArrayEquals(Files.readAllBytes(dir.resolve("model-00001-of-" + shardCount(dir) + ".safetensors")),
                    Files.readAllBytes(again.resolve("model-00001-of-" + shardCount(dir) + ".safetensors")), "same seed, same bytes");
            ModelConfig mc = ModelConfig.load(dir);
            assertEquals(s.tied(), mc.tieWordEmbeddings());
            try (WeightStore st = WeightStore.open(dir)) {
                assertEquals("BF16", st.dtypeName("model.layers.0.mlp.up_proj.weight"));
                assertEquals(shape.equals("tiny-qwen2"), st.has("model.layers.0.self_attn.q_proj.bias"));
            }
            try (Tokenizer tok = Tokenizer.load(dir)) {
                assertArrayEquals(new int[] {SyntheticModel.BOS, 'h', 'i', 0xC3, 0xA9}, tok.encode("hié", true), "bytes after BOS");
                assertTrue(tok.vocabSize() <= s.vocab());
            }
            try (LlamaDecoder m = LlamaDecoder.open(dir, new ReferenceKernels())) {
                int[] ids = new int[24];
                Random r = new Random(1);
                for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(s.vocab());
                double nll = -m.logLikelihood(ids) / (ids.length - 1);
                // random weights with std 0.02: nearly uniform predictions
                assertEquals(Math.log(s.vocab()), nll, 0.5, shape + " loss per token");
            }
        }
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> SyntheticModel.shape("llama-70b"));
        assertTrue(e.getMessage().contains("llama-3.2-1b"), e.getMessage());
    }

    private static String shardCount(Path dir) throws Exception {
        try (var files = Files.list(dir)) {
            return String.format("%05d", files.filter(p -> p.getFileName().toString().startsWith("model-")).count());
        }
    }

    @Test
    void trainingOnAMadeModelRunsAndAnImpossibleShapeStopsBeforeAllocating() throws Exception {
        Path dir = tmp.resolve("m");
        CliRun made = CliRun.of("make-model", "tiny", dir.toString(), "--seed", "5");
        assertEquals(0, made.code(), made.err());
        assertTrue(made.out().contains("tiny"), made.out());
        assertNotEquals(0, CliRun.of("make-model", "tiny", dir.toString()).code(), "an existing directory is refused");
        Path text = tmp.resolve("text.txt");
        Files.writeString(text, "the quick brown fox jumps over the lazy dog\n".repeat(12));
        CliRun ok = CliRun.of("train", "--model", dir.toString(), "--task", "lm", "--train", text.toString(),
                "--steps", "2", "--kappa", "1", "--batch-size", "2", "--max-length", "24", "--recompute", "--merge", "factored",
                "--no-baseline", "--json", "--output", tmp.resolve("run").toString());
        assertEquals(0, ok.code(), ok.err() + ok.out());
        assertTrue(ok.out().contains("memory estimate"), ok.out());
        assertTrue(Files.isRegularFile(tmp.resolve("run/merged/config.json")));
        CliRun big = CliRun.of("train", "--model", dir.toString(), "--task", "lm", "--train", text.toString(),
                "--steps", "2", "--batch-size", "100000", "--max-length", "100000", "--no-baseline", "--output", tmp.resolve("big").toString());
        assertNotEquals(0, big.code());
        assertTrue(big.err().contains("needs about") && big.err().contains("--recompute") && big.err().contains("--batch-size"), big.err());
        assertFalse(Files.exists(tmp.resolve("big/checkpoints")), "stopped before training");
    }
}
