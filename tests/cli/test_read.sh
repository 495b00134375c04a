#!/bin/sh
# The read side against a Python brute force, on generated run steps (plain and
# --nasty, a few thousand records each, 16 KiB blocks so there are many blocks):
#   cat --format jsonl|json|list, --limit, --order desc, --pretty, --via-struct;
#   find with every filter (--id --run --thread --assistant --status --type
#   --tool --since --until) alone and combined, in every output format;
#   get of several positions at once; stats --json.
# Every expected output is computed in Python from the canonical records
# (tests/canon.py) and compared byte for byte; list pages are also checked
# field by field so that a failure says which field is wrong.
# The stats rules are spelled out above expect_stats() below.
# Protocol: one "PASS name", "FAIL name" (reason on stderr) or "SKIP name why"
# line per check. Environment: STEPARC_BIN STEPARC_TMP STEPARC_TESTS (and
# STEPARC_SEED; READ_PROFILE=1 lists the slowest commands on stderr).

. "$(dirname "$0")/lib.sh"
workdir read
need_python read

# The driver (tests/check_read.py) prints the PASS/FAIL lines itself.
python3 "$CHECKS" read "$BIN" "$W" "$TESTS"
rc=$?
[ $rc -eq 0 ] || ko read_driver "the python driver exited $rc"
exit 0
