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
 * What a header declares, read with regular expressions: enough for the deliberately plain
 * style of native/include/xcit/*.h (each prototype starts a line with XCIT_API) and of the
 * stand-ins for NVIDIA's headers in bindings/include (XCIT_BIND, simple typedefs), with
 * integer #defines as constants; not a C parser, and independent of jextract, which wrote
 * the classes this is compared with (bindings/regenerate.sh).
 */
record HeaderPrototypes(Map<String, Prototype> functions, Map<String, Integer> constants) {

    /** Java carrier class per C type: what jextract maps it to. */
    record Prototype(String name, Class<?> returns, List<Class<?>> parameters) {}

    private static final Pattern COMMENTS = Pattern.compile("/\\*.*?\\*/|//[^\\n]*", Pattern.DOTALL);
    private static final Pattern FUNCTION =
            Pattern.compile("(?m)^(?:XCIT_API|XCIT_BIND)\\s+([^;(]*?)\\b(\\w+)\\s*\\(([^)]*)\\)\\s*;");
    private static final Pattern CONSTANT = Pattern.compile("(?m)^#define[ \\t]+(\\w+)[ \\t]+(-?\\d+)[ \\t]*$");
    private static final Pattern TYPEDEF = Pattern.compile("typedef\\s+([^;]*?)\\s*\\b(\\w+)\\s*;");

    static Path includeDir() {
        return Path.of(System.getProperty("xcit.native.include", "../native/include"));
    }

    /** A header of native/include ("xcit/xcit.h"). */
    static HeaderPrototypes parse(String header) throws IOException {
        return parse(includeDir().resolve(header));
    }

    static HeaderPrototypes parse(Path file) throws IOException {
        String text = COMMENTS.matcher(Files.readString(file)).replaceAll(" ");
        Map<String, String> typedefs = new LinkedHashMap<>();
        Matcher t = TYPEDEF.matcher(text);
        while (t.find()) typedefs.put(t.group(2), t.group(1));
        Map<String, Prototype> functions = new LinkedHashMap<>();
        Matcher f = FUNCTION.matcher(text);
        while (f.find()) {
            List<Class<?>> params = new ArrayList<>();
            String list = f.group(3).trim();
            if (!list.isEmpty() && !list.equals("void")) {
                for (String param : list.split(",")) {
                    // "const float* gamma" -> the type is everything but the last word
                    params.add(carrier(param.trim().replaceAll("\\w+$", ""), typedefs));
                }
            }
            functions.put(f.group(2), new Prototype(f.group(2), carrier(f.group(1), typedefs), params));
        }
        Map<String, Integer> constants = new LinkedHashMap<>();
        Matcher c = CONSTANT.matcher(text);
        while (c.find()) {
            constants.put(c.group(1), Integer.parseInt(c.group(2)));
        }
        return new HeaderPrototypes(functions, constants);
    }

    private static Class<?> carrier(String cType, Map<String, String> typedefs) {
        String t = cType.replace("const", "").trim().replaceAll("\\s+", " ");
        for (int depth = 0; depth < 8 && !t.contains("*") && typedefs.containsKey(t); depth++) {
            t = typedefs.get(t).replace("const", "").trim().replaceAll("\\s+", " ");
        }
        if (t.contains("*")) {
            return java.lang.foreign.MemorySegment.class;
        }
        return switch (t) {
            case "void" -> void.class;
            case "int32_t", "xcit_status", "int", "unsigned int" -> int.class;
            case "int64_t", "uint64_t", "size_t", "unsigned long long" -> long.class;
            case "float" -> float.class;
            case "double" -> double.class;
            default -> throw new IllegalArgumentException("type not in the ABI rules (DESIGN.md 5): '" + t + "'");
        };
    }
}
