#!/usr/bin/env bash
# Regenerates every FFM binding class in src/main/java with jextract, from the real headers:
#   org.xcit4j.bindings.xcit.xcit_h       <- native/include/xcit/xcit.h        (libxcit)
#   org.xcit4j.bindings.xcit.xcit_cuda_h  <- native/include/xcit/xcit_cuda.h   (libxcit_cuda)
#   org.xcit4j.bindings.dnnl.dnnl_h       <- oneapi/dnnl/dnnl.h from the org.bytedeco:dnnl jar
#   org.xcit4j.bindings.cuda.cudart_h     <- the toolkit's cuda_runtime_api.h (CUDA 13)
#   org.xcit4j.bindings.cuda.cublasLt_h   <- cublasLt.h from the nvidia_cublas wheel
#   org.xcit4j.bindings.cuda.cudnn_h      <- cudnn_graph.h from the nvidia_cudnn_cu13 wheel
# plus the $shared classes and the structs they use. Our headers are bound whole (every
# XCIT_API function, every integer XCIT_ #define they declare); NVIDIA's headers only for
# the names listed in include/{cudart,cublasLt,cudnn}_subset.h, which declare exactly what
# xcit4j calls (BindingsMatchHeaderTest checks those declarations against NVIDIA's headers,
# and the classes against the declarations).
#
# jextract is on no registry these machines reach; bindings/build-jextract.sh builds it from
# its source (git clone https://github.com/openjdk/jextract) with the JDK 25 and the libclang
# wheel of the local pip index, into ~/.cache/xcit4j/jextract-<commit>/. The checked-in
# classes came from jextract f9866df (libclang 18.1.1) with this script, unedited but for
# the one patch below.
#
# Usage: bindings/regenerate.sh [path/to/jextract]       regenerate src/main/java
#        bindings/regenerate.sh --check [path/to/jextract]
#                    regenerate into a temporary directory and fail on any difference
# Without a path: $JEXTRACT, then jextract on PATH, then the newest build-jextract.sh build.
set -euo pipefail

CHECK=
if [ "${1:-}" = --check ]; then CHECK=1; shift; fi
HERE=$(cd "$(dirname "$0")" && pwd)
JEXTRACT=${1:-${JEXTRACT:-$(command -v jextract || ls -td "${XDG_CACHE_HOME:-$HOME/.cache}"/xcit4j/jextract-*/jextract 2>/dev/null | head -n 1 || true)}}
[ -n "$JEXTRACT" ] && [ -x "$JEXTRACT" ] || {
  echo "regenerate.sh: no jextract (give its path, or build one: bindings/build-jextract.sh JEXTRACT_SOURCE_DIR)" >&2
  exit 1
}
INCLUDE="$HERE/../native/include"
CUDA_INCLUDE=${CUDA_HOME:-/usr/local/cuda}/include
SRC="$HERE/src/main/java"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# names HEADER MARKER function|constant: the functions a header marks with MARKER, or its
# integer #define constants (a stand-in's enum values; our headers' XCIT_ constants).
names() {
  if [ "$3" = function ]; then sed -n "s/^$2 [^(]*[^A-Za-z0-9_(]\([A-Za-z0-9_][A-Za-z0-9_]*\)(.*/\1/p" "$1"
  else sed -n 's/^#define \([A-Za-z0-9_]*\)[ \t][ \t]*-\{0,1\}[0-9][0-9]*[ \t]*\(\/\*.*\)\{0,1\}$/\1/p' "$1"; fi
}
includes() { # HEADER MARKER: jextract's include options for names(HEADER)
  for f in $(names "$1" "$2" function); do printf -- '--include-function %s ' "$f"; done
  for c in $(names "$1" "$2" constant); do printf -- '--include-constant %s ' "$c"; done
}
jextract() { # PACKAGE CLASS jextract-options... HEADER
  local pkg=$1 class=$2; shift 2
  "$JEXTRACT" --output "$OUT" --target-package "$pkg" --header-class-name "$class" "$@" 2>&1 \
    | { grep -v ': warning: Skipping' >&2 || true; }
  [ -f "$OUT/${pkg//.//}/$class.java" ] || { echo "regenerate.sh: jextract wrote no $class" >&2; exit 1; }
}

# shellcheck disable=SC2046
jextract org.xcit4j.bindings.xcit xcit_h -I "$INCLUDE" $(includes "$INCLUDE/xcit/xcit.h" XCIT_API) \
  "$INCLUDE/xcit/xcit.h"
