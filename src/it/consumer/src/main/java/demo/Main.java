package demo;

import dev.xgblora.adapt.Preset;
import dev.xgblora.train.FineTuneBuilder;
import java.nio.file.Path;

/** README's five-line program: fine-tune a model directory with XGBLoRA. Args: MODEL_DIR TRAIN VALID OUTPUT STEPS. */
public final class Main {
    public static void main(String[] args) {
        var out = FineTuneBuilder.model(Path.of(args[0]))
                .trainFile(Path.of(args[1])).validFile(Path.of(args[2])).output(Path.of(args[3]))
                .method(Preset.XGBLORA, b -> b.stepsPerRound(2))
                .settings(c -> c.steps(Integer.parseInt(args[4])))
                .run();
        System.out.println("accuracy " + out.before().accuracy() + " -> " + out.after().accuracy() + ", merged model in " + out.merged());
    }
}
