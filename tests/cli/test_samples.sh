#!/bin/sh
# Real-world captures (../shared/samples): every *.json / *.sse file alone, and
# all of them together, converted and read back; compared byte for byte with
# tests/canon.py. Files without any run step must be refused ("no run steps
# found", exit 1, no output file).
# Protocol: one "PASS name", "FAIL name" (reason on stderr) or "SKIP name why"
# line per check. Environment: STEPARC_BIN STEPARC_TMP STEPARC_SAMPLES STEPARC_TESTS.

BIN=${STEPARC_BIN:?STEPARC_BIN is not set}
TESTS=${STEPARC_TESTS:?STEPARC_TESTS is not set}
S=${STEPARC_SAMPLES:-}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
W=${STEPARC_TMP:?STEPARC_TMP is not set}/samples
rm -rf "$W" && mkdir -p "$W" || exit 1

pass() { echo "PASS $1"; }
fail() { n=$1; shift; echo "FAIL $n"; echo "$n: $*" >&2; }
skip() { n=$1; shift; echo "SKIP $n $*"; }

if [ -z "$S" ] || [ ! -d "$S" ]; then
    skip samples "samples folder not found (${S:-STEPARC_SAMPLES unset})"
    exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
    skip samples "python3 not found"
    exit 0
fi
CANON="$TESTS/canon.py"

found=0
for f in "$S"/*.json "$S"/*.sse; do
    [ -f "$f" ] || continue
    found=$((found + 1))
    b=$(basename "$f")
    n="sample_$b"
    O="$W/$b.steparc"
    if ! python3 "$CANON" --records "$f" > "$W/$b.exp" 2> "$W/$b.canonerr"; then
        fail "$n" "canon.py --records $f failed: $(head -c 300 "$W/$b.canonerr")"
        continue
    fi
    "$BIN" convert -q --keep-duplicates --no-rebuild "$f" -o "$O" > "$W/$b.out" 2> "$W/$b.err"
    rc=$?
    if [ ! -s "$W/$b.exp" ]; then
        # no run step at all: a clear refusal and no archive
        if [ $rc -eq 1 ] && grep -q "no run steps found" "$W/$b.err" && [ ! -e "$O" ] &&
            [ -z "$(find "$W" -name "$b.steparc.tmp-*" 2>/dev/null)" ]; then
            pass "${n}_no_steps_refused"
        else
            fail "${n}_no_steps_refused" "expected exit 1, 'no run steps found' and no $O; got exit $rc, exists=$([ -e "$O" ] && echo yes || echo no): $(head -c 300 "$W/$b.err")"
        fi
        continue
    fi
    if [ $rc -ne 0 ]; then
        fail "${n}_convert" "convert $f exited $rc ($(wc -l < "$W/$b.exp" | tr -d ' ') records expected): $(head -c 300 "$W/$b.err")"
        continue
    fi
    "$BIN" cat "$O" > "$W/$b.cat" 2> "$W/$b.err"
    if cmp -s "$W/$b.cat" "$W/$b.exp"; then pass "${n}_cat"
    else fail "${n}_cat" "steparc cat differs from canon.py --records $f"; fi
    "$BIN" cat --via-struct "$O" > "$W/$b.vcat" 2> "$W/$b.err"
    if cmp -s "$W/$b.vcat" "$W/$b.exp"; then pass "${n}_cat_via_struct"
    else fail "${n}_cat_via_struct" "steparc cat --via-struct differs from canon.py --records $f"; fi
    if "$BIN" verify "$O" > "$W/$b.vout" 2>&1; then pass "${n}_verify"
    else fail "${n}_verify" "verify $O failed: $(head -c 300 "$W/$b.vout")"; fi
done
if [ $found -eq 0 ]; then
    skip samples "no *.json or *.sse file in $S"
    exit 0
fi

# All samples in one archive (directory input, read in name order). The
# directory holds other files too (README.md), which convert must ignore.
if ! python3 "$CANON" --samples "$S" > "$W/all.exp" 2> "$W/all.canonerr"; then
    fail samples_all_directory "canon.py --samples $S failed: $(head -c 300 "$W/all.canonerr")"
    exit 0
fi
"$BIN" convert -q --keep-duplicates --no-rebuild "$S" -o "$W/all.steparc" 2> "$W/all.err"
rc=$?
if [ $rc -ne 0 ]; then
    fail samples_all_directory "convert $S exited $rc: $(head -c 300 "$W/all.err")"
    exit 0
fi
"$BIN" cat "$W/all.steparc" > "$W/all.cat" 2>/dev/null
if cmp -s "$W/all.cat" "$W/all.exp"; then pass samples_all_directory_cat
else fail samples_all_directory_cat "cat of the directory archive differs from canon.py --samples $S"; fi
"$BIN" cat --via-struct "$W/all.steparc" > "$W/all.vcat" 2>/dev/null
if cmp -s "$W/all.vcat" "$W/all.exp"; then pass samples_all_directory_cat_via_struct
else fail samples_all_directory_cat_via_struct "cat --via-struct of the directory archive differs from canon.py --samples $S"; fi
if "$BIN" verify "$W/all.steparc" > /dev/null 2>&1; then pass samples_all_directory_verify
else fail samples_all_directory_verify "verify of the directory archive failed"; fi
exit 0
