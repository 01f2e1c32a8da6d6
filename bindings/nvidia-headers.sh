#!/usr/bin/env bash
# Extracts NVIDIA's real cuBLASLt headers (cublasLt.h, cublas_api.h) from the nvidia_cublas
# wheel on the machine's local pip index into DIR, for BindingsMatchHeaderTest to check the
# hand-written subsets in include/ against (the CUDA runtime's own headers come with the
# toolkit: $CUDA_HOME/include). The wheel is kept in ~/.cache/xcit4j/wheels after the first
# run. Never fails the build: without pip or the wheel it says why, and the test reports
# the header as not checked.
#
# Usage: bindings/nvidia-headers.sh DIR
set -uo pipefail
out="$1"
wheel_version=13.1.1.3   # the cuBLAS the subset was written against (TOOLCHAIN.md)
[ -f "$out/cublasLt.h" ] && [ -f "$out/cublas_api.h" ] && exit 0
cache="${XDG_CACHE_HOME:-$HOME/.cache}/xcit4j/wheels"
mkdir -p "$cache" "$out"
wheel=$(ls "$cache"/nvidia_cublas-"$wheel_version"-*.whl 2>/dev/null | head -n 1)
if [ -z "$wheel" ]; then
    # Only the configured local indexes: the default (pypi.org) is unreachable here and pip
    # would retry it for minutes.
    indexes=$(pip config list 2>/dev/null | sed -n "s/^global\.\(extra-\)\{0,1\}index-url='\(.*\)'$/\2/p" | tr ' ' '\n' | grep . )
    if [ -z "$indexes" ]; then
        echo "nvidia-headers: no local pip index configured; cuBLASLt's real header is not checked" >&2
        exit 0
    fi
    args=(--index-url "$(echo "$indexes" | head -n 1)")
    for extra in $(echo "$indexes" | tail -n +2); do args+=(--extra-index-url "$extra"); done
    if ! timeout 300 pip download --quiet --no-deps --dest "$cache" "${args[@]}" "nvidia-cublas==$wheel_version" >&2; then
        echo "nvidia-headers: nvidia-cublas==$wheel_version is not on the local pip index; cuBLASLt's real header is not checked" >&2
        exit 0
    fi
    wheel=$(ls "$cache"/nvidia_cublas-"$wheel_version"-*.whl | head -n 1)
fi
unzip -q -j -o "$wheel" 'nvidia/cu13/include/cublasLt.h' 'nvidia/cu13/include/cublas_api.h' -d "$out" \
    || echo "nvidia-headers: cannot unzip $wheel; cuBLASLt's real header is not checked" >&2
exit 0
