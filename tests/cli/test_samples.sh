#!/bin/sh
# Real-world captures (../shared/samples): every *.json / *.sse file alone, and
# all of them together, converted and read back; compared byte for byte with
# tests/canon.py (--records --deep: the objects of the 8 record kinds, found
# nested in wrappers at any depth). Files without any record must be refused
# ("no records found", exit 1, no output file).
# Protocol: one "PASS name", "FAIL name" (reason on stderr) or "SKIP name why"
# line per check. Environment: STEPARC_BIN STEPARC_TMP STEPARC_SAMPLES STEPARC_TESTS.

. "$(dirname "$0")/lib.sh"
workdir samples
S=$SAMPLES

if [ -z "$S" ] || [ ! -d "$S" ]; then
    skip samples "samples folder not found (${S:-STEPARC_SAMPLES unset})"
    exit 0
fi
need_python samples

found=0
for f in "$S"/*.json "$S"/*.sse; do
    [ -f "$f" ] || continue
    found=$((found + 1))
    b=$(basename "$f")
    n="sample_$b"
    O="$W/$b.steparc"
    if ! python3 "$CANON" --records --deep "$f" > "$W/$b.exp" 2> "$W/$b.canonerr"; then
        ko "$n" "canon.py --records $f failed: $(head -c 300 "$W/$b.canonerr")"
        continue
    fi
    "$BIN" convert -q --keep-duplicates --no-rebuild "$f" -o "$O" > "$W/$b.out" 2> "$W/$b.err"
    rc=$?
    if [ ! -s "$W/$b.exp" ]; then
        # no record at all: a clear refusal and no archive
        if [ $rc -eq 1 ] && grep -q "no records found" "$W/$b.err" && [ ! -e "$O" ] &&
            [ -z "$(find "$W" -name "$b.steparc.tmp-*" 2>/dev/null)" ]; then
            ok "${n}_no_steps_refused"
        else
            ko "${n}_no_steps_refused" "expected exit 1, 'no records found' and no $O; got exit $rc, exists=$([ -e "$O" ] && echo yes || echo no): $(head -c 300 "$W/$b.err")"
        fi
        continue
    fi
    if [ $rc -ne 0 ]; then
        ko "${n}_convert" "convert $f exited $rc ($(wc -l < "$W/$b.exp" | tr -d ' ') records expected): $(head -c 300 "$W/$b.err")"
        continue
    fi
    "$BIN" cat "$O" > "$W/$b.cat" 2> "$W/$b.err"
    if cmp -s "$W/$b.cat" "$W/$b.exp"; then ok "${n}_cat"
    else ko "${n}_cat" "steparc cat differs from canon.py --records $f"; fi
    "$BIN" cat --via-struct "$O" > "$W/$b.vcat" 2> "$W/$b.err"
    if cmp -s "$W/$b.vcat" "$W/$b.exp"; then ok "${n}_cat_via_struct"
    else ko "${n}_cat_via_struct" "steparc cat --via-struct differs from canon.py --records $f"; fi
    if "$BIN" verify "$O" > "$W/$b.vout" 2>&1; then ok "${n}_verify"
    else ko "${n}_verify" "verify $O failed: $(head -c 300 "$W/$b.vout")"; fi
done
if [ $found -eq 0 ]; then
    skip samples "no *.json or *.sse file in $S"
    exit 0
fi

# All samples in one archive (directory input, read in name order). The
# directory holds other files too (README.md), which convert must ignore.
if ! python3 "$CANON" --samples "$S" --deep > "$W/all.exp" 2> "$W/all.canonerr"; then
    ko samples_all_directory "canon.py --samples $S failed: $(head -c 300 "$W/all.canonerr")"
    exit 0
fi
"$BIN" convert -q --keep-duplicates --no-rebuild "$S" -o "$W/all.steparc" 2> "$W/all.err"
rc=$?
if [ $rc -ne 0 ]; then
    ko samples_all_directory "convert $S exited $rc: $(head -c 300 "$W/all.err")"
    exit 0
fi
"$BIN" cat "$W/all.steparc" > "$W/all.cat" 2>/dev/null
if cmp -s "$W/all.cat" "$W/all.exp"; then ok samples_all_directory_cat
else ko samples_all_directory_cat "cat of the directory archive differs from canon.py --samples $S"; fi
"$BIN" cat --via-struct "$W/all.steparc" > "$W/all.vcat" 2>/dev/null
if cmp -s "$W/all.vcat" "$W/all.exp"; then ok samples_all_directory_cat_via_struct
else ko samples_all_directory_cat_via_struct "cat --via-struct of the directory archive differs from canon.py --samples $S"; fi
if "$BIN" verify "$W/all.steparc" > /dev/null 2>&1; then ok samples_all_directory_verify
else ko samples_all_directory_verify "verify of the directory archive failed"; fi
exit 0
