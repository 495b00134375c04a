#!/bin/sh
# Installs the Debian packages `make bench` needs, when they are missing:
# apt-get as root, sudo otherwise; else says what to install and fails.
# (The library's own build dependencies come from scripts/install-deps.sh.)
set -u
need=""
command -v zstd >/dev/null 2>&1 || need="$need zstd"
command -v xz >/dev/null 2>&1 || need="$need xz-utils"
command -v gzip >/dev/null 2>&1 || need="$need gzip"
command -v python3 >/dev/null 2>&1 || need="$need python3"
command -v gnuplot >/dev/null 2>&1 || need="$need gnuplot-nox"
[ -x /usr/bin/time ] || need="$need time"
# the SQL benchmark compares with jq over the JSONL
command -v jq >/dev/null 2>&1 || need="$need jq"
if ! pkg-config --exists sqlite3 2>/dev/null && [ ! -f /usr/include/sqlite3.h ]; then
    need="$need libsqlite3-dev"
fi
[ -z "$need" ] && exit 0
echo "bench: installing missing Debian packages:$need" >&2
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "bench: please install these Debian packages and run make bench again:$need" >&2
    echo "       (apt-get install$need, as root)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2 || true
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -qq --no-install-recommends $need >&2; then
    # gnuplot-nox is gone from newer Debian releases: fall back to gnuplot
    alt=$(echo "$need" | sed 's/gnuplot-nox/gnuplot/')
    # shellcheck disable=SC2086
    if [ "$alt" = "$need" ] || ! $SUDO apt-get install -y -qq --no-install-recommends $alt >&2; then
        echo "bench: apt-get could not install:$need" >&2
        exit 1
    fi
fi
