package org.xcit4j.spark;

import java.net.URI;
import org.apache.hadoop.fs.RawLocalFileSystem;

/** The local disk under another scheme ({@code xremote:///abs/path}): a stand-in for HDFS or S3 in tests. */
public final class RemoteFs extends RawLocalFileSystem {
    static final String SCHEME = "xremote";

    @Override
    public URI getUri() {
        return URI.create(SCHEME + ":///");
    }

    @Override
    public String getScheme() {
        return SCHEME;
    }
}
