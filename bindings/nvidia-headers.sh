#!/usr/bin/env bash
# Extracts NVIDIA's real headers from NVIDIA's wheels on the machine's local pip index into
# DIR, for BindingsMatchHeaderTest to check the hand-written subsets in include/ against:
#   nvidia_cublas 13.1.1.3       cublasLt.h, cublas_api.h
#   nvidia_cudnn_cu13 9.24.0.43  cudnn_graph.h, cudnn_version.h
# (the CUDA runtime's own headers come with the toolkit: $CUDA_HOME/include). It also
# extracts cuDNN's entry library, its graph library and the two engine libraries that
# finalizing a descriptor loads (libcudnn.so.9, libcudnn_graph.so.9,
# libcudnn_engines_{precompiled,runtime_compiled}.so.9, ~420 MB: they load without a GPU)
# into ~/.cache/xcit4j/cudnn-<version>/lib for CudnnBindingsTest; never into the source tree. The wheels are kept in ~/.cache/xcit4j/wheels after the first
# run. Never fails the build: without pip or a wheel it says why, and the tests report the
# header (or library) as not checked.
#
# Usage: bindings/nvidia-headers.sh DIR
set -uo pipefail
out="$1"
cublas_version=13.1.1.3   # the cuBLAS the subset was written against (TOOLCHAIN.md)
cudnn_version=9.24.0.43   # the cuDNN cudnn_subset.h was written against
cache="${XDG_CACHE_HOME:-$HOME/.cache}/xcit4j"
cudnn_lib="$cache/cudnn-$cudnn_version/lib"
mkdir -p "$cache/wheels" "$out"

# shellcheck source=../scripts/env.sh
source "$(dirname "$0")/../scripts/env.sh"
wheel() { local_wheel "$@" || echo "nvidia-headers: so $1's real header (or library) is not checked" >&2; }

if [ ! -f "$out/cublasLt.h" ] || [ ! -f "$out/cublas_api.h" ]; then
    w=$(wheel nvidia-cublas "$cublas_version" nvidia_cublas)
    [ -n "$w" ] && { unzip -q -j -o "$w" 'nvidia/cu13/include/cublasLt.h' 'nvidia/cu13/include/cublas_api.h' -d "$out" \
        || echo "nvidia-headers: cannot unzip $w; cuBLASLt's real header is not checked" >&2; }
fi
if [ ! -f "$out/cudnn_graph.h" ] || [ ! -f "$out/cudnn_version.h" ] \
        || [ ! -f "$cudnn_lib/libcudnn.so.9" ] || [ ! -f "$cudnn_lib/libcudnn_graph.so.9" ] \
        || [ ! -f "$cudnn_lib/libcudnn_engines_precompiled.so.9" ] || [ ! -f "$cudnn_lib/libcudnn_engines_runtime_compiled.so.9" ]; then
    w=$(wheel nvidia-cudnn-cu13 "$cudnn_version" nvidia_cudnn_cu13)
    if [ -n "$w" ]; then
        unzip -q -j -o "$w" 'nvidia/cudnn/include/cudnn_graph.h' 'nvidia/cudnn/include/cudnn_version.h' -d "$out" \
            || echo "nvidia-headers: cannot unzip $w; cuDNN's real header is not checked" >&2
        # Extracted under a temporary name and renamed: a half-written library is never seen.
        mkdir -p "$cudnn_lib" && chmod go-w "$cudnn_lib" \
            && unzip -q -j -o "$w" 'nvidia/cudnn/lib/libcudnn.so.9' 'nvidia/cudnn/lib/libcudnn_graph.so.9' \
                'nvidia/cudnn/lib/libcudnn_engines_precompiled.so.9' 'nvidia/cudnn/lib/libcudnn_engines_runtime_compiled.so.9' -d "$cudnn_lib.tmp$$" \
            && mv -f "$cudnn_lib.tmp$$"/* "$cudnn_lib"/ && rmdir "$cudnn_lib.tmp$$" \
            || echo "nvidia-headers: cannot unzip cuDNN's libraries from $w; CudnnBindingsTest will skip" >&2
    fi
fi
exit 0
