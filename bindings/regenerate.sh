#!/usr/bin/env bash
# Regenerates the FFM bindings from C headers, with jextract (JDK 22+ builds, e.g.
# jextract 22/25):
#   src/main/java/org/xcit4j/bindings/xcit/  <- native/include/xcit/{xcit,xcit_cuda}.h
#   src/main/java/org/xcit4j/bindings/cuda/  <- NVIDIA's cuda_runtime_api.h, cublasLt.h
#     (CUDA 12/13) and cudnn_graph.h (cuDNN 9), restricted to the functions and constants xcit4j uses; the same lists
#     are declared in include/{cudart,cublasLt,cudnn}_subset.h, which stand in for NVIDIA's
#     headers on machines without them (cuBLAS is not installed on the build machines).
#
# jextract is not installable on this project's machines (no registry they reach has
# it), so the CHECKED-IN CLASSES ARE THE SOURCE OF TRUTH and were written by hand in
# exactly the shape this script produces. What keeps them honest is
# src/test/java/org/xcit4j/bindings/BindingsMatchHeaderTest.java: it parses the headers
# and fails unless both declare the same functions with the same parameter and return
# types and the same constants, and every symbol resolves in the built library.
# When you change a header: add the new names to the include lists below and run this
# where jextract exists; where it does not, bindings/jextract_shape.py writes the same
# shape from our plain headers (see --no-jextract below). The test checks either way.
#
# Usage: bindings/regenerate.sh [path/to/jextract]
#        bindings/regenerate.sh --no-jextract      (jextract_shape.py, from our headers)
set -euo pipefail

JEXTRACT=${1:-jextract}
HERE=$(cd "$(dirname "$0")" && pwd)
CUDA_INCLUDE=${CUDA_HOME:-/usr/local/cuda}/include

if [ "$JEXTRACT" = "--no-jextract" ]; then
  G="$HERE/jextract_shape.py"
  SRC="$HERE/src/main/java/org/xcit4j/bindings"
  python3 "$G" "$HERE/../native/include/xcit/xcit_cuda.h" org.xcit4j.bindings.xcit xcit_cuda_h \
    "NativeLibraries.require(NativeLibraries.XCIT_CUDA)" XCIT_API 'XCIT_\w+' > "$SRC/xcit/xcit_cuda_h.java"
  python3 "$G" "$HERE/include/cudart_subset.h" org.xcit4j.bindings.cuda cudart_h \
    "CudaLibraries.require(CudaLibraries.CUDART)" XCIT_BIND > "$SRC/cuda/cudart_h.java"
  python3 "$G" "$HERE/include/cublasLt_subset.h" org.xcit4j.bindings.cuda cublasLt_h \
    "CudaLibraries.require(CudaLibraries.CUBLASLT)" XCIT_BIND > "$SRC/cuda/cublasLt_h.java"
  python3 "$G" "$HERE/include/cudnn_subset.h" org.xcit4j.bindings.cuda cudnn_h \
    "CudaLibraries.require(CudaLibraries.CUDNN)" XCIT_BIND > "$SRC/cuda/cudnn_h.java"
  sed -i "s|Mirrors $HERE/../native/include/|Mirrors native/include/|; s|Mirrors $HERE/|Mirrors bindings/|" \
    "$SRC/xcit/xcit_cuda_h.java" "$SRC/cuda/cudart_h.java" "$SRC/cuda/cublasLt_h.java" "$SRC/cuda/cudnn_h.java"
  echo "regenerated xcit_cuda_h, cudart_h, cublasLt_h, cudnn_h with jextract_shape.py; xcit_h is hand-kept"
  exit 0
