#!/bin/sh
# Property tests: generated run steps in every input shape -> archive -> JSON,
# compared byte for byte with the reference canonicalizer (tests/canon.py).
# Also: deterministic output (-j 1 / -j 2 / repeated runs), verify, info --json,
# get, find (--id/--run/--thread/--assistant/--since/--until), .zst input,
# directory input and standard input.
# Protocol: one "PASS name", "FAIL name" (reason on stderr) or "SKIP name why"
# line per check. Environment: STEPARC_BIN STEPARC_TMP STEPARC_TESTS.

. "$(dirname "$0")/lib.sh"
workdir roundtrip
need_python roundtrip

SEEDS=${ROUNDTRIP_SEEDS:-"1 2 3"}
PLAIN_COUNT=3000
NASTY_COUNT=1000
SHAPES="jsonl array list pretty sse"

# The expected outputs come from tests/check_roundtrip.py (see there):
#   checks.py roundtrip-prep SHAPE FILE TESTS_DIR > FILE.exp, FILE.drop
#   checks.py roundtrip-queries CANON DIR (the find and get queries and their outputs)

# gen SEED MODE SHAPE: writes $W/s$SEED/$MODE.$SHAPE (+ .exp, .drop, .rc)
gen() {
    d="$W/s$1"; f="$d/$2.$3"
    if [ "$2" = nasty ]; then set -- "$1" --nasty --count "$NASTY_COUNT" "$3"
    else set -- "$1" "" --count "$PLAIN_COUNT" "$3"; fi
    extra=""; [ "$5" = sse ] && extra=--sse-final-only
    {
        python3 "$GEN" --seed "$1" $2 $3 $4 --shape "$5" $extra > "$f" &&
        python3 "$CHECKS" roundtrip-prep "$5" "$f" "$TESTS"
    } 2> "$f.err"
    echo $? > "$f.rc"
}

# Generate everything in the background, two seeds' worth at a time.
for s in $SEEDS; do
    mkdir -p "$W/s$s"
    for m in plain nasty; do
        for sh in $SHAPES; do gen "$s" "$m" "$sh" & done
    done
    wait
done

