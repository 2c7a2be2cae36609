/** xgblora: XGBLoRA, LoRA and full fine-tuning of transformer models on the JVM. */
@SuppressWarnings("requires-automatic") // DJL's tokenizers and api jars name themselves by manifest only
module dev.xgblora {
    requires jdk.incubator.vector;
    requires info.picocli;
    requires transitive com.fasterxml.jackson.databind; // ModelConfig.raw() is an ObjectNode
    requires ai.djl.tokenizers;
    requires ai.djl.api;

    exports dev.xgblora.tensor;
    exports dev.xgblora.kernels;
    exports dev.xgblora.io;
    exports dev.xgblora.model;
    exports dev.xgblora.adapt;
    exports dev.xgblora.train;

    opens dev.xgblora.cli to info.picocli;
}
