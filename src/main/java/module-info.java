/** xgblora: XGBLoRA, LoRA and full fine-tuning of transformer models on the JVM. */
module dev.xgblora {
    requires jdk.incubator.vector;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;

    exports dev.xgblora.tensor;
    exports dev.xgblora.kernels;
    exports dev.xgblora.model;

    opens dev.xgblora.cli to info.picocli;
}
