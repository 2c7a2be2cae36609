package dev.xgblora.cli;

import dev.xgblora.io.SyntheticModel;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Writes a random-weight decoder directory at a real model's shape (benchmarks, memory limits, tests). */
@Command(name = "make-model", mixinStandardHelpOptions = true,
        description = {"Write a random-weight Hugging Face decoder directory at a real shape: config.json, bf16 safetensors shards",
                "with model.safetensors.index.json, and a byte-level tokenizer.json (ids 0..255 = bytes, 256 = BOS, 257 = EOS).",
                "Shapes: llama-3.2-1b (2.5 GB), qwen2.5-0.5b (1 GB), llama-3.1-8b (16 GB), tiny, tiny-qwen2. Not a trained model."},
        footer = {"", "Examples:",
                "  xgblora make-model llama-3.2-1b /tmp/llama-1b",
                "  xgblora make-model tiny /tmp/tiny --seed 7"})
public final class MakeModelCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SHAPE", description = "llama-3.2-1b, qwen2.5-0.5b, llama-3.1-8b, tiny or tiny-qwen2.")
    String shape;
    @Parameters(index = "1", paramLabel = "DIR", description = "Output directory (must not exist; appears when complete).")
    Path dir;
    @Option(names = "--seed", defaultValue = "0", description = "Seed of the weights (same seed, same files).")
    long seed;
    @Option(names = "--shard-mb", defaultValue = "2048", description = "Largest shard in MiB (default 2048).")
    long shardMb;

    @Override
    public Integer call() {
        SyntheticModel.Shape s = SyntheticModel.shape(shape);
        long t0 = System.nanoTime();
        SyntheticModel.write(s, dir, seed, shardMb << 20);
        System.out.printf(Locale.ROOT, "%s: %,d parameters (%.2f GB of bf16) written to %s in %.1f s%n", s.name(), s.parameters(),
                s.parameters() * 2 / 1e9, dir, (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
