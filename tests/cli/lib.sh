# shellcheck shell=sh disable=SC2034 # the variables are for the scripts that source it
# tests/cli/lib.sh - the common part of every tests/cli/*.sh script, which
# starts with
#     . "$(dirname "$0")/lib.sh"
#     workdir NAME          # or tempdir NAME; need_python NAME when it uses python3
# Environment (tests/run.sh sets it): STEPARC_BIN (the steparc command; default
# build/steparc), STEPARC_TMP (scratch space, removed by run.sh), STEPARC_TESTS
# (this tests/ folder), STEPARC_SAMPLES (../shared/samples, optional).
# Protocol: one "PASS name", "FAIL name" (reason on stderr) or "SKIP name why"
# line per check; tests/run.sh counts them.
#
# Sets: TESTS REPO BIN TMP SAMPLES, GEN (gen_steps.py), CANON (canon.py),
# CHECKS (checks.py: python3 "$CHECKS" NAME ARGS... runs a Python check).

TESTS=${STEPARC_TESTS:-$(cd "$(dirname "$0")/.." && pwd)}
case $TESTS in /*) ;; *) TESTS=$(cd "$TESTS" && pwd) ;; esac
REPO=$(cd "$TESTS/.." && pwd)
BIN=${STEPARC_BIN:-$REPO/build/steparc}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
TMP=${STEPARC_TMP:-${TMPDIR:-/tmp}}
SAMPLES=${STEPARC_SAMPLES:-}
GEN=$TESTS/gen_steps.py
CANON=$TESTS/canon.py
CHECKS=$TESTS/checks.py

# ok NAME / ko NAME REASON... / skip NAME WHY...; FAILS counts the ko's
FAILS=0
ok() { echo "PASS $1"; }
ko() { _n=$1; shift; echo "FAIL $_n"; echo "  $_n: $*" >&2; FAILS=$((FAILS + 1)); }
skip() { _n=$1; shift; echo "SKIP $_n $*"; }
# check NAME REASON CMD...: PASS when CMD succeeds, else FAIL with REASON
check() { _c=$1; _r=$2; shift 2; if "$@"; then ok "$_c"; else ko "$_c" "$_r"; fi; }
# same A B: the two files are byte for byte equal
same() { cmp -s "$1" "$2"; }

# workdir NAME: W=$TMP/NAME, empty (kept until run.sh removes TMP)
workdir() {
    W=$TMP/$1
    rm -rf "$W" && mkdir -p "$W" || exit 1
}
# tempdir NAME: W=a new directory under TMP, removed when the script ends
tempdir() {
    W=$(mktemp -d "$TMP/$1.XXXXXX") || exit 1
    # shellcheck disable=SC2064 # W is expanded now, on purpose
    trap "rm -rf '$W'" EXIT INT TERM
}
# need_python NAME: SKIP NAME and end the script when python3 is missing
need_python() {
    if ! command -v python3 >/dev/null 2>&1; then
        skip "$1" "python3 not found"
        exit 0
    fi
}
# records ARCHIVE: the record count `info --json` reports (empty on error)
records() {
    "$BIN" info --json "$1" 2>/dev/null | python3 "$CHECKS" json-field - records 2>/dev/null
}