for s in $SEEDS; do
    d="$W/s$s"
    for m in plain nasty; do
        for sh in $SHAPES; do
            f="$d/$m.$sh"; n="roundtrip_seed${s}_${m}_$sh"
            if [ "$(cat "$f.rc")" != 0 ]; then
                ko "$n" "seed $s: generating/canonicalizing failed: $(head -c 300 "$f.err")"
                continue
            fi
            drop=$(cat "$f.drop")
            if [ "$drop" != 0 ]; then
                echo "note: seed $s $m $sh: dropped $drop value(s) with integers beyond 64 bits (gen_steps.py)" >&2
            fi
            if ! "$BIN" convert -q --keep-duplicates --no-rebuild "$f" -o "$f.steparc" 2> "$f.cerr"; then
                ko "${n}_convert" "seed $s: convert failed: $(head -c 300 "$f.cerr")"
                continue
            fi
            "$BIN" cat "$f.steparc" > "$f.cat" 2> "$f.cerr"
            check "${n}_cat" "seed $s: 'cat $f.steparc' differs from canon.py --records $f" \
                same "$f.cat" "$f.exp"
            "$BIN" cat --via-struct "$f.steparc" > "$f.vcat" 2> "$f.cerr"
            check "${n}_cat_via_struct" "seed $s: 'cat --via-struct $f.steparc' differs from canon.py" \
                same "$f.vcat" "$f.exp"
        done
        # every shape carries the same records: jsonl archive == other shapes' archives' output
        f="$d/$m.jsonl"; A="$f.steparc"; n="seed${s}_$m"
        [ -f "$A" ] || continue

        # determinism: -j 1, -j 2, repeated, and many small blocks
        good=1
        for j in 1 2 1 2; do
            "$BIN" convert -q --keep-duplicates --no-rebuild -j $j "$f" -o "$W/det.steparc" 2>/dev/null && same "$W/det.steparc" "$A" || good=0
        done
        check "deterministic_${n}" "seed $s: archives from $f differ between -j 1/-j 2/runs" [ $good = 1 ]
        good=1
        "$BIN" convert -q --keep-duplicates --no-rebuild -j 1 --block-size 65536 "$f" -o "$W/det1.steparc" 2>/dev/null || good=0
        for r in 1 2; do
            "$BIN" convert -q --keep-duplicates --no-rebuild -j 2 --block-size 65536 "$f" -o "$W/det2.steparc" 2>/dev/null &&
                same "$W/det1.steparc" "$W/det2.steparc" || good=0
        done
        "$BIN" cat "$W/det1.steparc" 2>/dev/null | cmp -s - "$f.exp" || good=0
        check "deterministic_small_blocks_${n}" "seed $s: --block-size 65536 archives differ between -j 1/-j 2 or from canon" [ $good = 1 ]

        "$BIN" verify "$A" > "$W/verify.out" 2>&1
        rc=$?
        check "verify_${n}" "seed $s: verify $A exited $rc ($(head -c 200 "$W/verify.out"))" [ $rc -eq 0 ]

        lines=$(wc -l < "$f.exp" | tr -d ' ')
        recs=$(records "$A")
        check "info_json_records_${n}" "seed $s: info --json records=$recs, canonical lines=$lines" [ "$recs" = "$lines" ]

        q="$d/q.$m"; mkdir -p "$q"
        if ! nq=$(python3 "$CHECKS" roundtrip-queries "$f.exp" "$q" 2> "$W/q.err"); then
            ko "queries_${n}" "seed $s: computing expected query results failed: $(head -c 300 "$W/q.err")"
            continue
        fi
        # shellcheck disable=SC2046
        "$BIN" get "$A" $(cat "$q/get.args") > "$q/get.out" 2> "$W/get.err"
        rc=$?
        check "get_${n}" "seed $s: get $(tr '\n' ' ' < "$q/get.args")exit $rc, output differs from canonical lines" \
            eval '[ $rc -eq 0 ] && same "$q/get.out" "$q/get.exp"'
        "$BIN" get --via-struct "$A" $(cat "$q/get.args") > "$q/getv.out" 2>/dev/null
        check "get_via_struct_${n}" "seed $s: get --via-struct differs" same "$q/getv.out" "$q/get.exp"
        i=1
        while [ $i -le "$nq" ]; do
            set --
            while IFS= read -r a; do set -- "$@" "$a"; done < "$q/q$i.args"
            "$BIN" find "$A" "$@" > "$q/q$i.out" 2> "$q/q$i.err"
            rc=$?
            kind=$(echo "$1" | tr -d -); [ $# -gt 2 ] && kind="${kind}_combined"
            if [ $rc -eq 0 ] && same "$q/q$i.out" "$q/q$i.exp"; then
                ok "find_${kind}_${n}_q$i"
            else
                ko "find_${kind}_${n}_q$i" "seed $s: find $* exited $rc; got $(wc -l < "$q/q$i.out") lines, expected $(wc -l < "$q/q$i.exp") ($(head -c 200 "$q/q$i.err"))"
            fi
            i=$((i + 1))
        done
    done
done

# ---------------------------------------------------------------------------
# .zst input, directory input (recursive, mixed extensions), standard input
s=$(echo $SEEDS | cut -d' ' -f1); d="$W/s$s"

if command -v zstd >/dev/null 2>&1; then
    for m in plain nasty; do
        f="$d/$m.jsonl"
        if zstd -q -c "$f" > "$W/$m.jsonl.zst" && zstd -q -c "$d/$m.array" > "$W/$m.json.zst"; then
            good=1
            "$BIN" convert -q --keep-duplicates --no-rebuild "$W/$m.jsonl.zst" -o "$W/zst.steparc" 2> "$W/zst.err" &&
                "$BIN" cat "$W/zst.steparc" | cmp -s - "$f.exp" || good=0
            "$BIN" convert -q --keep-duplicates --no-rebuild "$W/$m.json.zst" -o "$W/zst2.steparc" 2>> "$W/zst.err" &&
                "$BIN" cat "$W/zst2.steparc" | cmp -s - "$d/$m.array.exp" || good=0
            check "zst_input_$m" "seed $s: .zst input: $(head -c 300 "$W/zst.err")" [ $good = 1 ]
        else
            ko "zst_input_$m" "zstd could not compress the input"
        fi
    done
else
    skip zst_input "zstd command not found"
fi

# directory: files are read in name order, depth first (a < b/ < e < f < g)
D="$W/dir"; mkdir -p "$D/b/deeper"
cp "$d/plain.jsonl" "$D/a.jsonl"
cp "$d/nasty.array" "$D/b/c.json"
cp "$d/plain.sse" "$D/b/d.sse"
cp "$d/nasty.list" "$D/b/deeper/x.ndjson"
cp "$d/plain.list" "$D/e.ndjson"
cp "$d/nasty.pretty" "$D/f.txt"
echo 'not json at all {' > "$D/h.md"
printf '\001\002binary' > "$D/b/z.bin"
exp_files="$d/plain.jsonl.exp $d/nasty.array.exp $d/plain.sse.exp $d/nasty.list.exp $d/plain.list.exp $d/nasty.pretty.exp"
if command -v zstd >/dev/null 2>&1; then
    zstd -q -c "$d/nasty.jsonl" > "$D/g.jsonl.zst"
    exp_files="$exp_files $d/nasty.jsonl.exp"
fi
# shellcheck disable=SC2086
cat $exp_files > "$W/dir.exp"
if "$BIN" convert -q --keep-duplicates --no-rebuild "$D" -o "$W/dir.steparc" 2> "$W/dir.err"; then
    "$BIN" cat "$W/dir.steparc" > "$W/dir.out" 2>> "$W/dir.err"
    check directory_input "seed $s: directory archive differs from the files' canonical records in name order" \
        same "$W/dir.out" "$W/dir.exp"
    "$BIN" cat --via-struct "$W/dir.steparc" > "$W/dir.vout" 2>> "$W/dir.err"
    check directory_input_via_struct "seed $s: directory archive (via struct) differs" same "$W/dir.vout" "$W/dir.exp"
else
    ko directory_input "convert $D failed: $(head -c 300 "$W/dir.err")"
fi

for sh in jsonl pretty sse; do
    f="$d/nasty.$sh"
    if "$BIN" convert -q --keep-duplicates --no-rebuild - -o "$W/stdin.steparc" < "$f" 2> "$W/stdin.err"; then
        "$BIN" cat "$W/stdin.steparc" > "$W/stdin.out" 2>/dev/null
        check "stdin_input_$sh" "seed $s: convert - < $f differs from canon.py" same "$W/stdin.out" "$f.exp"
    else
        ko "stdin_input_$sh" "convert - < $f failed: $(head -c 300 "$W/stdin.err")"
    fi
done

# two inputs in one archive keep input order
if "$BIN" convert -q --keep-duplicates --no-rebuild "$d/nasty.sse" "$d/plain.pretty" -o "$W/two.steparc" 2> "$W/two.err"; then
    cat "$d/nasty.sse.exp" "$d/plain.pretty.exp" > "$W/two.exp"
    "$BIN" cat "$W/two.steparc" > "$W/two.out" 2>/dev/null
    check two_inputs_in_order "seed $s: archive of two inputs differs from their canonical records in order" \
        same "$W/two.out" "$W/two.exp"
else
    ko two_inputs_in_order "convert of two inputs failed: $(head -c 300 "$W/two.err")"
fi
exit 0
