#!/usr/bin/env bash
# Every GPU check of xcit4j in one go, for anyone with an NVIDIA GPU (about 6 minutes on
# one H200): the C GPU tests, `xcit selftest` in fp32, tf32, fp16 and bf16 over a fixed set
# of zoo models and sizes, and `xcit bench --device cuda` on a fixed table of cases, each
# under a timeout, then ONE summary table (case, status, error against the tolerance or
# median ms, images/s). Exit code 0 when every row is ok, 1 otherwise (also: no CUDA device).
#
# Usage, from the project root:
#   scripts/gpu-check.sh                  # after ./run-tests (or any build of cli/target/xcit.jar)
#   scripts/gpu-check.sh --pack .gpu      # here, after a build: what a GPU machine without Java needs,
#                                         # in .gpu (a jlink'd Java runtime and the unpacked jar, both xz'd,
#                                         # and the C GPU tests); carry .gpu along with the checkout
#   scripts/gpu-check.sh --packed .gpu    # on that GPU machine: the checks, from the folder --pack wrote
#   scripts/gpu-check.sh --dry-run        # print the commands, run nothing
#   scripts/gpu-check.sh --summarize DIR  # the table again from the logs of an earlier run
# Options:
#   --jar FILE | --app DIR (an unpacked jar) | --classpath CP (e.g. a test JVM's)   what to run
#   --tests DIR      the C GPU tests (default bindings/target/native-build)
#   --logs DIR       default $OUT/gpu-check when $OUT is set, else target/gpu-check
#   --budget SECONDS bench, peer, profile and sanitizer cases not started by then are skipped (default 360)
#   --peers          timm eager (fp32, bf16 autocast) and torch.compile (bf16, CUDA graphs) on the
#                    same GPU and weights for the bench cases (bench/peers/peers_cuda.py; torch + timm)
#   --profile        within the budget: one forward of each PROFILE_CASES entry under Nsight Compute (ncu,
#                    kernel durations only), then rows of its kernel time by kernel (top PROFILE_TOP)
#   --sanitize       last, within the budget: compute-sanitizer's memcheck and racecheck on the C GPU
#                    tests of the kernels with shared memory and workspaces (SANITIZE_CASES), a row each
# Java: $JAVA_HOME if it holds a Java >= 25 runtime, else a JDK found as scripts/env.sh does.
# XCIT_JAVA_OPTS: extra JVM options for every xcit command (word-split), e.g. -Dxcit.cuda.cudnn=true.
# A precision written P+VARIANT (a selftest precision or a bench case's) runs P with the variant's
# switch, beside the same case without it (both opt-in, not yet measured):
#   P+cudnn   -Dxcit.cuda.cudnn=true: the patch-embedding convs and the FPN's transposed convs
#             (selftest's dense levels) through cuDNN
#   P+im2col  -Dxcit.cuda.im2col=true: the patch-embedding convs after the first as im2col + cuBLASLt
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The fixed cases. selftest: every model at every size, per precision. bench: MODEL SIZE BATCH PRECISION TIMEOUT_S.
PRECISIONS="fp32 tf32 fp16 bf16 fp32+cudnn bf16+cudnn bf16+im2col"
SELFTEST_MODELS="xcit_nano_12_p16,xcit_small_12_p16,xcit_small_12_p8"
SELFTEST_SIZES="224,384"
SELFTEST_TIMEOUT=100
BENCH_CASES=(
    "xcit_small_12_p16 224x224 1 fp32 60"
    "xcit_small_12_p16 224x224 1 fp32+im2col 60"
    "xcit_small_12_p16 224x224 1 bf16 60"
    "xcit_small_12_p16 224x224 1 bf16+im2col 60"
    "xcit_small_12_p16 224x224 64 bf16 60"
    "xcit_small_12_p16 224x224 64 bf16+im2col 60"
    "xcit_small_12_p16 224x224 256 bf16 90"
    "xcit_small_12_p16 224x224 256 bf16+im2col 90"
    "xcit_small_12_p16 224x224 256 bf16+cudnn 90"
    "xcit_small_12_p16 1024x1024 1 fp32 60"
    "xcit_small_12_p16 1024x1024 1 bf16 60"
    "xcit_small_12_p16 1024x1024 1 bf16+im2col 60"
    "xcit_small_12_p16 4096x4096 1 fp32 90"
    "xcit_small_12_p16 4096x4096 1 bf16 90"
    "xcit_small_12_p16 8192x8192 1 bf16 120"
    "xcit_small_12_p8 4096x4096 1 bf16 120"
    "xcit_small_12_p16 8192x8192 1 fp32 120"
    "xcit_small_12_p8 4096x4096 1 fp32 120"
)
CTEST_TIMEOUT=120
# --profile: MODEL SIZE BATCH PRECISION TIMEOUT_S. The bench command of the case with one run, under
# ncu for its first PROFILE_LAUNCHES kernels; the table takes the eager forward of the session's
# prepare (from the input's nchw_to_nhwc_kernel to the outputs' convert_kernel).
PROFILE_CASES=(
    "xcit_small_12_p16 224x224 256 bf16 240"
    "xcit_small_12_p16 224x224 256 bf16+im2col 240"
    "xcit_small_12_p16 224x224 1 fp32 120"
)
PROFILE_LAUNCHES=800
PROFILE_TOP=12
# --sanitize: TOOL TEST (a C GPU test of --tests), each under SANITIZE_TIMEOUT.
SANITIZE_CASES=(
    "memcheck test_gpu_gemm"
    "memcheck test_gpu_xca"
    "racecheck test_gpu_xca"
    "racecheck test_gpu_class_attention"
    "racecheck test_gpu_gemm"
    "racecheck test_gpu_lpi"
)
SANITIZE_TIMEOUT=180

