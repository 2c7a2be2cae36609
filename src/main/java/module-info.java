/** xgblora: XGBLoRA, LoRA and full fine-tuning of transformer models on the JVM. */
@SuppressWarnings("requires-automatic") // DJL's tokenizers and api jars name themselves by manifest only
module dev.xgblora {
    requires jdk.incubator.vector;
    requires java.management; // thread CPU time for xgblora bench kernels --cpu-time
    requires jdk.management; // per-thread allocated bytes for xgblora bench step
    requires info.picocli;
    requires transitive com.fasterxml.jackson.databind; // ModelConfig.raw() is an ObjectNode
    requires com.fasterxml.jackson.dataformat.yaml; // --config FILE.yaml
    requires ai.djl.tokenizers;
    requires ai.djl.api;
    // DJL's jars are automatic modules, which cannot declare what they need; on the module path the
    // explicit module org.slf4j (DJL's NativeResource logs through it) is resolved only because we
    // name it. Unused by our own code; ModulePathConsumerTest fails without it.
    requires org.slf4j;

    exports dev.xgblora.tensor;
    exports dev.xgblora.kernels;
    exports dev.xgblora.io;
    exports dev.xgblora.model;
    exports dev.xgblora.adapt;
    exports dev.xgblora.train;
    exports dev.xgblora.device.opencl;
    exports dev.xgblora.device.cuda;

    opens dev.xgblora.cli to info.picocli;

    uses dev.xgblora.train.DistributedRunner; // xgblora train --spark (the xgblora-spark module provides it)
}
