package dev.xgblora.spark;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.xgblora.train.FineTuneBuilder;

/** Replica 0's outcome as the text a Spark task returns to the driver (skipped steps' NaN losses included). */
final class OutcomeJson {
    private static final JsonMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    private OutcomeJson() {
    }

    static String write(FineTuneBuilder.Outcome o) {
        try {
            return JSON.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode the outcome: " + e.getOriginalMessage(), e);
        }
    }

    static FineTuneBuilder.Outcome read(String text) {
        try {
            return JSON.readValue(text, FineTuneBuilder.Outcome.class);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot decode replica 0's outcome: " + e.getOriginalMessage(), e);
        }
    }
}