die() { echo "gpu-check: $*" >&2; exit 1; }
say() { [ "${dry:-0}" = 1 ] || echo "== $(date +%T) $*" >&2; }
bench_name() { echo "$1_$2_b$3_$4"; } # MODEL SIZE BATCH PRECISION
# P+VARIANT -> the JVM options of the variant (none for a plain precision); the precision itself is ${P%%+*}.
variant_opts() { case "$1" in *+cudnn) echo "-Dxcit.cuda.cudnn=true" ;; *+im2col) echo "-Dxcit.cuda.im2col=true" ;; esac; }

# ---- the summary: one table from the logs ---------------------------------------------------

# selftest log -> one row per case: "| selftest P CASE | status | worst output: err / bound | img/s |".
selftest_rows() { # PRECISION LOG RC
    local p=$1 log=$2 rc=$3
    [ -f "$log" ] || log=/dev/null
    awk -v p="$p" -v rc="$rc" -v limit="$SELFTEST_TIMEOUT" -v models="$SELFTEST_MODELS" -v sizes="$SELFTEST_SIZES" '
        function flush() {
            if (name == "") return
            seen[name] = 1
            ms = median == "" ? "" : sprintf("%.3f ms", median)
            ips = median == "" ? "" : sprintf("%.1f", 1000 / median)
            printf "| selftest %s %s | %s | %s %.2e / bound %.2e = %.2g%s | %s |\n", p, name,
                bad ? "FAILED" : "ok", worst, werr, wbound, wratio, ms == "" ? "" : "; " ms, ips
            name = ""
        }
        /^xcit_[a-z0-9_]+: reference/ { flush(); name = substr($1, 1, length($1) - 1); bad = 0; wratio = -1; median = "" }
        name != "" && /max\|err\|/ {
            err = $3 + 0; bound = $0; sub(/.*bound /, "", bound); sub(/\).*/, "", bound); bound += 0
            ratio = bound > 0 ? err / bound : 1e30
            if ($NF != "ok") { bad = 1; ratio = ratio < 1 ? 1e30 : ratio }
            if (ratio > wratio) { wratio = ratio; worst = $1; werr = err; wbound = bound }
        }
        name != "" && /median run/ { median = $4 + 0 }
        /^selftest: (all|[0-9]+ output)/ { finished = 1 }
        NF > 0 { last = $0 }
        END {
            flush()
            why = rc == "" ? "no log" : rc == 124 ? "after " limit " s" : finished ? "not in the log" : "rc=" rc (last == "" ? "" : ": " last)
            gsub(/\|/, "/", why)
            n = split(models, ms_, ","); k = split(sizes, ss_, ",")
            for (i = 1; i <= n; i++) for (j = 1; j <= k; j++) {
                c = ms_[i] "_" ss_[j]
                if (!(c in seen)) printf "| selftest %s %s | %s | %s | |\n", p, c, rc == 124 ? "TIMEOUT" : "not run", why
            }
        }' "$log" 2>/dev/null || true
}