# (the status constants and the ctx functions xcit_cuda.h shares with xcit.h stay in xcit_h)
# shellcheck disable=SC2046
jextract org.xcit4j.bindings.xcit xcit_cuda_h -I "$INCLUDE" $(includes "$INCLUDE/xcit/xcit_cuda.h" XCIT_API) \
  "$INCLUDE/xcit/xcit_cuda.h"

# libdnnl.so.3 <- oneapi/dnnl/dnnl.h from the org.bytedeco:dnnl jar (it ships the headers
# under org/bytedeco/dnnl/linux-x86_64/include): the subset CpuBackend calls.
M2_REPO=${M2_REPO:-$HOME/.m2/repository}
DNNL_JAR=$(ls "$M2_REPO"/org/bytedeco/dnnl/*/dnnl-*-linux-x86_64.jar 2>/dev/null | sort -V | tail -n 1)
[ -n "$DNNL_JAR" ] || { echo "regenerate.sh: no org.bytedeco:dnnl linux-x86_64 jar under $M2_REPO (build once: ./run-tests; or set M2_REPO)" >&2; exit 1; }
unzip -q -o "$DNNL_JAR" 'org/bytedeco/dnnl/linux-x86_64/include/*' -d "$OUT/dnnl-include"
DNNL_INCLUDE="$OUT/dnnl-include/org/bytedeco/dnnl/linux-x86_64/include"
# shellcheck disable=SC2046
jextract org.xcit4j.bindings.dnnl dnnl_h -I "$DNNL_INCLUDE" \
  $(for c in dnnl_success dnnl_cpu dnnl_stream_default_flags dnnl_f32 dnnl_bf16 dnnl_data_type_undef \
      dnnl_format_tag_any dnnl_ab dnnl_ba dnnl_scratchpad_mode_user dnnl_eltwise_gelu_erf \
      dnnl_query_src_md dnnl_query_weights_md dnnl_query_dst_md dnnl_query_scratchpad_md \
      dnnl_query_impl_info_str DNNL_ARG_SRC DNNL_ARG_DST DNNL_ARG_WEIGHTS DNNL_ARG_BIAS \
      DNNL_ARG_SCRATCHPAD DNNL_ARG_FROM DNNL_ARG_TO; do echo --include-constant $c; done) \
  $(for f in dnnl_engine_create dnnl_engine_destroy dnnl_stream_create dnnl_stream_destroy \
      dnnl_stream_wait dnnl_memory_desc_create_with_tag dnnl_memory_desc_create_with_strides \
      dnnl_memory_desc_destroy dnnl_memory_desc_get_size dnnl_memory_desc_equal \
      dnnl_memory_desc_clone dnnl_memory_create dnnl_memory_destroy \
      dnnl_memory_set_data_handle dnnl_matmul_primitive_desc_create \
      dnnl_reorder_primitive_desc_create dnnl_primitive_desc_query_md dnnl_primitive_desc_query \
      dnnl_primitive_desc_destroy dnnl_primitive_create dnnl_primitive_destroy \
      dnnl_primitive_execute dnnl_primitive_attr_create dnnl_primitive_attr_destroy \
      dnnl_primitive_attr_set_post_ops dnnl_primitive_attr_set_scratchpad_mode \
      dnnl_post_ops_create dnnl_post_ops_destroy dnnl_post_ops_append_eltwise \
      dnnl_post_ops_append_sum dnnl_version; do echo --include-function $f; done) \
  "$DNNL_INCLUDE/oneapi/dnnl/dnnl.h"

# NVIDIA's libraries <- their real headers, the names of include/*_subset.h. cuBLAS and
# cuDNN are not in the toolkit: their headers come from the nvidia_cublas and
# nvidia_cudnn_cu13 wheels on the local pip index (nvidia-headers.sh; NVIDIA_INCLUDE
# overrides, e.g. a system cuDNN's include/).
if [ -z "${NVIDIA_INCLUDE:-}" ]; then
  NVIDIA_INCLUDE=$HERE/target/nvidia-include
  bash "$HERE/nvidia-headers.sh" "$NVIDIA_INCLUDE"
fi
for h in cublasLt.h cudnn_graph.h; do
  [ -f "$NVIDIA_INCLUDE/$h" ] || { echo "regenerate.sh: no $h in $NVIDIA_INCLUDE (nvidia-headers.sh says why above)" >&2; exit 1; }
done
# shellcheck disable=SC2046
jextract org.xcit4j.bindings.cuda cudart_h -I "$CUDA_INCLUDE" $(includes "$HERE/include/cudart_subset.h" XCIT_BIND) \
  "$CUDA_INCLUDE/cuda_runtime_api.h"
# shellcheck disable=SC2046
jextract org.xcit4j.bindings.cuda cublasLt_h -I "$CUDA_INCLUDE" -I "$NVIDIA_INCLUDE" \
  $(includes "$HERE/include/cublasLt_subset.h" XCIT_BIND) \
  --include-struct cublasLtMatmulHeuristicResult_t --include-struct cublasLtMatmulAlgo_t "$NVIDIA_INCLUDE/cublasLt.h"
# shellcheck disable=SC2046
jextract org.xcit4j.bindings.cuda cudnn_h -I "$CUDA_INCLUDE" -I "$NVIDIA_INCLUDE" \
  $(includes "$HERE/include/cudnn_subset.h" XCIT_BIND) "$NVIDIA_INCLUDE/cudnn_graph.h"

# The one patch: jextract binds symbols through its SYMBOL_LOOKUP field (loaderLookup, or
# --library). Ours come from NativeLibraries / CudaLibraries (override directory or the
# jar's copy, extracted, owner-checked and ABI-checked), asked only when a function's
# holder class first initialises, so the constants and layouts work without any native
# library and a missing one fails with the loader's message, not at class load.
patch_lookup() { # file, loader constant, loader class (NativeLibraries or CudaLibraries), header
  perl -0pi -e '
    s/^\/\/ Generated by jextract\n/\/\/ Generated by jextract from '"${4//\//\\/}"' with bindings\/regenerate.sh; the symbol lookup patched there.\n/;
    s/\n\s*static final Arena LIBRARY_ARENA = .*?;\n/\n/s;
    s/static final SymbolLookup SYMBOL_LOOKUP = .*?;/static final SymbolLookup SYMBOL_LOOKUP = name -> '"$3"'.require('"$3"'.'"$2"').find(name);/s;
    s/(import static java\.lang\.foreign\.MemoryLayout\.PathElement\.\*;\n)/$1\nimport org.xcit4j.bindings.'"$3"';\n/;
    s/^(public class \w+)/\@SuppressWarnings("unused")\n$1/m;
  ' "$1"
  grep -q "SYMBOL_LOOKUP = name -> $3.require" "$1" || { echo "regenerate.sh: the lookup patch did not apply to $1" >&2; exit 1; }
}
X="$OUT/org/xcit4j/bindings/xcit" D="$OUT/org/xcit4j/bindings/dnnl" C="$OUT/org/xcit4j/bindings/cuda"
patch_lookup "$X/xcit_h.java" XCIT NativeLibraries native/include/xcit/xcit.h
patch_lookup "$X/xcit_cuda_h.java" XCIT_CUDA NativeLibraries native/include/xcit/xcit_cuda.h
patch_lookup "$D/dnnl_h.java" DNNL NativeLibraries oneapi/dnnl/dnnl.h
patch_lookup "$C/cudart_h.java" CUDART CudaLibraries cuda_runtime_api.h
patch_lookup "$C/cublasLt_h.java" CUBLASLT CudaLibraries cublasLt.h
patch_lookup "$C/cudnn_h.java" CUDNN CudaLibraries cudnn_graph.h

status=0
for dir in xcit dnnl cuda; do
  if [ -n "$CHECK" ]; then
    diff -r "$OUT/org/xcit4j/bindings/$dir" "$SRC/org/xcit4j/bindings/$dir" || status=1
  else
    rm -f "$SRC/org/xcit4j/bindings/$dir"/*.java
    cp "$OUT/org/xcit4j/bindings/$dir"/*.java "$SRC/org/xcit4j/bindings/$dir/"
  fi
done
if [ -n "$CHECK" ]; then
  [ "$status" = 0 ] && echo "regenerate.sh --check: the checked-in bindings are what $JEXTRACT writes" \
    || echo "regenerate.sh --check: the checked-in bindings differ from what $JEXTRACT writes (above)" >&2
  exit "$status"
fi
echo "regenerated xcit_h, xcit_cuda_h, dnnl_h, cudart_h, cublasLt_h, cudnn_h (+ \$shared and structs); review the diff, then: ./run-tests"
