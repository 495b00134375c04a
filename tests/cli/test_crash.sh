#!/bin/sh
# Crash safety: SIGKILL convert, append and merge at random moments. The output
# path must hold nothing, the previous complete archive or the new complete
# archive, never a torn file; after a killed append every record archived
# before it is still readable. Seeds are printed on failure (STEPARC_CRASH_SEED).
. "$(dirname "$0")/lib.sh"
workdir crash
need_python crash
TRIALS=${STEPARC_CRASH_TRIALS:-50}
SEED=${STEPARC_CRASH_SEED:-$(date +%s)}
python3 "$GEN" --seed 41 --count 3000 > "$W/base.jsonl"
python3 "$GEN" --seed 42 --count 6000 > "$W/more.jsonl"
"$BIN" convert -q -j 1 "$W/base.jsonl" -o "$W/base.steparc"
"$BIN" cat "$W/base.steparc" > "$W/base.out"
NBASE=$(wc -l < "$W/base.out")
"$BIN" convert -q -j 1 "$W/base.jsonl" "$W/more.jsonl" -o "$W/full.steparc"
NFULL=$(records "$W/full.steparc")
# how long does an append take? spread the kills over that time
python3 "$CHECKS" crash-delays "$SEED" "$TRIALS" > "$W/delays"

# 1. append
bad=0; torn=0; old=0; new=0; i=0
while read -r delay; do
    i=$((i + 1))
    cp "$W/base.steparc" "$W/a.steparc"
    "$BIN" append -q -j 1 "$W/a.steparc" "$W/more.jsonl" 2>/dev/null &
    pid=$!
    sleep "$delay"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    n=$(records "$W/a.steparc")
    if [ "$n" = "$NBASE" ]; then old=$((old + 1))
    elif [ "$n" = "$NFULL" ]; then new=$((new + 1))
    else torn=$((torn + 1)); echo "  append trial $i (delay $delay): records '$n'" >&2; continue; fi
    # every record archived before the append reads back exactly
    "$BIN" cat "$W/a.steparc" 2>/dev/null | head -n "$NBASE" | cmp -s - "$W/base.out" || { bad=$((bad + 1)); echo "  append trial $i (delay $delay): old records differ" >&2; }
    # and a later append still works on it
    if [ $i -le 5 ]; then
        "$BIN" append -q "$W/a.steparc" "$W/more.jsonl" 2>/dev/null && "$BIN" verify "$W/a.steparc" > /dev/null 2>&1 ||
            { bad=$((bad + 1)); echo "  append trial $i: append after the crash failed" >&2; }
    fi
done < "$W/delays"
if [ $torn -eq 0 ] && [ $bad -eq 0 ]; then ok "crash_append_killed_${TRIALS}_times"
else ko "crash_append_killed_${TRIALS}_times" "seed $SEED: $torn unreadable, $bad wrong (old $old, new $new)"; fi
echo "  append: $old trials left the old archive, $new the new one (seed $SEED)" >&2

# 2. convert and merge: nothing, or a complete archive
for what in convert merge; do
    bad=0; none=0; full=0; i=0
    while read -r delay; do
        i=$((i + 1))
        rm -f "$W/c.steparc"
        if [ $what = convert ]; then
            "$BIN" convert -q -j 1 "$W/base.jsonl" "$W/more.jsonl" -o "$W/c.steparc" 2>/dev/null &
        else
            "$BIN" merge -q -j 1 "$W/full.steparc" "$W/base.steparc" -o "$W/c.steparc" 2>/dev/null &
        fi
        pid=$!
        # merge runs longer (it rewrites to drop duplicates): spread its kills wider
        [ $what = merge ] && delay=$(awk "BEGIN{print $delay * 4}")
        sleep "$delay"
        kill -9 $pid 2>/dev/null
        wait $pid 2>/dev/null
        if [ ! -e "$W/c.steparc" ]; then none=$((none + 1))
        elif "$BIN" verify "$W/c.steparc" > /dev/null 2>&1; then full=$((full + 1))
        else bad=$((bad + 1)); echo "  $what trial $i (delay $delay): a torn file at the output path" >&2; fi
        rm -f "$W"/c.steparc.tmp-* "$W"/.steparc-sort-*
    done < "$W/delays"
    if [ $bad -eq 0 ]; then ok "crash_${what}_killed_${TRIALS}_times"
    else ko "crash_${what}_killed_${TRIALS}_times" "seed $SEED: $bad torn"; fi
    echo "  $what: $none trials left nothing, $full a complete archive (seed $SEED)" >&2
done

# 3. a failed append (bad input) leaves the archive byte for byte as it was
cp "$W/base.steparc" "$W/f.steparc"
printf '{"id":"step_ok","object":"thread.run.step"}\n{"id":\n' > "$W/bad.jsonl"
if ! "$BIN" append -q "$W/f.steparc" "$W/bad.jsonl" 2>/dev/null && cmp -s "$W/f.steparc" "$W/base.steparc"; then
    ok crash_failed_append_restores
else
    ko crash_failed_append_restores "archive changed after a failed append"
fi
