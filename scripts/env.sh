# Sourced by ./xcit, ./xcit-spark and ./run-tests: finds a JDK >= 25 and defines the build commands.
# shellcheck shell=bash

XCIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Prints the feature release of the JDK at $1 (e.g. 25), or nothing if it is not a JDK.
jdk_release() {
    [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 0
    "$1/bin/java" -XshowSettings:properties -version 2>&1 \
        | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
}

# Sets JAVA_HOME to a JDK >= 25: $JAVA_HOME if it qualifies, then the java on PATH, then
# the JDKs under /usr/lib/jvm and /opt (newest first). Fails with a clear message otherwise.
find_jdk() {
    local candidates=() c rel
    [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
    if command -v javac >/dev/null 2>&1; then
        candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")")
    fi
    for c in $(ls -d /usr/lib/jvm/*/ /opt/*jdk*/ /opt/java/*/ 2>/dev/null | sort -rV); do
        candidates+=("${c%/}")
    done
    for c in "${candidates[@]}"; do
        rel="$(jdk_release "$c")"
        if [ -n "$rel" ] && [ "$rel" -ge 25 ]; then
            export JAVA_HOME="$c"
            return 0
        fi
    done
    echo "xcit4j: no JDK >= 25 found (looked at \$JAVA_HOME, the javac on PATH, /usr/lib/jvm, /opt)." >&2
    echo "xcit4j: install one (e.g. Temurin 25) and set JAVA_HOME to it." >&2
    return 1
}

# ensure_built FILE MODULE NAME [MODULE...]: builds Maven module MODULE (and what it needs)
# when FILE, which its package step makes, is missing or older than any source that goes into
# it: the parent pom, native/, cmake/, and the pom and src/main of bindings, java and the
# further MODULEs. NAME prefixes the messages. Concurrent launches wait for the first one's
# build, then check again.
ensure_built() {
    local target="$1" module="$2" name="$3" dirs=() m
    shift 3
    for m in bindings java "$@"; do dirs+=("$XCIT_ROOT/$m/pom.xml" "$XCIT_ROOT/$m/src/main"); done
    stale() {
        [ ! -f "$target" ] && return 0
        [ -n "$(find "$XCIT_ROOT/pom.xml" "${dirs[@]}" "$XCIT_ROOT/native" "$XCIT_ROOT/cmake" \
            -newer "$target" -type f -not -path '*/tests/*' -print -quit 2>/dev/null)" ]
    }
    stale || return 0
    exec 9>"$XCIT_ROOT/.xcit-build.lock"
    flock 9
    if stale; then
        echo "$name: building (first run or sources changed; this takes a minute or more)..." >&2
        local log
        log="$(mktemp)"
        # The runnable jar only: no javadoc or sources jars on this path.
        if ! mvn_build -q -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true -pl "$module" -am package >"$log" 2>&1; then
            cat "$log" >&2
            echo "$name: build failed (log above)" >&2
            rm -f "$log"
            exit 1
        fi
        rm -f "$log"
        touch "$target" # Maven leaves an up-to-date file untouched; mark it fresh for the check above
    fi
    flock -u 9
}

# Runs Maven through the wrapper (it fetches the pinned Maven from Maven Central once).
mvn_build() {
    # JDK 25 warns about sun.misc.Unsafe use inside Maven itself (Guice); allow it quietly.
    (cd "$XCIT_ROOT" && MAVEN_OPTS="--sun-misc-unsafe-memory-access=allow ${MAVEN_OPTS:-}" ./mvnw -B -ntp "$@")
}

# Replaces this shell with the CLI's JVM: the options in scripts/xcit.jvm-options, then
# $XCIT_JAVA_OPTS, then the arguments (-jar JAR ARGS, or -cp CP MAIN ARGS). HotSpot writes the
# banner of a fatal error (SIGBUS when a mapped weights file is truncated under a run, say) to
# file descriptor 1 whatever -XX:+DisplayVMOutputToStderr says (its error stream is fixed
# before options are read), so results and crash output cannot share a descriptor: the JVM's
# fd 1 becomes stderr, and the CLI writes its results to fd 3, the caller's stdout
# (-Dxcit.stdout.fd=3, read by org.xcit4j.cli.Stdout).
xcit_java() {
    # shellcheck disable=SC2086 # XCIT_JAVA_OPTS holds several options
    exec "$JAVA_HOME/bin/java" @"$XCIT_ROOT/scripts/xcit.jvm-options" -Dxcit.stdout.fd=3 ${XCIT_JAVA_OPTS:-} "$@" 3>&1 1>&2
}

# local_wheel PROJECT VERSION FILE_PREFIX: prints the path of PROJECT==VERSION's wheel in
# ~/.cache/xcit4j/wheels, downloaded from the machine's local pip index first if needed.
# Only the configured local indexes are asked: the default (pypi.org) is unreachable on
# these machines and pip would retry it for minutes. Fails (saying why) if it is not there.
local_wheel() {
    local wheels="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/xcit4j/wheels" found indexes args extra
    mkdir -p "$wheels"
    found=$(ls "$wheels/$3-$2"-*.whl 2>/dev/null | head -n 1)
    if [ -z "$found" ]; then
        indexes=$(pip config list 2>/dev/null | sed -n "s/^global\.\(extra-\)\{0,1\}index-url='\(.*\)'$/\2/p" | tr ' ' '\n' | grep . )
        if [ -z "$indexes" ]; then
            echo "no local pip index is configured for $1==$2" >&2
            return 1
        fi
        args=(--index-url "$(echo "$indexes" | head -n 1)")
        for extra in $(echo "$indexes" | tail -n +2); do args+=(--extra-index-url "$extra"); done
        if ! timeout 600 pip download --quiet --no-deps --dest "$wheels" "${args[@]}" "$1==$2" >&2; then
            echo "$1==$2 is not on the local pip index" >&2
            return 1
        fi
        found=$(ls "$wheels/$3-$2"-*.whl 2>/dev/null | head -n 1)
        [ -n "$found" ] || { echo "pip downloaded $1==$2 but no $3-$2-*.whl is in $wheels" >&2; return 1; }
    fi
    echo "$found"
}
