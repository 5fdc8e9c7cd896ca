#!/usr/bin/env bash
# deps.sh — makes sure the Debian packages BlazeDB needs are installed.
#
# Usage: scripts/deps.sh [build|test|bench|fuzz|warnings]...   (default: build)
#
# This file is the one place that lists the packages, per purpose.  The check
# is a single dpkg-query call, so it is cheap enough to run before every make.
# When something is missing: as root, it installs it with apt-get (running
# `apt-get update` only when the package lists are empty or the install
# fails); otherwise it prints the exact command to run and exits 1.
#
# Environment:
#   BLAZEDB_DEPS_EXTRA  more package names to require (used to test this script)
#   BLAZEDB_DEPS_SKIP=1 skip the check entirely (non-Debian systems, packagers)
set -euo pipefail

# --- the package lists -------------------------------------------------------
PKGS_build="build-essential pkg-config libssl-dev libargon2-dev libedit-dev libzstd-dev"  # libedit: the shell; zstd: backups
PKGS_test="libcmocka-dev libsqlite3-dev sqlite3"   # plus build; SQLite: the oracle of the SQL tests
PKGS_bench="libsqlite3-dev libsqlcipher-dev liblmdb-dev sqlite3"  # plus build
PKGS_fuzz="clang-14 libclang-rt-14-dev"         # plus build
PKGS_warnings="clang-14"                        # plus test: gcc and clang -Werror builds
# -----------------------------------------------------------------------------

die() { echo "deps.sh: $*" >&2; exit 1; }

[ "${BLAZEDB_DEPS_SKIP:-0}" = 1 ] && exit 0

[ $# -gt 0 ] || set -- build
wanted="$PKGS_build"
for purpose in "$@"; do
    case "$purpose" in
        build)    ;;
        test)     wanted+=" $PKGS_test" ;;
        bench)    wanted+=" $PKGS_bench" ;;
        fuzz)     wanted+=" $PKGS_fuzz" ;;
        warnings) wanted+=" $PKGS_test $PKGS_warnings" ;;
        *) die "unknown purpose '$purpose' (expected build, test, bench, fuzz or warnings)" ;;
    esac
done
wanted+=" ${BLAZEDB_DEPS_EXTRA:-}"
# shellcheck disable=SC2086  # word splitting of the lists is intended
read -r -a wanted_list <<<"$(printf '%s\n' $wanted | sort -u | tr '\n' ' ')"

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: not a Debian system; make sure the equivalents of these are installed:" >&2
    echo "  ${wanted_list[*]}" >&2
    exit 0
fi

# One dpkg-query call: print "name want ok state" for every known package
# (state "installed" whether wanted as install, hold or deinstall); unknown
# names only produce a message on stderr and exit status 1, so ignore both.
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${wanted_list[@]}" 2>/dev/null |
            awk '$NF == "installed" { print $1 }' || true)
missing=()
for p in "${wanted_list[@]}"; do
    grep -qxF -- "$p" <<<"$installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt_install() {
    apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "${missing[@]}" </dev/null
}
apt_update() { apt-get update -q -o DPkg::Lock::Timeout=300 </dev/null; }

if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    apt_update || die "apt-get update failed"
    apt_install || die "apt-get install ${missing[*]} failed"
elif ! apt_install; then
    echo "deps.sh: install failed; refreshing package lists and retrying" >&2
    apt_update || die "apt-get update failed"
    apt_install || die "apt-get install ${missing[*]} failed"
fi