bench_row() { # MODEL SIZE BATCH PRECISION TIMEOUT DIR
    local base="$6/bench/$(bench_name "$1" "$2" "$3" "$4")" case="bench $1 $2 b$3 $4"
    local rc; rc=$(cat "$base.rc" 2>/dev/null || echo "")
    local line; line=$(grep -h '"median_ms"' "$base.json" 2>/dev/null | tail -n 1)
    if [ -z "$rc" ]; then
        echo "| $case | $(grep -qx "$case" "$6/skipped" 2>/dev/null && echo "SKIPPED | time budget spent" || echo "not run |") | |"
    elif [ "$rc" = 0 ] && [ -n "$line" ]; then
        echo "$line" | awk -v c="$case" '{
            m = $0; sub(/.*"median_ms": */, "", m); sub(/[,}].*/, "", m)
            b = $0; sub(/.*"batch": */, "", b); sub(/[,}].*/, "", b)
            printf "| %s | ok | %.3f ms | %.1f |\n", c, m, b * 1000 / m }'
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "| $case | TIMEOUT | after $5 s | |"
    else
        local why; why=$(grep -v '^\s*$' "$base.err" 2>/dev/null | grep -v '^WARNING' | tail -n 1 | cut -c1-160 | tr '|' '/')
        echo "| $case | FAILED | rc=$rc: ${why:-no message} | |"
    fi
}

# compute-sanitizer logs -> one row per SANITIZE_CASES entry (only where --sanitize ran).
sanitize_rows() { # LOG_DIR
    local dir=$1 c tool t base rc summary errors first why
    for c in "${SANITIZE_CASES[@]}"; do
        read -r tool t <<< "$c"
        base="$dir/sanitize/${t}_$tool"
        rc=$(cat "$base.rc" 2>/dev/null || echo "")
        # memcheck ends "ERROR SUMMARY: N errors", racecheck "RACECHECK SUMMARY: N hazards displayed (...)".
        summary=$(grep -E '(ERROR|RACECHECK) SUMMARY: [0-9]+' "$base.log" 2>/dev/null | tail -n 1 | sed 's/^=* *//')
        errors=$(echo "$summary" | sed -n 's/^[A-Z]* SUMMARY: \([0-9][0-9]*\) .*/\1/p')
        if [ -z "$rc" ]; then
            why=$(head -n 1 "$base.none" 2>/dev/null)
            [ -n "$why" ] || why=$(head -n 1 "$dir/sanitize/none" 2>/dev/null)
            echo "| sanitize $tool $t | not run | ${why:-time budget spent} | |"
        elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            echo "| sanitize $tool $t | TIMEOUT | after $SANITIZE_TIMEOUT s | |"
        elif [ "$rc" = 0 ] && [ "$errors" = 0 ]; then
            echo "| sanitize $tool $t | ok | $summary | |"
        else
            first=$(grep -E '^=+ +[A-Z]' "$base.log" 2>/dev/null | grep -v -m1 'COMPUTE-SANITIZER' | cut -c1-120 | tr '|' '/')
            echo "| sanitize $tool $t | FAILED | rc=$rc, ${summary:-no summary}; ${first:-see $base.log} | |"
        fi
    done
}

