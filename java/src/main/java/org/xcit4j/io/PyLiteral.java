package org.xcit4j.io;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A parser for the small subset of Python literals that a .npy header uses:
 * dicts, tuples, lists, quoted strings, integers, True, False and None. It only builds
 * values (a .npy header must never be evaluated) and bounds nesting, so any input is safe.
 */
final class PyLiteral {
    /** A Python tuple, kept apart from lists because numpy requires the shape to be a tuple. */
    record Tuple(List<Object> items) {
        @Override
        public String toString() {
            StringBuilder b = new StringBuilder("(");
            for (int i = 0; i < items.size(); i++) b.append(i > 0 ? ", " : "").append(repr(items.get(i)));
            return b.append(items.size() == 1 ? ",)" : ")").toString();
        }
    }

    /** Python's None. */
    static final Object NONE = new Object() {
        @Override
        public String toString() {
            return "None";
        }
    };

    private static final int MAX_DEPTH = 32;

    private final String s;
    private int pos;
    /** Whether the sequence just closed contained a comma; set by {@link #sequence}. */
    private boolean sawComma;

    private PyLiteral(String s) {
        this.s = s;
    }

    /**
     * Parses {@code text}, which must hold one literal and nothing but whitespace after it.
     *
     * @throws IllegalArgumentException with the character offset of the first problem
     */
    static Object parse(String text) {
        PyLiteral p = new PyLiteral(text);
        Object v = p.value(0);
        p.skipSpace();
        if (p.pos != text.length()) throw p.error("unexpected text after the literal");
        return v;
    }

    /** Python-style rendering for messages: strings quoted. */
    static String repr(Object v) {
        return v instanceof String str ? "'" + str + "'" : String.valueOf(v);
    }

    private Object value(int depth) {
        if (depth > MAX_DEPTH) throw error("nesting deeper than " + MAX_DEPTH);
        skipSpace();
        if (pos >= s.length()) throw error("unexpected end");
        char c = s.charAt(pos);
        return switch (c) {
            case '{' -> dict(depth);
            case '(' -> tupleOrParenthesised(depth);
            case '[' -> new ArrayList<>(sequence(']', depth));
            case '\'', '"' -> string();
            default -> {
                if (c == '-' || c == '+' || Character.isDigit(c)) yield integer();
                if (s.startsWith("True", pos)) { pos += 4; yield Boolean.TRUE; }
                if (s.startsWith("False", pos)) { pos += 5; yield Boolean.FALSE; }
                if (s.startsWith("None", pos)) { pos += 4; yield NONE; }
                throw error("unexpected character '" + c + "'");
            }
        };
    }

    private Map<Object, Object> dict(int depth) {
        pos++; // '{'
        Map<Object, Object> out = new LinkedHashMap<>();
        while (true) {
            skipSpace();
            if (peek() == '}') { pos++; return out; }
            int at = pos;
            Object key = value(depth + 1);
            if (key instanceof List || key instanceof Map) throw error("unhashable dict key");
            skipSpace();
            if (peek() != ':') throw error("expected ':'");
            pos++;
            Object v = value(depth + 1);
            if (out.containsKey(key)) {
                pos = at;
                throw error("duplicate key " + repr(key));
            }
            out.put(key, v);
            skipSpace();
            if (peek() == ',') { pos++; continue; }
            if (peek() == '}') { pos++; return out; }
            throw error("expected ',' or '}'");
        }
    }

    /** {@code (x)} is x in Python; only a comma makes a tuple. */
    private Object tupleOrParenthesised(int depth) {
        List<Object> items = sequence(')', depth);
        if (items.size() == 1 && !sawComma) return items.get(0);
        return new Tuple(Collections.unmodifiableList(items));
    }

    private List<Object> sequence(char close, int depth) {
        pos++; // opening bracket
        List<Object> items = new ArrayList<>();
        boolean comma = false;
        while (true) {
            skipSpace();
            if (peek() == close) { pos++; sawComma = comma; return items; }
            items.add(value(depth + 1));
            skipSpace();
            if (peek() == ',') { pos++; comma = true; continue; }
            if (peek() == close) { pos++; sawComma = comma; return items; }
            throw error("expected ',' or '" + close + "'");
        }
    }

    private String string() {
        char quote = s.charAt(pos++);
        StringBuilder b = new StringBuilder();
        while (pos < s.length()) {
            char c = s.charAt(pos++);
            if (c == quote) return b.toString();
            if (c == '\\') {
                if (pos >= s.length()) break;
                char e = s.charAt(pos++);
                b.append(switch (e) {
                    case 'n' -> '\n';
                    case 't' -> '\t';
                    case 'r' -> '\r';
                    case '0' -> '\0';
                    default -> e; // \\, \', \" and anything numpy would never write
                });
            } else {
                b.append(c);
            }
        }
        throw error("unterminated string");
    }

    private Long integer() {
        int start = pos;
        if (peek() == '-' || peek() == '+') pos++;
        while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
        String digits = s.substring(start, pos);
        // Python 2 numpy wrote long dimensions as 3L.
        if (pos < s.length() && (s.charAt(pos) == 'L' || s.charAt(pos) == 'l')) pos++;
        if (pos < s.length() && (s.charAt(pos) == '.' || s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
            throw error("only integers are supported");
        }
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            pos = start;
            throw error("bad integer '" + digits + "'");
        }
    }

    private char peek() {
        return pos < s.length() ? s.charAt(pos) : '\0';
    }

    private void skipSpace() {
        while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) pos++;
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException(what + " at character " + pos);
    }
}
