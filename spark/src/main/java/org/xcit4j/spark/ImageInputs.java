package org.xcit4j.spark;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.RemoteIterator;
import org.xcit4j.image.ImageFiles;

/**
 * The image files a job's arguments name, as URIs the executors read: local arguments as
 * {@code xcit classify} expands them ({@link ImageFiles#expand}: directories recursively, by
 * extension, sorted; a missing file kept, so that it becomes an error row), other URIs
 * (hdfs://, s3a://, globs) listed through Hadoop's FileSystem with the same extension rule.
 */
final class ImageInputs {
    private ImageInputs() {
    }

    static List<String> expand(List<String> args, Configuration conf) throws IOException {
        List<String> out = new ArrayList<>();
        for (String a : args) {
            if (hasScheme(a) && !a.startsWith("file:")) {
                listRemote(a, conf, out);
            } else {
                Path local = a.startsWith("file:") ? Path.of(URI.create(a)) : Path.of(a);
                for (Path p : ImageFiles.expand(List.of(local))) out.add(p.toAbsolutePath().normalize().toUri().toString());
            }
        }
        return out;
    }

    private static boolean hasScheme(String s) {
        try {
            return new URI(s).getScheme() != null;
        } catch (URISyntaxException e) {
            return false;
        }
    }

    private static void listRemote(String location, Configuration conf, List<String> out) throws IOException {
        org.apache.hadoop.fs.Path pattern = new org.apache.hadoop.fs.Path(location);
        FileSystem fs = pattern.getFileSystem(conf);
        FileStatus[] matches = fs.globStatus(pattern);
        if (matches == null || matches.length == 0) throw new IOException(location + ": no such file or directory");
        List<String> found = new ArrayList<>();
        for (FileStatus m : matches) {
            if (m.isFile()) {
                found.add(m.getPath().toString());
                continue;
            }
            RemoteIterator<LocatedFileStatus> files = fs.listFiles(m.getPath(), true);
            while (files.hasNext()) {
                org.apache.hadoop.fs.Path p = files.next().getPath();
                if (ImageFiles.hasImageExtension(Path.of(p.getName()))) found.add(p.toString());
            }
        }
        found.sort(null);
        out.addAll(found);
    }
}
