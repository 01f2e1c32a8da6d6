package org.xcit4j.cli;

import org.xcit4j.backend.Backends;
import org.xcit4j.model.Xcit;

/**
 * Run by {@link PublishedJarsIT} in a JVM with the library and its dependencies on the module
 * path (this class on the class path): prints the library's module and whether the native CPU
 * backend opens there, i.e. whether libxcit and oneDNN's libraries are found across modules.
 */
public final class ModulePathProbe {
    private ModulePathProbe() {
    }

    public static void main(String[] args) {
        String cpu = Backends.cpuUnavailableReason();
        System.out.println(Xcit.class.getModule().getName() + " " + (cpu == null ? "cpu ok" : "cpu: " + cpu));
    }
}