fi
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
  --include-constant XCIT_ISA_AUTO \
  --include-constant XCIT_ISA_GENERIC \
  --include-constant XCIT_ISA_AVX2 \
  --include-constant XCIT_ISA_AVX512 \
  --include-function xcit_cpu_best_isa \
  --include-function xcit_cpu_set_isa \
  --include-function xcit_cpu_isa \
  --include-function xcit_cpu_set_threads \
  --include-function xcit_cpu_threads \
  --include-function xcit_cpu_layernorm_f32 \
  --include-function xcit_cpu_add_layernorm_f32 \
  --include-function xcit_cpu_gelu_f32 \
  --include-function xcit_cpu_add_scaled_f32 \
  --include-function xcit_cpu_add_broadcast_f32 \
  --include-function xcit_cpu_channel_affine_f32 \
  --include-function xcit_cpu_nchw_to_nhwc_f32 \
  --include-function xcit_cpu_conv3x3s2_f32 \
  --include-function xcit_cpu_im2col3x3s2_f32 \
  --include-function xcit_cpu_xca_f32 \
  --include-function xcit_cpu_xca_gram_f32 \
  --include-function xcit_cpu_xca_softmax_f32 \
  --include-function xcit_cpu_xca_apply_f32 \
  --include-function xcit_cpu_lpi_f32 \
  --include-function xcit_cpu_class_attention_f32 \
  --include-function xcit_cpu_class_attention_folded_f32 \
  --include-function xcit_cpu_class_attention_fold_query_f32 \
  --include-function xcit_cpu_class_attention_folded_scores_f32 \
  --include-function xcit_cpu_softmax_rows_f32 \
  --include-function xcit_cpu_class_attention_folded_sum_f32 \
  --include-function xcit_cpu_class_attention_folded_out_f32 \
  --include-function xcit_cpu_conv_transpose2x2_f32 \
  --include-function xcit_cpu_max_pool_f32 \
  --include-function xcit_cpu_to_bf16 \
  --include-function xcit_cpu_xca_cov_finish_f32 \
  --include-function xcit_cpu_xca_cov_mix_f32 \
  --include-function xcit_cpu_xca_cov_attention_f32 \
  --include-function xcit_cpu_column_sums_f32 \
  --include-function xcit_cpu_gather_row_f32 \
  --include-function xcit_cpu_scatter_row_f32 \
  --include-function xcit_cpu_prepend_row_f32 \
  "$INCLUDE/xcit/xcit.h"

# libxcit_cuda.so <- xcit/xcit_cuda.h (its own class and library; the status constants
# and the ctx functions it shares with xcit.h stay in xcit_h)
# (every function of the header, as listed by the header itself)
CUDA_FUNCTIONS=$(sed -n 's/^XCIT_API [^(]*\b\(xcit_cuda_[a-z0-9_]*\)(.*/\1/p' "$INCLUDE/xcit/xcit_cuda.h")
"$JEXTRACT" --output "$OUT" --target-package "$PKG" --header-class-name xcit_cuda_h \
  -I "$INCLUDE" \
  --include-constant XCIT_CUDA_F32 --include-constant XCIT_CUDA_F16 --include-constant XCIT_CUDA_BF16 \
  --include-constant XCIT_CUDA_LINEAR_GELU --include-constant XCIT_CUDA_LINEAR_BATCHED_WEIGHTS \
  --include-constant XCIT_CUDA_LINEAR_ACCUMULATE --include-constant XCIT_CUDA_CONVERT_MAX \
  $(for f in $CUDA_FUNCTIONS; do printf -- '--include-function %s ' "$f"; done) \
  "$INCLUDE/xcit/xcit_cuda.h"

# libdnnl.so.3 <- oneapi/dnnl/dnnl.h from the org.bytedeco:dnnl jar (it ships the
# headers under org/bytedeco/dnnl/linux-x86_64/include): the subset CpuBackend calls.
DNNL_JAR=$(ls ~/.m2/repository/org/bytedeco/dnnl/*/dnnl-*-linux-x86_64.jar | sort -V | tail -n 1)
DNNL_INC="$OUT/dnnl-include"
mkdir -p "$DNNL_INC"
unzip -q -o "$DNNL_JAR" 'org/bytedeco/dnnl/linux-x86_64/include/*' -d "$DNNL_INC"
DNNL_INC="$DNNL_INC/org/bytedeco/dnnl/linux-x86_64/include"
"$JEXTRACT" --output "$OUT" --target-package org.xcit4j.bindings.dnnl --header-class-name dnnl_h \
  -I "$DNNL_INC" \
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
  "$DNNL_INC/oneapi/dnnl/dnnl.h"
# NVIDIA's libraries <- their real headers, the names of include/*_subset.h.
names() { # header, kind: the XCIT_BIND functions or the #define constants of a stand-in
  if [ "$2" = function ]; then sed -n 's/^XCIT_BIND [^(]*\b\([A-Za-z0-9_]*\)(.*/\1/p' "$1"
  else sed -n 's/^#define \([A-Za-z0-9_]*\) -\{0,1\}[0-9][0-9]*$/\1/p' "$1"; fi
}
includes() { # header
  for f in $(names "$1" function); do printf -- '--include-function %s ' "$f"; done
  for c in $(names "$1" constant); do printf -- '--include-constant %s ' "$c"; done
}
# shellcheck disable=SC2046
"$JEXTRACT" --output "$OUT" --target-package org.xcit4j.bindings.cuda --header-class-name cudart_h \
  -I "$CUDA_INCLUDE" $(includes "$HERE/include/cudart_subset.h") "$CUDA_INCLUDE/cuda_runtime_api.h"
