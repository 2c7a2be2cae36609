package dev.xgblora.cli;

import dev.xgblora.io.Tokenizer;
import dev.xgblora.kernels.Backends;
import dev.xgblora.model.LlamaDecoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Continues a prompt with a Llama-family model (KV cache; greedy or top-p sampling). */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Continues a prompt with a Llama-family model, using a key/value cache.",
                "Greedy when --temperature is 0 (the default); otherwise top-p sampling with a seeded "
                        + "generator (same seed, same text). Stops after --max-new tokens or an end-of-sequence token.",
                "With --prompt the model directory needs tokenizer.json and the prompt plus continuation is "
                        + "printed as text; with --prompt-ids the new token ids are printed, comma-separated."},
        footer = {"", "Examples:",
                "  xgblora generate --model models/tinyllama --prompt \"Once upon a time\" --max-new 40 --temperature 0.8 --top-p 0.9 --seed 7",
                "  xgblora generate --model models/tiny --prompt-ids 1,15,22 --max-new 5"})
public final class GenerateCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, description = "Model directory (config.json, *.safetensors, tokenizer.json).")
    Path model;

    @ArgGroup(multiplicity = "1")
    Prompt prompt;

    static final class Prompt {
        @Option(names = "--prompt", required = true, description = "Prompt text (tokenized with special tokens such as BOS).")
        String text;

        @Option(names = "--prompt-ids", required = true, split = ",", description = "Pre-tokenized prompt, e.g. 1,15,22.")
        int[] ids;
    }

    @Option(names = "--max-new", defaultValue = "32", description = "Most new tokens to generate (default ${DEFAULT-VALUE}).")
    int maxNew;

    @Option(names = "--top-p", defaultValue = "0.95", description = "Nucleus mass kept when sampling (default ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--temperature", defaultValue = "0", description = "Sampling temperature; 0 = greedy (default ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed for sampling (default ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() {
        if (maxNew < 0) throw new IllegalArgumentException("--max-new must be >= 0, got " + maxNew);
        if (topP <= 0f || topP > 1f) throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
        if (temperature < 0f) throw new IllegalArgumentException("--temperature must be >= 0, got " + temperature);
        Path tokenizerFile = model.resolve(Tokenizer.FILE);
        if (prompt.text != null && !Files.isRegularFile(tokenizerFile)) {
            throw new IllegalArgumentException("--prompt needs " + tokenizerFile + " (absent); give --prompt-ids instead");
        }
        try (LlamaDecoder m = LlamaDecoder.open(model, Backends.defaults())) {
            if (prompt.text == null) {
                int[] out = m.generate(prompt.ids, maxNew, topP, temperature, seed);
                System.out.println(Arrays.stream(out).mapToObj(Integer::toString).collect(Collectors.joining(",")));
                return 0;
            }
            try (Tokenizer tokenizer = Tokenizer.load(tokenizerFile)) {
                int[] ids = tokenizer.encode(prompt.text, true);
                if (ids.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
                int[] out = m.generate(ids, maxNew, topP, temperature, seed);
                int[] all = Arrays.copyOf(ids, ids.length + out.length);
                System.arraycopy(out, 0, all, ids.length, out.length);
                System.out.println(tokenizer.decode(all));
            }
        }
        return 0;
    }
}