# ncu CSV (details page, --print-units base) -> the forward's kernel time, and the top kernels by time.
profile_rows() { # LOG_DIR
    local dir=$1 c base rc case why
    for c in "${PROFILE_CASES[@]}"; do
        set -- $c
        base="$dir/profile/$(bench_name "$1" "$2" "$3" "$4")" case="profile $1 $2 b$3 $4"
        rc=$(cat "$base.rc" 2>/dev/null || echo "")
        if [ -z "$rc" ]; then
            why=$(head -n 1 "$dir/profile/none" 2>/dev/null)
            echo "| $case | not run | ${why:-time budget spent} | |"
        elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            echo "| $case | TIMEOUT | after $5 s | |"
        elif [ "$rc" != 0 ] || [ ! -s "$base.csv" ]; then
            # xcit's last word, not ncu's own (==PROF== / ==WARNING== lines), unless ncu said nothing else.
            why=$(grep -v '^\s*$' "$base.log" 2>/dev/null | grep -v '^WARNING' | grep -v '^==[A-Z]*==' | tail -n 1 | cut -c1-160 | tr '|' '/')
            [ -n "$why" ] || why=$(grep '^==ERROR==' "$base.log" 2>/dev/null | tail -n 1 | cut -c1-160 | tr '|' '/')
            echo "| $case | FAILED | rc=$rc: ${why:-no profile} | |"
        else
            awk -v c="$case" -v top="$PROFILE_TOP" -v most="$PROFILE_LAUNCHES" '
                function short(s) { sub(/^void /, "", s); gsub(/\(anonymous namespace\)::|<unnamed>::|xcit::/, "", s); sub(/[<(].*/, "", s); return s }
                function ns(v, u) { gsub(/[",]/, "", v); return v * (u ~ /^(ms|msecond)$/ ? 1e6 : u ~ /^(us|usecond)$/ ? 1e3 : u ~ /^(s|second)$/ ? 1e9 : 1) }
                BEGIN { FS = "\",\"" }
                /^"ID","/ { for (i = 1; i <= NF; i++) { h = $i; gsub(/"/, "", h); col[h] = i }; next }
                !("Metric Name" in col) || $col["Metric Name"] != "gpu__time_duration.sum" { next }
                {
                    k = short($col["Kernel Name"])
                    if (!started && k != "nchw_to_nhwc_kernel") next
                    started = 1; t = ns($col["Metric Value"], $col["Metric Unit"])
                    total += t; n++; sum[k] += t; count[k]++
                    if (k == "convert_kernel") { whole = 1; exit }
                }
                END {
                    if (!started) { printf "| %s | FAILED | no forward among the profiled kernels (no nchw_to_nhwc_kernel) | |\n", c; exit }
                    printf "| %s | %s | one forward: %.3f ms of kernel time in %d kernels%s | |\n", c, whole ? "ok" : "FAILED",
                        total / 1e6, n, whole ? "" : " before the profile ended (PROFILE_LAUNCHES " most " too few)"
                    for (r = 1; r <= top && total > 0; r++) {
                        best = ""
                        for (k in sum) if (!(k in shown) && (best == "" || sum[k] > sum[best])) best = k
                        if (best == "") break
                        shown[best] = 1
                        printf "| %s: %s | ok | %.3f ms in %d (%.1f%%) | |\n", c, best, sum[best] / 1e6, count[best], 100 * sum[best] / total
                    }
                }' "$base.csv"
        fi
    done
}

summarize() { # LOG_DIR -> the table on stdout; returns 1 if any row is not ok
    local dir=$1 t
    {
        echo "| case | status | error / bound (selftest), message, or median ms | img/s |"
        echo "|---|---|---|---:|"
        local found=0
        for t in "$dir"/ctest/*.log; do
            [ -f "$t" ] || continue
            found=1
            local n rc last; n=$(basename "$t" .log); rc=$(cat "$dir/ctest/$n.rc" 2>/dev/null || echo "?")
            last=$(grep -v '^\s*$' "$t" | tail -n 1 | cut -c1-120 | tr '|' '/')
            case "$rc" in
                0) echo "| C $n | ok | $last | |" ;;
                124|137) echo "| C $n | TIMEOUT | after $CTEST_TIMEOUT s | |" ;;
                *) echo "| C $n | FAILED | rc=$rc: $last | |" ;;
            esac
        done
        [ $found = 1 ] || echo "| C GPU tests | not run | $(cat "$dir/ctest.none" 2>/dev/null || echo "no logs") | |"
        [ -d "$dir/sanitize" ] && sanitize_rows "$dir"
        [ -d "$dir/profile" ] && profile_rows "$dir"
        for p in $PRECISIONS; do
            selftest_rows "$p" "$dir/selftest/$p.log" "$(cat "$dir/selftest/$p.rc" 2>/dev/null || echo "")"
        done
        for c in "${BENCH_CASES[@]}"; do
            # shellcheck disable=SC2086
            bench_row $c "$dir"
        done
        if [ -f "$dir/peers.jsonl" ]; then
            awk '/"median_ms"/ {
                    m = $0; sub(/.*"median_ms": */, "", m); sub(/[,}].*/, "", m)
                    i = $0; sub(/.*"img_per_s": */, "", i); sub(/[,}].*/, "", i)
                    s = $0; sub(/.*"size": "/, "", s); sub(/".*/, "", s)
                    b = $0; sub(/.*"batch": */, "", b); sub(/[,}].*/, "", b)
                    l = $0; sub(/.*"label": "/, "", l); sub(/".*/, "", l)
                    n = $0; sub(/.*"model": "/, "", n); sub(/".*/, "", n)
                    printf "| %s %s %s b%s | ok | %.3f ms | %.1f |\n", l, n, s, b, m, i }' "$dir/peers.jsonl"
        fi
    } > "$dir/summary.md"
    cat "$dir/summary.md"
    ! grep -q '^| [^|]* | \(FAILED\|TIMEOUT\|not run\|SKIPPED\) |' "$dir/summary.md"
}

