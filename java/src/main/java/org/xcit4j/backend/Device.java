package org.xcit4j.backend;

import java.util.Locale;

/** Where a session runs. {@link #AUTO} picks the best available and says which. */
public enum Device {
    AUTO, JAVA, CPU, CUDA;

    public static Device parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown device '" + name + "': expected auto, java, cpu or cuda");
        }
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
