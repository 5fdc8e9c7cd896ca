#!/usr/bin/env bash
# check-readme.sh — the README's KV example must be examples/kv_tour.c
# exactly, must compile as the README says, and must print what the README
# shows.  Installed by the Makefile as build/tests/test_readme so that
# `make test` runs it.  Usage: check-readme.sh [REPO_ROOT [LIB_DIR [FLAGS]]]
# (FLAGS: extra compiler flags the library was built with, e.g. sanitizers)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
libdir=${2:-$root/build}
extra=${3:-}
cd "$root"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/blazedb-readme.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# 1. the code block under "## Using the KV API" equals examples/kv_tour.c
#    (minus its two-line header comment)
awk '/^## Using the KV API/{s=1} s&&/^```c$/{c=1;next} c&&/^```$/{exit} c' README.md > "$tmp/readme.c"
tail -n +3 examples/kv_tour.c > "$tmp/example.c"
if ! cmp -s "$tmp/readme.c" "$tmp/example.c"; then
    echo "FAIL: README example and examples/kv_tour.c differ:"
    diff "$tmp/readme.c" "$tmp/example.c" || true
    echo "0 passed, 1 failed"
    exit 1
fi
# 2. it compiles as the README says (with the library just built)
# shellcheck disable=SC2086  # extra holds several flags
cc -Wall -Wextra -Werror $extra -Iinclude examples/kv_tour.c "$libdir/libblazedb.a" \
   -lcrypto -largon2 -lpthread -o "$tmp/kv_tour"
# 3. it prints what the README shows
awk '/^which prints$/{s=1;next} s&&/^```$/{if(c)exit;c=1;next} c' README.md > "$tmp/expected"
(cd "$tmp" && ./kv_tour > actual)
if ! cmp -s "$tmp/expected" "$tmp/actual"; then
    echo "FAIL: kv_tour output differs from the README:"
    diff "$tmp/expected" "$tmp/actual" || true
    echo "0 passed, 1 failed"
    exit 1
fi
echo "README example: identical to examples/kv_tour.c, compiles, output matches"
echo "1 passed, 0 failed"