# ---- options --------------------------------------------------------------------------------

jar="$ROOT/cli/target/xcit.jar" app="" classpath="" packed="" pack="" tests="$ROOT/bindings/target/native-build" logs="" budget=360
dry=0 peers=0 sanitize=0 profile=0 only_summary=""
while [ $# -gt 0 ]; do
    case "$1" in
        --jar) jar=$2; shift 2 ;;
        --app) app=$2; shift 2 ;;
        --classpath) classpath=$2; shift 2 ;;
        --pack) pack=$2; shift 2 ;;
        --packed) packed=$2; shift 2 ;;
        --tests) tests=$2; shift 2 ;;
        --logs) logs=$2; shift 2 ;;
        --budget) budget=$2; shift 2 ;;
        --peers) peers=1; shift ;;
        --sanitize) sanitize=1; shift ;;
        --profile) profile=1; shift ;;
        --dry-run) dry=1; shift ;;
        --summarize) only_summary=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
done
if [ -n "$only_summary" ]; then
    [ -d "$only_summary" ] || die "--summarize: no such folder: $only_summary"
    summarize "$only_summary"
    exit $?
fi

# ---- --pack DIR: what a GPU machine without Java needs, made here --------------------------

# DIR/jrt.tar.xz (a jlink'd Java runtime, ~21 MB), DIR/app.tar.xz (the jar unpacked, ~17 MB),
# DIR/tests/ (the C GPU tests). A machine that receives at most 64 MiB gets the checkout and DIR.
pack() { # DIR
    local out=$1 jdk_home
    [ -f "$jar" ] || die "$jar not found: build first (./run-tests, or ./mvnw -DskipTests package)"
    # shellcheck source=env.sh
    source "$ROOT/scripts/env.sh"
    find_jdk || exit 1
    jdk_home=$JAVA_HOME
    [ -x "$jdk_home/bin/jlink" ] || die "$jdk_home has no jlink (a JDK is needed, not a runtime)"
    rm -rf "$out" && mkdir -p "$out/tests" || die "cannot write $out"
    tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT # global: the trap runs after this function
    # The modules the CLI uses (images: java.desktop; notes: java.logging; JIT and memory: java.management).
    # An uncompressed jimage compresses far better under xz than jlink's own zip.
    "$jdk_home/bin/jlink" --add-modules java.base,java.desktop,java.logging,java.management,java.xml,jdk.unsupported,java.naming \
        --strip-debug --no-header-files --no-man-pages --output "$tmp/jrt" || die "jlink failed"
    tar -C "$tmp" -cf - jrt | xz -6 -T0 > "$out/jrt.tar.xz" || die "packing the runtime failed"
    mkdir "$tmp/app" && (cd "$tmp/app" && "$jdk_home/bin/jar" -xf "$jar") || die "unpacking $jar failed"
    tar -C "$tmp" -cf - app | xz -6 -T0 > "$out/app.tar.xz" || die "packing the application failed"
    find "$tests" -maxdepth 1 -type f \( -name 'test_gpu_*' -o -name 'test_cuda_*' \) -perm -u+x -exec cp {} "$out/tests/" \;
    local packed_kb checkout_kb
    packed_kb=$(du -sk "$out" | cut -f1)
    checkout_kb=$( (cd "$ROOT" && git ls-files -z 2>/dev/null | xargs -0 du -ck 2>/dev/null | tail -n 1 | cut -f1) || echo 0)
    echo "gpu-check: packed $out: $((packed_kb / 1024)) MiB ($(ls "$out/tests" | wc -l) C GPU tests); with the checkout" \
        "($((checkout_kb / 1024)) MiB) $(((packed_kb + checkout_kb) / 1024)) MiB of the 64 MiB a GPU machine receives" >&2
    [ $((packed_kb + checkout_kb)) -le $((64 * 1024)) ] || echo "gpu-check: warning: over 64 MiB together" >&2
    echo "gpu-check: on the GPU machine, from the project root: scripts/gpu-check.sh --packed $out" >&2
}
if [ -n "$pack" ]; then
    pack "$pack"
    exit 0
