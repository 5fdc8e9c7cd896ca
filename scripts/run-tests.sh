#!/usr/bin/env bash
# run-tests.sh — runs BlazeDB's test binaries and sums up.
#
# Usage: scripts/run-tests.sh DIR [NAME...]
#   Runs every executable DIR/test_* (or only DIR/NAME for each NAME given),
#   each with a timeout, shows its output, and ends with exactly one line
#   "N passed, N failed" (counting binaries).  A binary passes when it exits 0.
#   Exit status: 0 when all passed, 1 otherwise (also when there is no test).
#
# Environment:
#   TEST_TIMEOUT  seconds per binary (default 600)
#   TEST_JOBS     binaries run at once (default 1; >1 buffers each output and
#                 prints it when the binary ends)
set -u

[ $# -ge 1 ] || { echo "usage: $0 DIR [NAME...]" >&2; exit 2; }
dir=${1%/}
shift
timeout_s=${TEST_TIMEOUT:-600}
jobs=${TEST_JOBS:-1}

tests=()
if [ $# -gt 0 ]; then
    for name in "$@"; do tests+=("$dir/$(basename "$name")"); done
else
    for t in "$dir"/test_*; do
        [ -f "$t" ] && [ -x "$t" ] && tests+=("$t")
    done
fi

passed=0
failed=0
failed_names=()
tmp=$(mktemp -d "${TMPDIR:-/tmp}/blazedb-run-tests.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# run_one BIN: runs one binary, writes "rc seconds" to $tmp/NAME.rc.
run_one() {
    local bin=$1 name start rc
    name=$(basename "$bin")
    start=$(date +%s)
    if [ -x "$bin" ]; then
        timeout -k 10 "$timeout_s" "$bin" </dev/null
        rc=$?
    else
        echo "$bin: no such test binary"
        rc=127
    fi
    echo "$rc $(( $(date +%s) - start ))" >"$tmp/$name.rc"
}

# report BIN: prints the verdict line of a finished binary and counts it.
report() {
    local name rc secs why
    name=$(basename "$1")
    read -r rc secs <"$tmp/$name.rc"
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "--- PASS $name (${secs}s)"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        why="exit status $rc"
        [ "$rc" -eq 124 ] && why="timed out after ${timeout_s}s"
        [ "$rc" -gt 128 ] && [ "$rc" -ne 137 ] && why="killed by signal $((rc - 128))"
        [ "$rc" -eq 137 ] && why="killed (SIGKILL)"
        echo "--- FAIL $name ($why, ${secs}s)"
    fi
}

if [ "$jobs" -le 1 ]; then
    for t in "${tests[@]}"; do
        echo "=== RUN  $(basename "$t")"
        run_one "$t" 2>&1
        report "$t"
    done
else
    running=0
    for t in "${tests[@]}"; do
        while [ "$running" -ge "$jobs" ]; do wait -n; running=$((running - 1)); done
        run_one "$t" >"$tmp/$(basename "$t").out" 2>&1 &
        running=$((running + 1))
    done
    wait
    for t in "${tests[@]}"; do
        echo "=== RUN  $(basename "$t")"
        cat "$tmp/$(basename "$t").out"
        report "$t"
    done
fi
echo
if [ ${#tests[@]} -eq 0 ]; then
    echo "no test binaries found in $dir"
elif [ "$failed" -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#tests[@]} -gt 0 ]
