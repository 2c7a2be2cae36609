package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The relaunch command of {@code java -jar xgblora.jar}; DistributionIT runs it for real. */
class VectorRelaunchTest {
    @Test
    void childKeepsJvmOptionsClassPathAndArgumentsAndAddsTheVectorFlags() {
        List<String> cmd = VectorRelaunch.command(Path.of("/jdk"), List.of("-Xmx1g", "-Dxgblora.threads=2"), "/x/xgblora.jar",
                "dev.xgblora.cli.Main", new String[] {"train", "--steps", "5"});
        assertEquals(List.of(Path.of("/jdk/bin/java").toString(), "-Xmx1g", "-Dxgblora.threads=2", "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-Dxgblora.relaunched=true", "-cp", "/x/xgblora.jar", "dev.xgblora.cli.Main",
                "train", "--steps", "5"), cmd);
    }

    @Test
    void notWantedWhereTheModuleIsAlreadyThere() {
        assertFalse(VectorRelaunch.wanted(), "tests run with --add-modules jdk.incubator.vector");
    }
}
