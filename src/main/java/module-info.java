/** xgblora: XGBLoRA, LoRA and full fine-tuning of transformer models on the JVM. */
module dev.xgblora {
    requires jdk.incubator.vector;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;
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
