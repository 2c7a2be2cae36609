package dev.xgblora.io;

import dev.xgblora.tensor.Tensor;
import dev.xgblora.train.DataOptions;
import dev.xgblora.train.DatasetReader;
import dev.xgblora.train.MalformedDataException;
import dev.xgblora.train.Task;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The readers of untrusted files under a bounded number of seeded mutations each (see {@link Fuzz}):
 * safetensors, config.json, tokenizer.json, ONNX (protobuf), and the TSV/CSV/JSONL dataset readers.
 * Each input is accepted or refused with the project's own exception naming the file; no other
 * exception, no hang, no out-of-memory. Inputs per reader: {@code -Dxgblora.fuzz.inputs} (default 300).
 */
class InputFuzzTest {
    static final int N = Integer.getInteger("xgblora.fuzz.inputs", 300);
    static final long SEED = Long.getLong("xgblora.fuzz.seed", 20261129);

    @TempDir
    Path dir;

    @Test
    void safetensors() throws Exception {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("w", Tensor.fromArray(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        t.put("v", Tensor.fromArray(new float[] {1, 2, 3, 4}, 4));
        t.put("h", Tensor.fromArray(new float[] {1, 2}, 2).toDType(dev.xgblora.tensor.DType.BF16, java.lang.foreign.Arena.ofAuto()));
        Path seed = dir.resolve("seed.safetensors");
        SafeTensorsWriter.write(seed, t, Map.of("format", "pt"));
        Fuzz.run("safetensors", Files.readAllBytes(seed), N, SEED, dir, "model.safetensors", f -> {
            try (WeightStore st = WeightStore.open(f)) {
                for (String name : st.names()) st.tensor(name).toFloatArray();
            }
        }, IllegalArgumentException.class);
    }

    @Test
    void modelConfig() throws Exception {
        byte[] seed = Fuzz.utf8("""
                {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": 100, "hidden_size": 16,
                 "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 64,
                 "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu", "pad_token_id": 0,
                 "id2label": {"0": "neg", "1": "pos"}}
                """);
        Fuzz.run("config", seed, N, SEED, dir, "config.json", ModelConfig::load, IllegalArgumentException.class);
        byte[] llama = Fuzz.utf8("""
                {"model_type": "llama", "vocab_size": 100, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "num_key_value_heads": 2, "intermediate_size": 32, "max_position_embeddings": 64, "rms_norm_eps": 1e-6,
                 "hidden_act": "silu", "rope_theta": 10000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
                 "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 32}, "tie_word_embeddings": true}
                """);
        Fuzz.run("config-llama", llama, N, SEED + 1, dir, "config.json", ModelConfig::load, IllegalArgumentException.class);
    }

    @Test
    void tokenizer() throws Exception {
        byte[] seed = Fuzz.utf8("""
                {"version": "1.0", "truncation": null, "padding": null,
                 "added_tokens": [{"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": true}],
                 "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null,
                   "lowercase": true},
                 "pre_tokenizer": {"type": "BertPreTokenizer"}, "post_processor": null, "decoder": null,
                 "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                   "max_input_chars_per_word": 100, "vocab": {"[PAD]": 0, "[UNK]": 1, "good": 2, "bad": 3, "film": 4, "##s": 5}}}
                """);
        // the native tokenizer parses the whole file per input: fewer inputs
        Fuzz.run("tokenizer", seed, Math.max(1, N / 5), SEED, dir, "tokenizer.json", f -> {
            try (Tokenizer tok = Tokenizer.load(f)) {
                tok.encodeBatch(List.of("good films", "bad"), null, 8);
            }
        }, IllegalArgumentException.class, IllegalStateException.class);
        byte[] unigram = Fuzz.utf8("""
                {"version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
                 "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": true},
                 "post_processor": null, "decoder": null,
                 "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["\u2581good", -1.0], ["\u2581bad", -1.5],
                   ["s", -2.0], ["\u2581", -3.0]]}}
                """);
        Fuzz.run("tokenizer-unigram", unigram, Math.max(1, N / 5), SEED + 1, dir, "tokenizer.json", f -> {
            try (Tokenizer tok = Tokenizer.load(f)) {
                tok.encodeBatch(List.of("good bads", "bad"), null, 8);
            }
        }, IllegalArgumentException.class, IllegalStateException.class);
    }

    @Test
    void onnx() throws Exception {
        ProtoReaderTest.Msg dims = new ProtoReaderTest.Msg().varint(2).varint(2);
        ProtoReaderTest.Msg tensor = new ProtoReaderTest.Msg().bytes(1, dims.build()).tag(2, 0).varint(1).string(8, "w")
                .bytes(9, ProtoReaderTest.floatsLE(1f, 2f, 3f, 4f));
        ProtoReaderTest.Msg intTensor = new ProtoReaderTest.Msg().tag(2, 0).varint(7).tag(7, 0).varint(12);
        ProtoReaderTest.Msg attr = new ProtoReaderTest.Msg().string(1, "value").message(5, intTensor);
        ProtoReaderTest.Msg constant = new ProtoReaderTest.Msg().string(2, "c_out").string(3, "/c").string(4, "Constant").message(5, attr);
        ProtoReaderTest.Msg matmul = new ProtoReaderTest.Msg().string(1, "x").string(1, "w").string(2, "y").string(3, "/proj/MatMul")
                .string(4, "MatMul");
        ProtoReaderTest.Msg graph = new ProtoReaderTest.Msg().message(1, constant).message(1, matmul).message(5, tensor);
        byte[] seed = new ProtoReaderTest.Msg().tag(1, 0).varint(8).message(7, graph).build();
        Fuzz.run("onnx", seed, N, SEED, dir, "model.onnx", f -> {
            OnnxGraph g = OnnxGraph.parse(Files.readAllBytes(f), f.toString());
            for (OnnxGraph.Initializer i : g.initializers().values()) i.tensor().toFloatArray();
            for (OnnxGraph.Node n : g.nodes()) n.constant();
        }, IllegalArgumentException.class);
    }

    @Test
    void datasets() throws Exception {
        Fuzz.run("tsv", Fuzz.utf8("label\tsentence\n1\ta good film\n0\ta bad plot\n1\tgreat\n"), N, SEED, dir, "train.tsv",
                f -> DatasetReader.read(f, DataOptions.classify()), MalformedDataException.class, IllegalArgumentException.class);
        Fuzz.run("csv", Fuzz.utf8("text,label\n\"a good, fine film\",pos\n\"a \"\"bad\"\" plot\",neg\nok,pos\n"), N, SEED, dir, "train.csv",
                f -> DatasetReader.read(f, DataOptions.classify()), MalformedDataException.class, IllegalArgumentException.class);
        Fuzz.run("jsonl", Fuzz.utf8("{\"text\": \"a good film\", \"label\": 1}\n{\"sentence\": \"bad\", \"label\": 0}\n"), N, SEED, dir,
                "train.jsonl", f -> DatasetReader.read(f, DataOptions.classify()), MalformedDataException.class, IllegalArgumentException.class);
        Fuzz.run("sft", Fuzz.utf8("{\"prompt\": \"Q: 2+2?\", \"completion\": \" 4\"}\n{\"prompt\": \"Hi\", \"completion\": \" there\"}\n"), N,
                SEED, dir, "sft.jsonl", f -> DatasetReader.read(f, DataOptions.of(Task.SFT)), MalformedDataException.class,
                IllegalArgumentException.class);
    }
}
