package org.xcit4j.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.xcit4j.backend.Backends;
import org.xcit4j.backend.cpu.CpuInfo;
import org.xcit4j.bindings.NativeLibraries;
import org.xcit4j.model.ModelZoo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;

/** {@code xcit info}: what this machine and build can run. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Print the Java runtime, native libraries, CPU features, CUDA devices and the model zoo.")
final class InfoCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.printf("java: %s (%s) at %s%n", Runtime.version(), System.getProperty("java.vendor"), System.getProperty("java.home"));
        for (String line : NativeLibraries.describe()) out.println("native library " + line);
        CpuInfo cpu = CpuInfo.detect();
        out.printf("cpu: %s, %d logical cores, %s%n", cpu.model(), cpu.logicalCores(), cpu.relevantFlags());
        out.println("cuda: " + Backends.cudaStatus());
        String cpuReason = Backends.cpuUnavailableReason();
        out.println("native library dnnl: " + NativeLibraries.describe(NativeLibraries.DNNL));
        out.println("backends: java (reference) available; cpu: " + (cpuReason == null ? "available" : cpuReason));
        out.println("models (timm names; tags .fb_in1k and .fb_dist_in1k accepted):");
        for (ModelZoo.Entry e : ModelZoo.entries()) {
            ModelZoo.Architecture a = e.architecture();
            out.printf("  %-24s patch %2d  C %3d  depth %2d  heads %2d  tokens_norm %-5s  %,d params%n",
                    e.name(), a.patchSize(), a.embedDim(), a.depth(), a.numHeads(), a.tokensNorm(), a.params());
        }
        return 0;
    }
}
