#!/bin/sh
# Installs the Debian packages steparc needs, when they are missing:
# apt-get as root, sudo otherwise; else says what to install and fails.
set -u
need=""
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || need="$need gcc"
command -v make >/dev/null 2>&1 || need="$need make"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
have_pc msgpack || have_pc msgpack-c || need="$need libmsgpack-dev"
have_pc libzstd || need="$need libzstd-dev"
have_pc libcjson || need="$need libcjson-dev"
# the SQL extension (build/steparc_sqlite.so) and export --sqlite
have_pc sqlite3 || need="$need libsqlite3-dev"
command -v python3 >/dev/null 2>&1 || need="$need python3"
# zstd is used by the tests (.zst inputs) and the benchmarks
command -v zstd >/dev/null 2>&1 || need="$need zstd"
# extra packages a target asks for (make valgrind, make fuzz ...)
for extra in "$@"; do need="$need $extra"; done
[ -z "$need" ] && exit 0
echo "steparc: installing missing Debian packages:$need" >&2
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "steparc: please install these Debian packages and run make again:$need" >&2
    echo "         (apt-get install$need, as root)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2 || true
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -qq $need >&2; then
    echo "steparc: apt-get could not install:$need" >&2
    exit 1
fi
