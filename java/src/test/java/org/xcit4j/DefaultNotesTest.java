package org.xcit4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.xcit4j.backend.Device;
import org.xcit4j.image.Classifier;
import org.xcit4j.image.ClassifierOptions;
import org.xcit4j.model.Session;
import org.xcit4j.model.Xcit;
import org.xcit4j.serve.Predictor;
import org.xcit4j.serve.PredictorOptions;

/**
 * Without a notes callback the library's notes (here: what {@link Device#AUTO} picked) go to
 * {@link System.Logger}, which java.logging backs when present: one INFO record per note, under
 * the logger named after the class that was asked; a given callback still gets them instead.
 */
class DefaultNotesTest {
    private static final Path DEMO = TestData.root().resolve("models/xcit_fashion_micro.safetensors");
    private final Logger library = Logger.getLogger("org.xcit4j");
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            records.add(r);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void listen() {
        // Strong reference held by the field: java.util.logging keeps loggers weakly.
        library.addHandler(capture);
    }

    @AfterEach
    void stopListening() {
        library.removeHandler(capture);
    }

    private void assertOneAutoNote(Class<?> source) {
        List<LogRecord> auto = records.stream().filter(r -> r.getMessage().startsWith("device auto: using ")).toList();
        assertEquals(1, auto.size(), records.stream().map(LogRecord::getMessage).toList().toString());
        assertEquals(source.getName(), auto.getFirst().getLoggerName());
        assertEquals(Level.INFO, auto.getFirst().getLevel());
    }

    @Test
    void predictorNotesGoToItsLogger() throws Exception {
        try (Predictor p = Predictor.open(DEMO, PredictorOptions.DEFAULT.withConcurrency(1))) {
            assertOneAutoNote(Predictor.class);
        }
    }

    @Test
    void classifierNotesGoToItsLogger() throws Exception {
        try (Classifier c = Classifier.open(DEMO, ClassifierOptions.DEFAULT)) {
            assertOneAutoNote(Classifier.class);
        }
    }

    @Test
    void sessionNotesGoToTheModelsLogger() throws Exception {
        try (Xcit model = Xcit.load(DEMO); Session s = model.session(Device.AUTO, 1, 32, 32)) {
            assertOneAutoNote(Xcit.class);
        }
    }

    @Test
    void aCallbackTakesTheNotesInstead() throws Exception {
        List<String> notes = new CopyOnWriteArrayList<>();
        try (Predictor p = Predictor.open(DEMO, PredictorOptions.DEFAULT.withConcurrency(1).withNotes(notes::add))) {
            assertTrue(notes.stream().anyMatch(n -> n.startsWith("device auto: using ")), notes.toString());
            assertEquals(List.of(), records.stream().map(LogRecord::getMessage).toList());
        }
    }
}
