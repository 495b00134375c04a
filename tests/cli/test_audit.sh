#!/bin/sh
# steparc audit and steparc files (issue 14): the findings against generated
# histories with known holes (tests/gen_history.py --holes --truth) and a
# brute-force scan of every record, --strict exit codes, the JSON schema, the
# CSV through Python's csv module (tests/check_audit.py).
. "$(dirname "$0")/lib.sh"
workdir audit
need_python audit
python3 "$CHECKS" audit "$BIN" "$W"
