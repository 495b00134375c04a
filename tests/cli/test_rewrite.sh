#!/bin/sh
# steparc rewrite (issue 16): drop threads, assistants, records by a field;
# redact paths and regular-expression matches; the output against a
# brute-force model, nothing of a dropped record left anywhere in the file
# (blocks, sections, dictionary), --dry-run, usage errors, a damaged input
# (tests/check_rewrite.py).
. "$(dirname "$0")/lib.sh"
workdir rewrite
need_python rewrite
if ! command -v zstd >/dev/null 2>&1; then
    skip rewrite "(zstd not found: the blocks cannot be decompressed by the test)"
    exit 0
fi
python3 "$CHECKS" rewrite "$BIN" "$W"
