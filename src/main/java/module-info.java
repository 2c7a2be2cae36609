/** xgblora: XGBLoRA, LoRA and full fine-tuning of transformer models on the JVM. */
module dev.xgblora {
    requires jdk.incubator.vector;
    requires java.management; // thread CPU time for xgblora bench kernels --cpu-time
    requires info.picocli;
    requires com.fasterxml.jackson.databind;

    exports dev.xgblora.tensor;
    exports dev.xgblora.kernels;

    opens dev.xgblora.cli to info.picocli;
}
