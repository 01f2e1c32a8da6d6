package org.xcit4j.bindings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a native/include/xcit header declares, read with regular expressions: enough for
 * the header's deliberately plain style (each prototype starts a line with XCIT_API,
 * integer #defines), not a C parser.
 */
record HeaderPrototypes(Map<String, Prototype> functions, Map<String, Integer> constants) {

    /** Java carrier class per C type: what jextract maps it to. */
    record Prototype(String name, Class<?> returns, List<Class<?>> parameters) {}

    private static final Pattern COMMENTS = Pattern.compile("/\\*.*?\\*/|//[^\\n]*", Pattern.DOTALL);
    private static final Pattern FUNCTION =
            Pattern.compile("(?m)^XCIT_API\\s+([^;(]*?)\\b(xcit_\\w+)\\s*\\(([^)]*)\\)\\s*;");
    private static final Pattern CONSTANT = Pattern.compile("#define[ \\t]+(XCIT_\\w+)[ \\t]+(-?\\d+)");

    static Path includeDir() {
        return Path.of(System.getProperty("xcit.native.include", "../native/include"));
    }

    static HeaderPrototypes parse(String header) throws IOException {
        String text = COMMENTS.matcher(Files.readString(includeDir().resolve(header))).replaceAll(" ");
        Map<String, Prototype> functions = new LinkedHashMap<>();
        Matcher f = FUNCTION.matcher(text);
        while (f.find()) {
            List<Class<?>> params = new ArrayList<>();
            String list = f.group(3).trim();
            if (!list.isEmpty() && !list.equals("void")) {
                for (String param : list.split(",")) {
                    // "const float* gamma" -> the type is everything but the last word
                    params.add(carrier(param.trim().replaceAll("\\w+$", "")));
                }
            }
            functions.put(f.group(2), new Prototype(f.group(2), carrier(f.group(1)), params));
        }
        Map<String, Integer> constants = new LinkedHashMap<>();
        Matcher c = CONSTANT.matcher(text);
        while (c.find()) {
            constants.put(c.group(1), Integer.parseInt(c.group(2)));
        }
        return new HeaderPrototypes(functions, constants);
    }

    private static Class<?> carrier(String cType) {
        String t = cType.replace("const", "").trim();
        if (t.contains("*")) {
            return java.lang.foreign.MemorySegment.class;
        }
        return switch (t) {
            case "void" -> void.class;
            case "int32_t", "xcit_status" -> int.class;
            case "int64_t" -> long.class;
            case "float" -> float.class;
            case "double" -> double.class;
            default -> throw new IllegalArgumentException("type not in the ABI rules (DESIGN.md 5): '" + t + "'");
        };
    }
}
