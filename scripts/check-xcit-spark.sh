#!/usr/bin/env bash
# The spark job end to end through its launcher: runs
#   ./xcit-spark classify examples/fashion --weights models/xcit_fashion_micro.safetensors --output OUT --master 'local[2]'
# then checks that the Parquet it wrote (printed by ./xcit-spark show OUT) has exactly the
# predictions and probabilities of ./xcit classify --json on the same images. ./run-tests
# runs it after the Java tests; it also runs on its own (it builds what is missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
weights=models/xcit_fashion_micro.safetensors

./xcit-spark classify examples/fashion --weights "$weights" --output "$work/out" --master 'local[2]'
./xcit-spark show "$work/out" --master 'local[1]' | sort >"$work/spark.json"
# The CLI given the absolute directory names files as the Parquet's path column does.
./xcit classify "$PWD/examples/fashion" --weights "$weights" --json --quiet | sort >"$work/cli.json"

n="$(wc -l <"$work/cli.json")"
if [ "$n" -eq 0 ] || ! diff "$work/cli.json" "$work/spark.json" >"$work/diff"; then
    head -n 20 "$work/diff" >&2
    echo "check-xcit-spark: FAILED: xcit-spark's Parquet differs from xcit classify ($n images; diff above)" >&2
    exit 1
fi
echo "check-xcit-spark: the Parquet from ./xcit-spark has xcit classify's top-5 for all $n images, bit for bit"
