package dev.xgblora.model;

/**
 * The shape of a BERT-family encoder (Hugging Face {@code BertConfig} field meanings).
 *
 * @param hiddenAct "gelu" (exact, erf form) or one of "gelu_new", "gelu_pytorch_tanh", "gelu_fast"
 *                  (tanh form)
 */
public record BertConfig(int hiddenSize, int numLayers, int numHeads, int intermediateSize, int vocabSize,
                         int maxPositions, int typeVocabSize, float normEps, String hiddenAct) {

    public BertConfig {
        if (hiddenSize <= 0 || numLayers <= 0 || numHeads <= 0 || intermediateSize <= 0 || vocabSize <= 0
                || maxPositions <= 0 || typeVocabSize <= 0) {
            throw new IllegalArgumentException("BERT config has a non-positive size: " + this);
        }
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " is not a multiple of num_attention_heads " + numHeads);
        }
        geluTanh(hiddenAct); // validates
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** Whether the activation is the tanh approximation of GELU; rejects activations we do not implement. */
    static boolean geluTanh(String act) {
        return switch (act) {
            case "gelu" -> false;
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> true;
            default -> throw new IllegalArgumentException("hidden_act '" + act
                    + "' is not supported (expected gelu, gelu_new, gelu_pytorch_tanh or gelu_fast)");
        };
    }
}
