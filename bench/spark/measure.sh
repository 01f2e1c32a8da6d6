#!/usr/bin/env bash
# Throughput of ./xcit-spark (local[2], the stage's default of one thread per task) against
# ./xcit classify (one process, all cores) on the same images, in the same run:
#   bench/spark/measure.sh [COUNT] [WEIGHTS [CLASSIFY OPTIONS...]]
# COUNT Fashion-MNIST test images (default 10000, written as PNGs by write_fashion_pngs.py;
# needs the Debian package dataset-fashion-mnist). Each tool runs twice, alternating; the
# times are whole commands (JVM and Spark start-up, model load, writing the output), and the
# Spark job's own line gives the time of its classify-and-write stage alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
count="${1:-10000}"
weights="${2:-models/xcit_fashion_micro.safetensors}"
shift $(( $# > 2 ? 2 : $# ))
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 bench/spark/write_fashion_pngs.py "$work/images" --count "$count" >&2
./xcit info >/dev/null 2>&1; ./xcit-spark --help >/dev/null 2>&1 # build first, outside the timings

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "images: $count Fashion-MNIST test PNGs; weights: $weights $*"
for round in 1 2; do
    t0=$(date +%s.%N)
    ./xcit classify "$work/images" --weights "$weights" --quiet "$@" >"$work/cli.txt"
    t1=$(date +%s.%N)
    rm -rf "$work/out"
    ./xcit-spark classify "$work/images" --weights "$weights" --output "$work/out" --master 'local[2]' "$@" 2>"$work/spark.err"
    t2=$(date +%s.%N)
    grep '^xcit-spark: [0-9]* images' "$work/spark.err" | sed 's/ -> .*//'
    awk -v n="$count" -v a="$t0" -v b="$t1" -v c="$t2" -v r="$round" 'BEGIN {
        printf "round %d: xcit classify %.1f s (%.0f images/s); xcit-spark local[2] %.1f s (%.0f images/s)\n", r, b - a, n / (b - a), c - b, n / (c - b) }'
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
done
