#!/usr/bin/env bash
# check-readme.sh — each of the README's tours must be its example file
# exactly, must compile as the README says, and must print what the README
# shows.  Installed by the Makefile as build/tests/test_readme so that
# `make test` runs it.  Usage: check-readme.sh [REPO_ROOT [LIB_DIR [FLAGS]]]
# (FLAGS: extra compiler flags the library was built with, e.g. sanitizers)
#
# Tours: the first ```c block after a "## SECTION" heading is EXAMPLE (minus
# its two-line header comment); the first ``` block after the next line
# "which prints" is its expected output.
#
# Command-line blocks: a ```sh block right after a line
# "<!-- test: cli -->" is run with bash, and the first bare ``` block after
# it is what it must print (stdout and stderr together).  All such blocks
# run in order in one fresh temporary directory, with LIB_DIR (where
# `blazedb` is built) first on PATH, no BLAZEDB_* variables set at the start
# and the variables a block exports kept for the blocks after it; a failing
# command does not stop a block (its output, and any `echo $?` shown, are
# compared).  Before comparing, both sides are normalised, and only so:
#   - "<digits> bytes" becomes "N bytes" (file and backup sizes vary with
#     the timestamps the documents carry and with compression);
#   - ISO 8601 times "2026-01-02T03:04:05.678Z" become "TIME" (createdAt,
#     updatedAt).
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
libdir=${2:-$root/build}
extra=${3:-}
cd "$root"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/blazedb-readme.XXXXXX")
trap '[ -n "${CHECK_README_KEEP:-}" ] && cp -r "$tmp" "$CHECK_README_KEEP"; rm -rf "$tmp"' EXIT
passed=0
failed=0

check() { # SECTION EXAMPLE
    local section=$1 example=$2 name
    name=$(basename "$example" .c)
    # 1. the code block equals the example
    awk -v s="## $section" '$0==s{f=1} f&&/^```c$/{c=1;next} c&&/^```$/{exit} c' README.md \
        > "$tmp/$name.readme.c"
    tail -n +3 "$example" > "$tmp/$name.example.c"
    if ! cmp -s "$tmp/$name.readme.c" "$tmp/$name.example.c"; then
        echo "FAIL: README section '$section' and $example differ:"
        diff "$tmp/$name.readme.c" "$tmp/$name.example.c" || true
        failed=$((failed + 1))
        return
    fi
    # 2. it compiles as the README says (with the library just built)
    # shellcheck disable=SC2086  # extra holds several flags
    if ! cc -Wall -Wextra -Werror $extra -Iinclude "$example" "$libdir/libblazedb.a" \
            -lcrypto -largon2 -lpthread -o "$tmp/$name"; then
        echo "FAIL: $example does not compile"
        failed=$((failed + 1))
        return
    fi
    # 3. it prints what the README shows
    awk -v s="## $section" '$0==s{f=1} f&&/^which prints$/{p=1;next} p&&/^```$/{if(c)exit;c=1;next} c' \
        README.md > "$tmp/$name.expected"
    mkdir -p "$tmp/run-$name"
    (cd "$tmp/run-$name" && "$tmp/$name" > actual)
    if ! cmp -s "$tmp/$name.expected" "$tmp/run-$name/actual"; then
        echo "FAIL: $name output differs from the README:"
        diff "$tmp/$name.expected" "$tmp/run-$name/actual" || true
        failed=$((failed + 1))
        return
    fi
    echo "README '$section': identical to $example, compiles, output matches"
    passed=$((passed + 1))
}

normalise() {
    sed -E -e 's/[0-9]+ bytes/N bytes/g' \
        -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z/TIME/g'
}

check_cli_blocks() {
    local n i work envf
    # Splits the marked blocks into $tmp/cli-N.sh and $tmp/cli-N.expected.
    awk -v dir="$tmp" '
        /^<!-- test: cli -->$/ { mark = 1; next }
        mark && /^```sh$/ { n++; inblock = 1; mark = 0; ln = NR; next }
        inblock && /^```$/ { inblock = 0; want = 1; next }
        inblock { print > (dir "/cli-" n ".sh"); next }
        want && /^```$/ { if (out) { out = 0; want = 0; close(dir "/cli-" n ".expected") }
                          else { out = 1; printf "" > (dir "/cli-" n ".expected") } next }
        out { print > (dir "/cli-" n ".expected"); next }
        mark && NF { mark = 0 }
        END { print n + 0 > (dir "/cli-count") }
    ' README.md
    n=$(cat "$tmp/cli-count")
    if [ "$n" -eq 0 ]; then
        echo "FAIL: no README block is marked <!-- test: cli -->"
        failed=$((failed + 1))
        return
    fi
    if [ ! -x "$libdir/blazedb" ]; then
        echo "FAIL: $libdir/blazedb is not built (make cli)"
        failed=$((failed + 1))
        return
    fi
    work="$tmp/cli-work"
    mkdir -p "$work"
    envf="$tmp/cli-env"
    : > "$envf"
    for i in $(seq 1 "$n"); do
        if [ ! -f "$tmp/cli-$i.expected" ]; then
            echo "FAIL: README command block $i has no output block after it"
            failed=$((failed + 1))
            continue
        fi
        { echo "source '$envf'"; cat "$tmp/cli-$i.sh"; echo "export -p > '$envf'"; } \
            > "$tmp/cli-$i.run"
        (cd "$work" && env -u BLAZEDB_PASSWORD -u BLAZEDB_NEW_PASSWORD -u BLAZEDB_HISTORY \
             PATH="$libdir:$PATH" bash "$tmp/cli-$i.run" > "$tmp/cli-$i.actual" 2>&1) || true
        if ! cmp -s <(normalise < "$tmp/cli-$i.expected") <(normalise < "$tmp/cli-$i.actual"); then
            echo "FAIL: README command block $i ($(head -n 1 "$tmp/cli-$i.sh")) prints otherwise:"
            diff <(normalise < "$tmp/cli-$i.expected") <(normalise < "$tmp/cli-$i.actual") || true
            [ -n "${CHECK_README_SHOW:-}" ] && { echo "--- actual:"; cat "$tmp/cli-$i.actual"; }
            failed=$((failed + 1))
            continue
        fi
        passed=$((passed + 1))
    done
    echo "README command blocks: $n run with $libdir/blazedb, output compared"
}

check "Using the KV API" examples/kv_tour.c
check "Using documents" examples/doc_tour.c
check_cli_blocks
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