fi
logs=${logs:-${OUT:+$OUT/gpu-check}}
logs=${logs:-$ROOT/target/gpu-check}

# ---- Java and the application ---------------------------------------------------------------

java_release() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1; }
if [ -n "$packed" ]; then
    # The layout --pack writes: jrt.tar.xz (a jlink'd runtime), app.tar.xz (the jar unpacked), tests/.
    [ -f "$packed/jrt.tar.xz" ] && [ -f "$packed/app.tar.xz" ] || die "--packed $packed: no jrt.tar.xz and app.tar.xz there (run scripts/gpu-check.sh --pack $packed first)"
    unpacked=$(mktemp -d /tmp/xcit-gpu-check.XXXXXX)
    trap 'rm -rf "$unpacked"' EXIT
    if [ $dry = 0 ]; then
        tar -C "$unpacked" -xJf "$packed/jrt.tar.xz" && tar -C "$unpacked" -xJf "$packed/app.tar.xz" || die "unpacking $packed failed"
    fi
    export JAVA_HOME="$unpacked/jrt"
    app="$unpacked/app" tests="$packed/tests"
elif [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && [ "$(java_release "$JAVA_HOME")" -ge 25 ] 2>/dev/null; then
    :
else
    # shellcheck source=env.sh
    source "$ROOT/scripts/env.sh"
    find_jdk || exit 1
fi
if [ -n "$classpath" ]; then
    cp_arg="$classpath" natives=""
elif [ -n "$app" ]; then
    [ $dry = 1 ] || [ -d "$app/org/xcit4j" ] || die "--app $app: not an unpacked xcit.jar (no org/xcit4j in it)"
    cp_arg="$app" natives="$app/org/xcit4j/natives/linux-x86_64:$app/org/bytedeco/dnnl/linux-x86_64"
else
    [ $dry = 1 ] || [ -f "$jar" ] || die "$jar not found: build first (./run-tests, or ./mvnw -DskipTests package)"
    cp_arg="$jar" natives=""
fi
# shellcheck disable=SC2206
JAVA_OPTS=(${XCIT_JAVA_OPTS:-})
# xcit with the JVM options of a precision's variant (P+cudnn, P+im2col) added: xcit_cmd P, then "${CMD[@]}" ARGS...
xcit_cmd() { # PRECISION
    # shellcheck disable=SC2207
    local opts=($(variant_opts "$1"))
    CMD=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Xss4m -XX:+UseSerialGC ${JAVA_OPTS[@]+"${JAVA_OPTS[@]}"}
         ${opts[@]+"${opts[@]}"} -cp "$cp_arg" org.xcit4j.cli.Main)
}
xcit_cmd plain
XCIT=("${CMD[@]}")

