#!/bin/sh
# Records of every kind (issue 13): find --kind with every other filter, cat
# --kind, --thread/--run/--assistant giving the thread/run/assistant itself,
# info --json kinds and stats per kind, against a brute-force scan
# (tests/check_kinds.py). The archive is written through the Python binding.
. "$(dirname "$0")/lib.sh"
workdir kinds
need_python kinds
LIB=$(dirname "$BIN")/libsteparc.so
if [ ! -f "$LIB" ]; then
    ko kinds "$LIB is missing"
    exit 1
fi
# A sanitizer build's library cannot be loaded into an uninstrumented python3.
if nm -D --undefined-only "$LIB" 2>/dev/null | grep -q ' __[atu]san_\| __ubsan_'; then
    skip kinds "(sanitizer build: the archive is written through the Python binding)"
    exit 0
fi
python3 "$CHECKS" kinds "$BIN" "$(dirname "$LIB")" "$W"
