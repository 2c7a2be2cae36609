package dev.xgblora.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.module.ModuleFinder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code java -jar xgblora.jar} cannot add {@code jdk.incubator.vector} (a jar manifest has no
 * such attribute), so {@link Main} starts the same command again in a child JVM with the flags the
 * vector kernels need, and exits with its status. Not when the module is already there, when
 * {@code -Dxgblora.kernels=reference} asks for the reference kernels, when the runtime lacks the
 * module (then {@code Backends} warns loudly with the fix), or with {@code -Dxgblora.relaunch=false}.
 */
final class VectorRelaunch {
    static final String MODULE = "jdk.incubator.vector";
    static final List<String> FLAGS = List.of("--add-modules", MODULE, "--enable-native-access=ALL-UNNAMED", "-Dxgblora.relaunched=true");

    private VectorRelaunch() {
    }

    /** Whether this JVM should hand over to a relaunched one. */
    static boolean wanted() {
        return ModuleLayer.boot().findModule(MODULE).isEmpty()
                && ModuleFinder.ofSystem().find(MODULE).isPresent()
                && !"reference".equals(System.getProperty("xgblora.kernels", "").trim())
                && !Boolean.getBoolean("xgblora.relaunched")
                && !"false".equals(System.getProperty("xgblora.relaunch"));
    }

    /** The child's command line: this JVM's options, the vector flags, the same class path, main class and arguments. */
    static List<String> command(Path javaHome, List<String> jvmArgs, String classPath, String mainClass, String[] args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaHome.resolve("bin").resolve("java").toString());
        cmd.addAll(jvmArgs);
        cmd.addAll(FLAGS);
        cmd.add("-cp");
        cmd.add(classPath);
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Runs the child with this process's stdin/stdout/stderr and returns its exit status. */
    static int run(String[] args) {
        List<String> cmd = command(Path.of(System.getProperty("java.home")), ManagementFactory.getRuntimeMXBean().getInputArguments(),
                System.getProperty("java.class.path"), Main.class.getName(), args);
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        // the launcher already expanded these into the input arguments copied above; twice would double agents etc.
        Map<String, String> env = pb.environment();
        env.remove("JDK_JAVA_OPTIONS");
        env.remove("JAVA_TOOL_OPTIONS");
        try {
            Process p = pb.start();
            Thread stop = new Thread(p::destroy, "xgblora-relaunch-stop");
            Runtime.getRuntime().addShutdownHook(stop);
            int code = p.waitFor();
            Runtime.getRuntime().removeShutdownHook(stop);
            return code;
        } catch (IOException e) {
            System.err.println("error: could not relaunch with --add-modules " + MODULE + " (" + e.getMessage() + "); run: "
                    + String.join(" ", cmd.subList(0, cmd.size() - args.length)) + " ...");
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        }
    }
}