# shellcheck disable=SC2046
"$JEXTRACT" --output "$OUT" --target-package org.xcit4j.bindings.cuda --header-class-name cublasLt_h \
  -I "$CUDA_INCLUDE" $(includes "$HERE/include/cublasLt_subset.h") \
  --include-struct cublasLtMatmulHeuristicResult_t "$CUDA_INCLUDE/cublasLt.h"
# cuDNN's header is not in the toolkit: the one nvidia-headers.sh extracts from the
# nvidia_cudnn_cu13 wheel (CUDNN_INCLUDE overrides, e.g. a system cuDNN's include/).
CUDNN_INCLUDE=${CUDNN_INCLUDE:-$HERE/target/nvidia-include}
bash "$HERE/nvidia-headers.sh" "$HERE/target/nvidia-include"
# shellcheck disable=SC2046
"$JEXTRACT" --output "$OUT" --target-package org.xcit4j.bindings.cuda --header-class-name cudnn_h \
  -I "$CUDA_INCLUDE" -I "$CUDNN_INCLUDE" $(includes "$HERE/include/cudnn_subset.h") "$CUDNN_INCLUDE/cudnn_graph.h"

# The one patch: jextract binds symbols through a SYMBOL_LOOKUP field (loaderLookup /
# --library). Ours come from NativeLibraries (override directory or the jar's copy,
# extracted and ABI-checked), looked up when a function's holder class first
# initialises, so the constants and layouts work without any native library.
patch_lookup() { # file, loader constant, loader class (NativeLibraries or CudaLibraries)
  perl -0pi -e '
    s/\n\s*static final SymbolLookup SYMBOL_LOOKUP = .*?;\n/\n/s;
    s/\n\s*static final Arena LIBRARY_ARENA = .*?;\n/\n/s;
    s/SYMBOL_LOOKUP\.find\(symbol\)/'"$3"'.require('"$3"'.'"$2"').find(symbol)/;
    s/(import static java\.lang\.foreign\.MemoryLayout\.PathElement\.\*;\n)/$1\nimport org.xcit4j.bindings.'"$3"';\n/;
    s/^(public class \w+)/\@SuppressWarnings("unused")\n$1/m;
  ' "$1"
}
DIR="$OUT/${PKG//.//}"
patch_lookup "$DIR/xcit_h.java" XCIT
patch_lookup "$DIR/xcit_cuda_h.java" XCIT_CUDA
patch_lookup "$OUT/org/xcit4j/bindings/dnnl/dnnl_h.java" DNNL

cp "$DIR/xcit_h.java" "$DIR/xcit_cuda_h.java" "$SRC/${PKG//.//}/"
cp "$OUT/org/xcit4j/bindings/dnnl/dnnl_h.java" "$SRC/org/xcit4j/bindings/dnnl/"
echo "regenerated xcit_h, xcit_cuda_h and dnnl_h; review the diff, then run: ./run-tests"
patch_lookup "$DIR/xcit_h.java" XCIT NativeLibraries
patch_lookup "$DIR/xcit_cuda_h.java" XCIT_CUDA NativeLibraries
CDIR="$OUT/org/xcit4j/bindings/cuda"
patch_lookup "$CDIR/cudart_h.java" CUDART CudaLibraries
patch_lookup "$CDIR/cublasLt_h.java" CUBLASLT CudaLibraries
patch_lookup "$CDIR/cudnn_h.java" CUDNN CudaLibraries

cp "$DIR/xcit_h.java" "$DIR/xcit_cuda_h.java" "$SRC/${PKG//.//}/"
cp "$CDIR/cudart_h.java" "$CDIR/cublasLt_h.java" "$CDIR/cudnn_h.java" "$CDIR/cublasLtMatmulHeuristicResult_t.java" \
  "$SRC/org/xcit4j/bindings/cuda/"
echo "regenerated xcit_h, xcit_cuda_h, cudart_h, cublasLt_h, cudnn_h (+ the heuristic struct); review the diff, then run:"
echo "  mvn -B -pl bindings -am install"