# cuBLASLt (optional for xcit4j, which then uses its own GEMM) and cuDNN (opt-in) often come with a
# Python venv's NVIDIA wheels.
extra=$( { find /usr/local/cuda*/lib* /opt \( -name 'libcublasLt.so.1[0-9]*' -o -name 'libcudnn.so.9' \) 2>/dev/null
           command -v python3 >/dev/null && python3 -c 'import site, sys; print("\n".join(site.getsitepackages()))' 2>/dev/null \
               | xargs -r -I{} find {}/nvidia \( -name 'libcublasLt.so.1[0-9]*' -o -name 'libcudnn.so.9' \) 2>/dev/null; } \
         | xargs -r -n1 dirname | sort -u | tr '\n' ':')
export LD_LIBRARY_PATH="${natives:+$natives:}${extra}/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# Runs COMMAND under TIMEOUT seconds: stdout and stderr to BASE.log, or (SPLIT=1) stdout to BASE.json
# and stderr to BASE.err; the exit code (124: timed out) to BASE.rc. --dry-run prints it instead.
run() { # TIMEOUT BASE SPLIT COMMAND...
    local limit=$1 base=$2 split=$3; shift 3
    if [ $dry = 1 ]; then
        local a shown=()
        for a in "$@"; do [[ $a == *[[:space:]]* ]] && shown+=("'$a'") || shown+=("$a"); done
        echo "timeout $limit ${shown[*]}"
        return 0
    fi
    if [ "$split" = 1 ]; then
        timeout --kill-after=10 "$limit" "$@" > "$base.json" 2> "$base.err"
    else
        timeout --kill-after=10 "$limit" "$@" > "$base.log" 2>&1
    fi
    echo $? > "$base.rc"
}

if [ $dry = 1 ]; then
    echo "# JAVA_HOME=$JAVA_HOME"
    echo "# LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    echo "# logs: $logs"
fi

# ---- 0. a device, or stop at once ---------------------------------------------------------
if [ $dry = 0 ]; then
    info=$("${XCIT[@]}" info 2>&1)
    cuda=$(echo "$info" | sed -n 's/^cuda: //p' | head -n 1)
    [ -n "$cuda" ] || die "no CUDA device: 'xcit info' printed no cuda line; its last line: $(echo "$info" | tail -n 1)"
    case "$cuda" in "not available"*) die "no CUDA device: ${cuda#not available: }" ;; esac
    rm -rf "$logs" && mkdir -p "$logs/ctest" "$logs/selftest" "$logs/bench" || die "cannot write $logs"
    echo "$info" > "$logs/info.log"
    say "device: $cuda"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >> "$logs/info.log" 2>&1
fi
start=$SECONDS
over_budget() { [ $((SECONDS - start)) -ge "$budget" ]; }

# ---- 1. C GPU tests -------------------------------------------------------------------------
ctests=$(find "$tests" -maxdepth 1 -type f \( -name 'test_gpu_*' -o -name 'test_cuda_*' \) -perm -u+x 2>/dev/null | sort)
if [ -z "$ctests" ]; then
    none="none in $tests (built only where nvcc is on the PATH)"
    if [ $dry = 1 ]; then echo "# C GPU tests: $none"; else echo "$none" > "$logs/ctest.none"; fi
else
    say "C GPU tests ($tests)"
    for t in $ctests; do run $CTEST_TIMEOUT "$logs/ctest/$(basename "$t")" 0 "$t"; done
fi

# ---- 2. selftest in every precision -------------------------------------------------------
for p in $PRECISIONS; do
    say "selftest $p"
    xcit_cmd "$p"
    run $SELFTEST_TIMEOUT "$logs/selftest/$p" 0 "${CMD[@]}" selftest --device cuda --precision "${p%%+*}" \
        --models "$SELFTEST_MODELS" --sizes "$SELFTEST_SIZES" --runs 20
done

# ---- 3. bench ---------------------------------------------------------------------------------
for c in "${BENCH_CASES[@]}"; do
    set -- $c
    if [ $dry = 0 ] && over_budget; then echo "bench $1 $2 b$3 $4" >> "$logs/skipped"; continue; fi
    say "bench $1 $2 batch $3 $4"
    runs=20; [ "${2%%x*}" -ge 4096 ] && runs=5
    xcit_cmd "$4"
    run "$5" "$logs/bench/$(bench_name "$1" "$2" "$3" "$4")" 1 "${CMD[@]}" bench --model "$1" --size "$2" --batch "$3" \
        --precision "${4%%+*}" --device cuda --runs $runs --warmup 2
