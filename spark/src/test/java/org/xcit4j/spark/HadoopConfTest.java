package org.xcit4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/** The driver's Hadoop settings reach executors in another JVM: through Java serialization, as a task carries them. */
class HadoopConfTest {
    @Test
    void settingsSurviveSerialization() throws Exception {
        Configuration conf = new Configuration(false);
        conf.set("fs.xremote.impl", RemoteFs.class.getName());
        conf.set("fs.s3a.endpoint", "http://127.0.0.1:9000");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(new HadoopConf(conf));
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            Configuration back = ((HadoopConf) in.readObject()).get();
            assertEquals(RemoteFs.class.getName(), back.get("fs.xremote.impl"));
            assertEquals("http://127.0.0.1:9000", back.get("fs.s3a.endpoint"));
        }
    }
}
