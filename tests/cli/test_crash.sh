#!/bin/sh
# Crash safety: SIGKILL convert, append and merge at random moments. The output
# path must hold nothing, the previous complete archive or the new complete
# archive, never a torn file; after a killed append every record archived
# before it is still readable. Seeds are printed on failure (STEPARC_CRASH_SEED).
BIN=$STEPARC_BIN
D=$STEPARC_TMP/crash
mkdir -p "$D"
ok() { echo "PASS $1"; }
ko() { echo "FAIL $1"; echo "  $1: $2" >&2; }
if ! command -v python3 >/dev/null 2>&1; then echo "SKIP crash python3 missing"; exit 0; fi
TRIALS=${STEPARC_CRASH_TRIALS:-50}
SEED=${STEPARC_CRASH_SEED:-$(date +%s)}
G=$STEPARC_TESTS/gen_steps.py
python3 "$G" --seed 41 --count 3000 > "$D/base.jsonl"
python3 "$G" --seed 42 --count 6000 > "$D/more.jsonl"
"$BIN" convert -q -j 1 "$D/base.jsonl" -o "$D/base.steparc"
"$BIN" cat "$D/base.steparc" > "$D/base.out"
NBASE=$(wc -l < "$D/base.out")
"$BIN" convert -q -j 1 "$D/base.jsonl" "$D/more.jsonl" -o "$D/full.steparc"
NFULL=$("$BIN" info --json "$D/full.steparc" | python3 -c 'import json,sys;print(json.load(sys.stdin)["records"])')
# how long does an append take? spread the kills over that time
python3 - "$SEED" "$TRIALS" > "$D/delays" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    print("%.4f" % r.uniform(0.0, 0.12))
PY

# 1. append
bad=0; torn=0; old=0; new=0; i=0
while read -r delay; do
    i=$((i + 1))
    cp "$D/base.steparc" "$D/a.steparc"
    "$BIN" append -q -j 1 "$D/a.steparc" "$D/more.jsonl" 2>/dev/null &
    pid=$!
    sleep "$delay"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    n=$("$BIN" info --json "$D/a.steparc" 2>/dev/null | python3 -c 'import json,sys;print(json.load(sys.stdin)["records"])' 2>/dev/null)
    if [ "$n" = "$NBASE" ]; then old=$((old + 1))
    elif [ "$n" = "$NFULL" ]; then new=$((new + 1))
    else torn=$((torn + 1)); echo "  append trial $i (delay $delay): records '$n'" >&2; continue; fi
    # every record archived before the append reads back exactly
    "$BIN" cat "$D/a.steparc" 2>/dev/null | head -n "$NBASE" | cmp -s - "$D/base.out" || { bad=$((bad + 1)); echo "  append trial $i (delay $delay): old records differ" >&2; }
    # and a later append still works on it
    if [ $i -le 5 ]; then
        "$BIN" append -q "$D/a.steparc" "$D/more.jsonl" 2>/dev/null && "$BIN" verify "$D/a.steparc" > /dev/null 2>&1 ||
            { bad=$((bad + 1)); echo "  append trial $i: append after the crash failed" >&2; }
    fi
done < "$D/delays"
if [ $torn -eq 0 ] && [ $bad -eq 0 ]; then ok "crash_append_killed_${TRIALS}_times"
else ko "crash_append_killed_${TRIALS}_times" "seed $SEED: $torn unreadable, $bad wrong (old $old, new $new)"; fi
echo "  append: $old trials left the old archive, $new the new one (seed $SEED)" >&2

# 2. convert and merge: nothing, or a complete archive
for what in convert merge; do
    bad=0; none=0; full=0; i=0
    while read -r delay; do
        i=$((i + 1))
        rm -f "$D/c.steparc"
        if [ $what = convert ]; then
            "$BIN" convert -q -j 1 "$D/base.jsonl" "$D/more.jsonl" -o "$D/c.steparc" 2>/dev/null &
        else
            "$BIN" merge -q -j 1 "$D/full.steparc" "$D/base.steparc" -o "$D/c.steparc" 2>/dev/null &
        fi
        pid=$!
        # merge runs longer (it rewrites to drop duplicates): spread its kills wider
        [ $what = merge ] && delay=$(awk "BEGIN{print $delay * 4}")
        sleep "$delay"
        kill -9 $pid 2>/dev/null
        wait $pid 2>/dev/null
        if [ ! -e "$D/c.steparc" ]; then none=$((none + 1))
        elif "$BIN" verify "$D/c.steparc" > /dev/null 2>&1; then full=$((full + 1))
        else bad=$((bad + 1)); echo "  $what trial $i (delay $delay): a torn file at the output path" >&2; fi
        rm -f "$D"/c.steparc.tmp-* "$D"/.steparc-sort-*
    done < "$D/delays"
    if [ $bad -eq 0 ]; then ok "crash_${what}_killed_${TRIALS}_times"
    else ko "crash_${what}_killed_${TRIALS}_times" "seed $SEED: $bad torn"; fi
    echo "  $what: $none trials left nothing, $full a complete archive (seed $SEED)" >&2
done

# 3. a failed append (bad input) leaves the archive byte for byte as it was
cp "$D/base.steparc" "$D/f.steparc"
printf '{"id":"step_ok","object":"thread.run.step"}\n{"id":\n' > "$D/bad.jsonl"
if ! "$BIN" append -q "$D/f.steparc" "$D/bad.jsonl" 2>/dev/null && cmp -s "$D/f.steparc" "$D/base.steparc"; then
    ok crash_failed_append_restores
else
    ko crash_failed_append_restores "archive changed after a failed append"
fi
