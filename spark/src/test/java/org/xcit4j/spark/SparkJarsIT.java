package org.xcit4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;
import org.junit.jupiter.api.Test;

/**
 * The Spark jars as built (failsafe runs this after {@code package}; paths from the pom), as
 * PublishedJarsIT checks the others: the artifact names its module and carries the license and
 * its sources and javadoc jars; the spark-submit jar leaves Spark and Scala to the cluster.
 */
class SparkJarsIT {
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

    @Test
    void theArtifactNamesItsModuleAndCarriesTheLicense() throws IOException {
        Path jar = jar("xcit.jar.spark");
        try (JarFile j = new JarFile(jar.toFile())) {
            assertEquals("org.xcit4j.spark", j.getManifest().getMainAttributes().getValue("Automatic-Module-Name"));
        }
        assertTrue(entries(jar).contains("META-INF/LICENSE"), jar + " has no META-INF/LICENSE");
        String name = jar.getFileName().toString().replace(".jar", "");
        for (String attached : new String[] {"-sources.jar", "-javadoc.jar"}) {
            if (attached.equals("-javadoc.jar") && Boolean.getBoolean("xcit.javadoc.skip")) continue;
            assertTrue(Files.isRegularFile(jar.resolveSibling(name + attached)), name + attached + " not built");
        }
    }

    @Test
    void theSubmitJarCarriesTheStageAndLeavesSparkToTheCluster() throws IOException {
        List<String> entries = entries(jar("xcit.jar.submit"));
        for (String needed : new String[] {"org/xcit4j/spark/XcitClassifier.class", "org/xcit4j/model/Xcit.class",
            "picocli/CommandLine.class"}) {
            assertTrue(entries.contains(needed), needed + " missing");
        }
        List<String> provided = entries.stream()
                .filter(e -> e.startsWith("org/apache/spark/") || e.startsWith("scala/") || e.startsWith("org/apache/hadoop/"))
                .limit(5).toList();
        assertEquals(List.of(), provided, "the spark-submit jar carries classes the cluster provides");
    }
}
