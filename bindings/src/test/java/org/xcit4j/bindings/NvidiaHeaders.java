package org.xcit4j.bindings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * NVIDIA's real headers (cuda_runtime_api.h, driver_types.h, library_types.h, cublasLt.h,
 * cublas_api.h, cudnn_graph.h) read far enough to check the stand-ins in bindings/include against them:
 * a function's parameters and return value as FFM carriers (what the bindings bind), and
 * the value of an enumerator or #define. Typedef chains are followed (enums are int, any
 * pointer is an address); enumerator values may refer to earlier ones with | and <<. Not
 * a C parser: what it cannot read, it reports as absent, which fails the check.
 */
final class NvidiaHeaders {
    private static final Pattern COMMENTS = Pattern.compile("/\\*.*?\\*/|//[^\\n]*", Pattern.DOTALL);
    /** Calling-convention and attribute macros the prototypes carry. */
    private static final Pattern DECORATIONS =
            Pattern.compile("\\b(extern|CUBLASWINAPI|CUBLASAPI|CUDARTAPI|CUDART_CB|CUDNNWINAPI|CUDNN_DEPRECATED|CUDNN_DEPRECATED_ENUM|__host__|__device__|__\\w*builtin__)\\b|__dv\\([^)]*\\)");
    private static final Pattern TYPEDEF_BODY = Pattern.compile("typedef\\s+(enum|struct)\\s*\\w*\\s*\\{[^}]*}\\s*(\\w+)\\s*;");
    private static final Pattern TYPEDEF = Pattern.compile("typedef\\s+([^;{}]*?)\\s*\\b(\\w+)\\s*;");
    private static final Pattern ENUM_BODY = Pattern.compile("enum\\s*\\w*\\s*\\{([^}]*)}");
    private static final Pattern DEFINE = Pattern.compile("(?m)^#\\s*define[ \\t]+(\\w+)[ \\t]+\\(?(0x[0-9a-fA-F]+|\\d+)\\)?[ \\t]*$");

    private final String text;
    private final Map<String, String> typedefs = new HashMap<>();
    private final Map<String, Long> constants = new HashMap<>();

    private NvidiaHeaders(String source) {
        this.text = source.replaceAll("(?m)^\\s*#.*$", " ");  // prototypes never hold a directive
        Matcher body = TYPEDEF_BODY.matcher(text);
        while (body.find()) typedefs.put(body.group(2), body.group(1).equals("enum") ? "enum" : "struct");
        Matcher t = TYPEDEF.matcher(text);
        while (t.find()) typedefs.putIfAbsent(t.group(2), t.group(1));
        Matcher d = DEFINE.matcher(source);
        while (d.find()) constants.put(d.group(1), Long.decode(d.group(2)));
        Matcher e = ENUM_BODY.matcher(text);
        while (e.find()) {
            long next = 0;
            for (String item : e.group(1).split(",")) {
                String[] kv = item.trim().split("=", 2);
                if (kv[0].isBlank()) continue;
                Long value = kv.length == 2 ? evaluate(kv[1].trim()) : Long.valueOf(next);
                if (value == null) continue;
                constants.put(kv[0].trim(), value);
                next = value + 1;
            }
        }
    }

    static NvidiaHeaders read(List<Path> files) throws IOException {
        StringBuilder all = new StringBuilder();
        for (Path f : files) all.append(Files.readString(f)).append('\n');
        String text = COMMENTS.matcher(all).replaceAll(" ");
        return new NvidiaHeaders(DECORATIONS.matcher(text).replaceAll(" "));
    }

    /** The prototype of {@code name} as carriers, or null if the headers do not declare it. */
    HeaderPrototypes.Prototype function(String name) {
        Matcher m = Pattern.compile("([\\w\\s*]+?)\\b" + name + "\\s*\\(([^;{]*?)\\)\\s*;").matcher(text);
        if (!m.find()) return null;
        List<Class<?>> params = new ArrayList<>();
        String list = m.group(2).trim();
        if (!list.isEmpty() && !list.equals("void")) {
            for (String p : list.split(",")) {
                // "const float* x" -> the type is all but the last word; "T x[]" is a T*
                String param = p.trim().replaceAll("\\s*\\[\\s*]$", "").trim();
                params.add(carrier(param.replaceAll("\\w+$", "") + (p.trim().endsWith("]") ? "*" : "")));
            }
        }
        return new HeaderPrototypes.Prototype(name, carrier(m.group(1)), params);
    }

    /** The value of an enumerator or integer #define, or null. */
    Long constant(String name) {
        return constants.get(name);
    }

    private Long evaluate(String expr) {
        String e = expr.replaceAll("[()]", " ").trim();
        long value = 0;
        for (String part : e.split("\\|")) {
            String[] shift = part.trim().split("<<");
            Long base = term(shift[0].trim());
            if (base == null) return null;
            long v = base;
            if (shift.length == 2) {
                Long by = term(shift[1].trim());
                if (by == null) return null;
                v <<= by;
            }
            value |= v;
        }
        return value;
    }

    private Long term(String t) {
        if (t.matches("-?(0x[0-9a-fA-F]+|\\d+)[uUlL]*")) return Long.decode(t.replaceAll("[uUlL]+$", ""));
        return constants.get(t);
    }

    private Class<?> carrier(String cType) {
        String t = cType.replace("const", " ").replaceAll("\\s+", " ").trim();
        for (int depth = 0; depth < 8; depth++) {
            if (t.contains("*")) return java.lang.foreign.MemorySegment.class;
            if (t.startsWith("enum ")) return int.class;
            if (t.startsWith("struct ")) throw new IllegalArgumentException("a struct by value: " + cType);
            String next = typedefs.get(t);
            if (next == null) break;
            if (next.equals("enum")) return int.class;
            if (next.equals("struct")) throw new IllegalArgumentException("a struct by value: " + cType);
            t = next.replace("const", " ").replaceAll("\\s+", " ").trim();
        }
        return switch (t) {
            case "void" -> void.class;
            case "int", "int32_t", "unsigned int", "unsigned", "uint32_t" -> int.class;
            case "size_t", "int64_t", "uint64_t", "unsigned long long", "long long" -> long.class;
            case "float" -> float.class;
            case "double" -> double.class;
            default -> throw new IllegalArgumentException("cannot map '" + cType + "' (" + t + ")");
        };
    }
}
