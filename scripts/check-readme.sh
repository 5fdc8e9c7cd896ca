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
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
libdir=${2:-$root/build}
extra=${3:-}
cd "$root"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/blazedb-readme.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
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

check "Using the KV API" examples/kv_tour.c
check "Using documents" examples/doc_tour.c
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
