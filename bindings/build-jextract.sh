#!/usr/bin/env bash
# Builds jextract from its source, for bindings/regenerate.sh. jextract is on no registry
# these machines reach (not Maven Central, not Debian, not pip), but it is plain Java on
# top of libclang: javac compiles it with the project's JDK 25, and libclang comes from the
# `libclang` wheel on the local pip index (the same LLVM 18 C library jextract's own
# builds bundle; only libclang.so is taken from it).
#
# Get the source once with git (https://github.com/openjdk/jextract; the bindings in
# src/main/java were generated at commit f9866df, "Support variable array parameters").
# The result goes to ~/.cache/xcit4j/jextract-<commit or "src">/, never into the tree;
# its launcher path is printed last.
#
# Usage: bindings/build-jextract.sh JEXTRACT_SOURCE_DIR   (a checkout, or a bare clone: its HEAD)
set -euo pipefail
src=$(cd "${1:?usage: build-jextract.sh JEXTRACT_SOURCE_DIR}" && pwd)
# The commit names the build only when $src is itself a clone (not a tree inside another repository).
rev=src
if [ "$(git -C "$src" rev-parse --is-bare-repository 2>/dev/null)" = true ] \
    || [ "$(git -C "$src" rev-parse --show-toplevel 2>/dev/null)" = "$src" ]; then
  rev=$(git -C "$src" rev-parse --short HEAD)
fi
origin=$src
if [ "$(git -C "$src" rev-parse --is-bare-repository 2>/dev/null)" = true ]; then  # a bare clone: its HEAD
  tree=$(mktemp -d) && trap 'rm -rf "$tree"' EXIT
  git -C "$src" archive HEAD | tar -x -C "$tree"
  src=$tree
fi
[ -f "$src/src/main/java/module-info.java" ] && grep -q "module org.openjdk.jextract" "$src/src/main/java/module-info.java" \
  || { echo "build-jextract: $src is not a jextract source tree (no src/main/java/module-info.java for org.openjdk.jextract)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../scripts/env.sh
source "$here/../scripts/env.sh"
find_jdk > /dev/null

out="${XDG_CACHE_HOME:-$HOME/.cache}/xcit4j/jextract-$rev"
libclang_version=18.1.1
rm -rf "$out" && mkdir -p "$out/classes" "$out/lib"

find "$src/src/main/java" -name '*.java' > "$out/sources.txt"
"$JAVA_HOME/bin/javac" -nowarn --module-version "0-$rev" -d "$out/classes" @"$out/sources.txt" >&2
cp -r "$src/src/main/resources/." "$out/classes/"

wheel=$(local_wheel libclang "$libclang_version" libclang) || { echo "build-jextract: no libclang wheel" >&2; exit 1; }
unzip -q -j -o "$wheel" '*/clang/native/libclang.so' -d "$out/lib"

# libclang's wheel has no compiler builtin headers (stddef.h, stdarg.h); GCC's serve for
# the C headers bound here.
builtin=$(gcc -print-file-name=include 2>/dev/null || true)
cat > "$out/jextract" <<EOF
#!/usr/bin/env bash
# jextract $rev, built by bindings/build-jextract.sh from $origin
exec "$JAVA_HOME/bin/java" --enable-native-access=org.openjdk.jextract -Djava.library.path="$out/lib" \\
  -p "$out/classes" -m org.openjdk.jextract/org.openjdk.jextract.JextractTool ${builtin:+-I \"$builtin\"} "\$@"
EOF
chmod +x "$out/jextract"
"$out/jextract" --version >&2 || true
echo "$out/jextract"
