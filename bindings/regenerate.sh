#!/usr/bin/env bash
# Regenerates the FFM bindings in src/main/java/org/xcit4j/bindings/xcit/ from the C
# headers in native/include/xcit/, with jextract (JDK 22+ builds, e.g. jextract 22/25).
#
# jextract is not installable on this project's machines (no registry they reach has
# it), so the CHECKED-IN CLASSES ARE THE SOURCE OF TRUTH and were written by hand in
# exactly the shape this script produces. What keeps them honest is
# src/test/java/org/xcit4j/bindings/BindingsMatchHeaderTest.java: it parses the headers
# and fails unless both declare the same functions with the same parameter and return
# types and the same constants, and every symbol resolves in the built library.
# When you change a header: edit the class by hand (or run this where jextract exists)
# and add the new names to the include lists below.
#
# Usage: bindings/regenerate.sh [path/to/jextract]
set -euo pipefail

JEXTRACT=${1:-jextract}
HERE=$(cd "$(dirname "$0")" && pwd)
INCLUDE="$HERE/../native/include"
SRC="$HERE/src/main/java"
PKG=org.xcit4j.bindings.xcit
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

command -v "$JEXTRACT" > /dev/null || {
  echo "regenerate.sh: $JEXTRACT not found; the checked-in bindings stay as they are" >&2
  exit 1
}

# libxcit.so <- xcit/xcit.h
"$JEXTRACT" --output "$OUT" --target-package "$PKG" --header-class-name xcit_h \
  -I "$INCLUDE" \
  --include-constant XCIT_ABI_VERSION \
  --include-constant XCIT_OK \
  --include-constant XCIT_ERR_INVALID_ARGUMENT \
  --include-constant XCIT_ERR_OUT_OF_MEMORY \
  --include-constant XCIT_ERR_UNSUPPORTED \
  --include-constant XCIT_ERR_CUDA \
  --include-constant XCIT_ERR_INTERNAL \
  --include-typedef xcit_status \
  --include-function xcit_abi_version \
  --include-function xcit_status_string \
  --include-function xcit_ctx_create \
  --include-function xcit_ctx_destroy \
  --include-function xcit_ctx_last_error \
  --include-function xcit_cpu_layernorm_f32 \
  "$INCLUDE/xcit/xcit.h"

# libxcit_cuda.so <- xcit/xcit_cuda.h (its own class and library; the status constants
# and the ctx functions it shares with xcit.h stay in xcit_h)
"$JEXTRACT" --output "$OUT" --target-package "$PKG" --header-class-name xcit_cuda_h \
  -I "$INCLUDE" \
  --include-function xcit_cuda_abi_version \
  --include-function xcit_cuda_device_count \
  --include-function xcit_cuda_layernorm_f32 \
  "$INCLUDE/xcit/xcit_cuda.h"

# The one patch: jextract binds symbols through a SYMBOL_LOOKUP field (loaderLookup /
# --library). Ours come from NativeLibraries (override directory or the jar's copy,
# extracted and ABI-checked), looked up when a function's holder class first
# initialises, so the constants and layouts work without any native library.
patch_lookup() { # file, NativeLibraries constant
  perl -0pi -e '
    s/\n\s*static final SymbolLookup SYMBOL_LOOKUP = .*?;\n/\n/s;
    s/\n\s*static final Arena LIBRARY_ARENA = .*?;\n/\n/s;
    s/SYMBOL_LOOKUP\.find\(symbol\)/NativeLibraries.require(NativeLibraries.'"$2"').find(symbol)/;
    s/(import static java\.lang\.foreign\.MemoryLayout\.PathElement\.\*;\n)/$1\nimport org.xcit4j.bindings.NativeLibraries;\n/;
    s/^(public class \w+)/\@SuppressWarnings("unused")\n$1/m;
  ' "$1"
}
DIR="$OUT/${PKG//.//}"
patch_lookup "$DIR/xcit_h.java" XCIT
patch_lookup "$DIR/xcit_cuda_h.java" XCIT_CUDA

cp "$DIR/xcit_h.java" "$DIR/xcit_cuda_h.java" "$SRC/${PKG//.//}/"
echo "regenerated $SRC/${PKG//.//}/{xcit_h,xcit_cuda_h}.java; review the diff, then run:"
echo "  mvn -B -pl bindings -am install"