done

# ---- 4. timm on the same GPU (optional) ------------------------------------------------------
if [ $peers = 1 ]; then
    done_cases=" "
    for c in "${BENCH_CASES[@]}"; do
        set -- $c
        case="$1@$2/$3"
        case "$done_cases" in *" $case "*) continue ;; esac  # one run per model, size and batch
        done_cases="$done_cases$case "
        [ $dry = 0 ] && over_budget && break
        # timm eager fp32 and bf16, torch.compile bf16; xcit4j was timed in step 3
        cmd=(python3 "$ROOT/bench/peers/peers_cuda.py" --case "$case" --skip-ours --runs 20 --warmup 5
             --out "$logs/peers/$1_$2_b$3" --workdir "$logs/peers/work")
        if [ $dry = 1 ]; then echo "timeout $((3 * $5)) ${cmd[*]}"; continue; fi
        timeout $((3 * $5)) "${cmd[@]}" > /dev/null 2>> "$logs/peers.err"
        cat "$logs/peers/$1_$2_b$3/peers_cuda.jsonl" >> "$logs/peers.jsonl" 2> /dev/null
    done
fi

# ---- 5. one forward per PROFILE_CASES entry under Nsight Compute (optional) ---------------------
if [ $profile = 1 ]; then
    ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -n 1)
    [ $dry = 1 ] || mkdir -p "$logs/profile"
    if [ -z "$ncu" ]; then
        none="no ncu (Nsight Compute) on the PATH or in /usr/local/cuda*/bin"
        if [ $dry = 1 ]; then echo "# profile: $none"; else echo "$none" > "$logs/profile/none"; fi
    else
        for c in "${PROFILE_CASES[@]}"; do
            set -- $c
            [ $dry = 0 ] && over_budget && break
            say "ncu: one forward of $1 $2 batch $3 $4"
            base="$logs/profile/$(bench_name "$1" "$2" "$3" "$4")"
            xcit_cmd "$4"
            # Kernel durations only (one pass: no replay), clocks and caches as in a plain run.
            run "$5" "$base" 0 "$ncu" --metrics gpu__time_duration.sum --clock-control none --cache-control none \
                --launch-count $PROFILE_LAUNCHES --target-processes all --export "$base" --force-overwrite \
                "${CMD[@]}" bench --model "$1" --size "$2" --batch "$3" --precision "${4%%+*}" --device cuda --runs 1 --warmup 0
            if [ $dry = 1 ]; then
                echo "$ncu --import $base.ncu-rep --csv --page details --print-units base"
            elif [ -f "$base.ncu-rep" ]; then
                "$ncu" --import "$base.ncu-rep" --csv --page details --print-units base > "$base.csv" 2>> "$base.log"
                rm -f "$base.ncu-rep"
            fi
        done
    fi
fi

# ---- 6. compute-sanitizer on the C GPU tests (optional) ------------------------------------
if [ $sanitize = 1 ]; then
    sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -n 1)
    [ $dry = 1 ] || mkdir -p "$logs/sanitize"
    if [ -z "$sanitizer" ]; then
        none="no compute-sanitizer on the PATH or in /usr/local/cuda*/bin"
        if [ $dry = 1 ]; then echo "# sanitize: $none"; else echo "$none" > "$logs/sanitize/none"; fi
    else
        for c in "${SANITIZE_CASES[@]}"; do
            read -r tool t <<< "$c"
            [ $dry = 0 ] && over_budget && break
            if [ $dry = 0 ] && [ ! -x "$tests/$t" ]; then echo "no $t in $tests" > "$logs/sanitize/${t}_$tool.none"; continue; fi
            say "compute-sanitizer --tool $tool $t"
            run $SANITIZE_TIMEOUT "$logs/sanitize/${t}_$tool" 0 "$sanitizer" --tool "$tool" --error-exitcode 3 "$tests/$t"
        done
    fi
fi

[ $dry = 1 ] && exit 0
say "done in $((SECONDS - start)) s; logs in $logs"
summarize "$logs"
