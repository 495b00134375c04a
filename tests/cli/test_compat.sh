#!/bin/sh
# Older formats stay readable and appendable. tests/data/format-1.1.steparc
# was written by the 1.1 writer (columnar blocks, plain u64 index sections)
# from tests/data/compat-input.jsonl.zst (400 generated steps, 16 KiB
# blocks). Checks:
#   - the 1.1 archive verifies, reads back exactly what a fresh (1.2)
#     conversion of the same input reads back, and answers find --id / --run
#     / --thread / --assistant as the 1.2 archive does (plain sections there,
#     packed key sets here: FORMAT.md 8.2, 8.3, 8.6);
#   - appending to a copy keeps it 1.1: header minor 1, index sections of
#     types 2-5 and none of 8-11, so 1.1 readers still read all of it;
#   - a new archive is 1.2 with types 8-11, --layout rows gives 1.0 with
#     types 2-5, and both give the same records and lookups.
# Protocol: "PASS name" / "FAIL name" (reason on stderr) / "SKIP name why".
# Environment: STEPARC_BIN STEPARC_TMP STEPARC_TESTS.

. "$(dirname "$0")/lib.sh"
workdir compat
need_python compat

python3 "$CHECKS" compat "$BIN" "$W" "$TESTS"
