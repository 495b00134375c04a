#!/bin/sh
# Runs every test program and script; prints their PASS/FAIL lines and ends
# with "N passed, N failed". Usage: tests/run.sh BUILD_DIR
B=${1:-build}
T=$(mktemp -d "${TMPDIR:-/tmp}/steparc-test.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
export STEPARC_BIN="$B/steparc" STEPARC_TMP="$T" STEPARC_SAMPLES="${STEPARC_SAMPLES:-$(cd "$(dirname "$0")/.." && pwd)/../shared/samples}"
export STEPARC_TESTS="$(cd "$(dirname "$0")" && pwd)"
# generated records for the C property tests (the C tests skip without python3)
if command -v python3 >/dev/null 2>&1; then
    python3 "$STEPARC_TESTS/gen_steps.py" --seed "${STEPARC_SEED:-7}" --count 4000 > "$T/gen.jsonl" &&
        export STEPARC_GEN="$T/gen.jsonl"
fi
out="$T/results"
: > "$out"
for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue
    echo "== $(basename "$t")"
    "$t" > "$T/one" 2> "$T/err"
    rc=$?
    cat "$T/one"; cat "$T/err" >&2
    cat "$T/one" >> "$out"
    if [ $rc -ne 0 ] && ! grep -q '^FAIL' "$T/one"; then
        echo "FAIL $(basename "$t") (exit status $rc)" | tee -a "$out"
    fi
done
for s in "$STEPARC_TESTS"/cli/test_*.sh; do
    [ -f "$s" ] || continue
    echo "== $(basename "$s")"
    sh "$s" > "$T/one" 2> "$T/err"
    rc=$?
    cat "$T/one"; cat "$T/err" >&2
    cat "$T/one" >> "$out"
    if [ $rc -ne 0 ] && ! grep -q '^FAIL' "$T/one"; then
        echo "FAIL $(basename "$s") (exit status $rc)" | tee -a "$out"
    fi
done
pass=$(grep -c '^PASS' "$out")
fail=$(grep -c '^FAIL' "$out")
skip=$(grep -c '^SKIP' "$out")
echo
grep '^FAIL' "$out"
if [ "$skip" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
