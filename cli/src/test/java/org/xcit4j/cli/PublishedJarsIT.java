package org.xcit4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;
import org.junit.jupiter.api.Test;

/**
 * The jars as built (failsafe runs this after {@code package}; paths from the pom): each names its
 * module and carries the license; the library carries no CLI dependency; the runnable jar
 * carries nothing that is never loaded.
 */
class PublishedJarsIT {
    /** Classes only the CLI may bring: picocli, progressbar and its jline. */
    private static final List<String> CLI_ONLY = List.of("picocli/", "me/tongfei/", "org/jline/", "org/xcit4j/cli/");

    private static Path jar(String property) {
        Path p = Path.of(System.getProperty(property, "(system property " + property + " not set)"));
        assertTrue(Files.isRegularFile(p), p + " not built");
        return p;
    }

    private static List<String> entries(Path jar) throws IOException {
        try (JarFile j = new JarFile(jar.toFile())) {
            return j.stream().map(ZipEntry::getName).toList();
        }
    }

    private static Attributes manifest(Path jar) throws IOException {
        try (JarFile j = new JarFile(jar.toFile())) {
            return j.getManifest().getMainAttributes();
        }
    }

    @Test
    void everyPublishedJarNamesItsModuleAndCarriesTheLicense() throws IOException {
        String[][] jars = {{"xcit.jar.library", "org.xcit4j"}, {"xcit.jar.bindings", "org.xcit4j.bindings"},
            {"xcit.jar.cli", "org.xcit4j.cli"}};
        for (String[] j : jars) {
            Path jar = jar(j[0]);
            assertEquals(j[1], manifest(jar).getValue("Automatic-Module-Name"), jar.toString());
            assertTrue(entries(jar).contains("META-INF/LICENSE"), jar + " has no META-INF/LICENSE");
            String name = jar.getFileName().toString().replace(".jar", "");
            for (String attached : new String[] {"-sources.jar", "-javadoc.jar"}) {
                if (attached.equals("-javadoc.jar") && Boolean.getBoolean("xcit.javadoc.skip")) continue;
                assertTrue(Files.isRegularFile(jar.resolveSibling(name + attached)), name + attached + " not built");
            }
        }
    }

    @Test
    void theLibraryCarriesNoCliDependency() throws IOException {
        Path library = jar("xcit.jar.library");
        List<String> cli = entries(library).stream().filter(e -> CLI_ONLY.stream().anyMatch(e::startsWith)).toList();
        assertEquals(List.of(), cli, library + " carries CLI classes");
        assertTrue(entries(library).contains("org/xcit4j/model/Xcit.class"));
    }

    @Test
    void theRunnableJarCarriesOnlyWhatIsLoaded() throws IOException {
        Path fat = jar("xcit.jar.runnable");
        List<String> entries = entries(fat);
        assertEquals("org.xcit4j.cli.Main", manifest(fat).getValue("Main-Class"));
        assertEquals("ALL-UNNAMED", manifest(fat).getValue("Enable-Native-Access"));
        for (String needed : new String[] {"org/xcit4j/natives/linux-x86_64/libxcit.so",
            "org/bytedeco/dnnl/linux-x86_64/libdnnl.so.3", "org/bytedeco/dnnl/linux-x86_64/libgomp.so.1",
            "org/xcit4j/cli/Main.class", "picocli/CommandLine.class"}) {
            assertTrue(entries.contains(needed), fat + " lacks " + needed);
        }
        // oneDNN's JNI glue (xcit4j calls libdnnl through FFM), its headers and CMake files, GraalVM
        // configs, jline's natives for platforms other than the one libxcit.so is built for.
        List<String> dead = entries.stream().filter(e -> !e.endsWith("/")).filter(e -> e.endsWith("libjnidnnl.so")
                || e.startsWith("org/bytedeco/dnnl/linux-x86_64/include/") || e.startsWith("org/bytedeco/dnnl/linux-x86_64/lib/")
                || e.startsWith("META-INF/native-image/")
                || (e.startsWith("org/jline/nativ/") && !e.endsWith(".class") && !e.endsWith(".properties")
                        && !e.startsWith("org/jline/nativ/Linux/x86_64/"))).toList();
        assertEquals(List.of(), dead, fat + " carries files that are never loaded");
    }

    /**
     * The jars on the module path, as automatic modules org.xcit4j and org.xcit4j.bindings: the
     * native CPU backend opens (libxcit from the bindings' module, oneDNN from its jar, which
     * stays on the class path: its module descriptor requires the JavaCPP API xcit4j leaves out).
     */
    @Test
    void theLibraryRunsOnTheModulePath() throws Exception {
        List<String> modules = new ArrayList<>(List.of(jar("xcit.jar.library").toString(), jar("xcit.jar.bindings").toString()));
        List<String> classPath = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String name = Path.of(e).getFileName().toString();
            if (name.startsWith("dnnl-") || name.equals("test-classes")) classPath.add(e);
            else if (name.startsWith("gson-") || name.startsWith("error_prone") || name.startsWith("imageio-")
                    || name.startsWith("common-")) modules.add(e);
        }
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--module-path", String.join(File.pathSeparator, modules), "--add-modules", "ALL-MODULE-PATH",
                "--enable-native-access=org.xcit4j,org.xcit4j.bindings,ALL-UNNAMED", "-cp", String.join(File.pathSeparator, classPath),
                ModulePathProbe.class.getName()).redirectErrorStream(true);
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), out);
        assertEquals(0, p.exitValue(), out);
        assertEquals("org.xcit4j cpu ok", out.strip(), String.join(" ", pb.command()));
    }
}
