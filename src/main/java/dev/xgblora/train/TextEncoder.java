package dev.xgblora.train;

import java.util.List;

/**
 * What the trainer needs from a tokenizer (the io Tokenizer is adapted to this), so that data
 * handling can be tested without a real vocabulary.
 */
public interface TextEncoder {
    /** Encodes with special tokens, truncates to maxLength, pads to the longest row of the batch. */
    EncodedBatch encodeBatch(List<String> texts, List<String> pairsOrNull, int maxLength);

    /** Token ids of {@code text} with no special tokens. */
    int[] encode(String text);

    /** Id that starts a sequence for a decoder (BOS), or -1 when there is none. */
    default int bosId() {
        return -1;
    }

    /** Id that ends a completion (EOS), or -1 when there is none. */
    default int eosId() {
        return -1;
    }

    /** Id used for padding positions (masked anyway). */
    default int padId() {
        return 0;
    }
}
