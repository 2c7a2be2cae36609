package dev.xgblora.model;

/**
 * Sizes of a Llama-family decoder that every layer needs.
 *
 * @param invFreq RoPE frequencies for one head (headDim / 2), theta and any scaling folded in
 */
public record DecoderDims(int hidden, int heads, int kvHeads, int headDim, int intermediate, int vocab,
                          float normEps, float[] invFreq) {

    public DecoderDims {
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        if (headDim % 2 != 0 || invFreq.length != headDim / 2) {
            throw new IllegalArgumentException("RoPE needs headDim / 2 = " + headDim / 2 + " frequencies, got " + invFreq.length);
        }
        invFreq = invFreq.clone();
    }

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    public float attentionScale() {
        return (float) (1.0 / Math.sqrt(headDim));
    }
}
