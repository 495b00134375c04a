#!/bin/sh
# Duplicate step ids: one record per id by default (the most advanced state,
# the last among equals), every occurrence with --keep-duplicates.
. "$(dirname "$0")/lib.sh"
workdir dedup
need_python dedup

# 1. The same dump twice, and overlapping pages: the archive equals one copy.
python3 "$GEN" --seed 11 --count 2000 > "$W/a.jsonl"
"$BIN" convert -q "$W/a.jsonl" "$W/a.jsonl" -o "$W/twice.steparc" 2> "$W/err"
"$BIN" convert -q "$W/a.jsonl" -o "$W/once.steparc"
python3 "$CHECKS" dedup-nonempty-dups "$W/a.jsonl" > "$W/nonempty_dups"
"$BIN" cat "$W/twice.steparc" > "$W/twice.out"
"$BIN" cat "$W/once.steparc" > "$W/once.out"
# records with an empty id are never merged: they appear twice
python3 "$CHECKS" dedup-twice-vs-once "$W/twice.out" "$W/once.out" > "$W/cmp"
if [ "$(cat "$W/cmp")" = ok ] && [ "$(cat "$W/nonempty_dups")" = 0 ]; then ok dedup_same_dump_twice; else ko dedup_same_dump_twice "$(cat "$W/cmp")"; fi
"$BIN" convert "$W/a.jsonl" "$W/a.jsonl" -o "$W/twice2.steparc" 2> "$W/err"
n=$(wc -l < "$W/a.jsonl")
if grep -q "$(python3 "$CHECKS" dedup-named-count "$W/a.jsonl") duplicates merged" "$W/err"; then ok dedup_reports_count; else ko dedup_reports_count "$(cat "$W/err")"; fi
"$BIN" convert -q --keep-duplicates "$W/a.jsonl" "$W/a.jsonl" -o "$W/keep.steparc"
k=$(records "$W/keep.steparc")
if [ "$k" = $((2 * n)) ]; then ok dedup_keep_duplicates; else ko dedup_keep_duplicates "records $k, expected $((2 * n))"; fi

# 2. Event streams: created/in_progress/completed of one step give the final state.
python3 "$GEN" --seed 12 --count 1500 --shape sse > "$W/s.sse"
python3 "$GEN" --seed 12 --count 1500 --shape sse --sse-final-only > "$W/f.sse"
"$BIN" convert -q "$W/s.sse" -o "$W/s.steparc"
"$BIN" convert -q "$W/f.sse" -o "$W/f.steparc"
python3 "$CHECKS" dedup-named-equal "$BIN" "$W/s.steparc" "$W/f.steparc" > "$W/cmp2"
if [ "$(cat "$W/cmp2")" = ok ]; then ok dedup_event_stream_final_state; else ko dedup_event_stream_final_state "$(cat "$W/cmp2")"; fi

# 3. Ranking: a terminal status beats a later in_progress; among equals the last wins.
cat > "$W/r.jsonl" <<'J'
{"id":"step_1","object":"thread.run.step","status":"completed","n":1}
{"id":"step_2","object":"thread.run.step","status":"in_progress","n":2}
{"id":"step_1","object":"thread.run.step","status":"in_progress","n":3}
{"id":"step_2","object":"thread.run.step","status":"in_progress","n":4}
{"id":"step_3","object":"thread.run.step","status":"failed","n":5}
{"id":"step_3","object":"thread.run.step","status":"expired","n":6}
{"id":"","object":"thread.run.step","n":7}
{"id":"","object":"thread.run.step","n":8}
J
"$BIN" convert -q "$W/r.jsonl" -o "$W/r.steparc"
got=$("$BIN" cat "$W/r.steparc" | python3 "$CHECKS" dedup-field-n)
if [ "$got" = "1,4,6,7,8" ]; then ok dedup_ranking; else ko dedup_ranking "kept $got, expected 1,4,6,7,8"; fi
"$BIN" find "$W/r.steparc" --id step_2 | grep -q '"n":4' && ok dedup_index_points_at_winner || ko dedup_index_points_at_winner "find --id step_2"
"$BIN" verify "$W/r.steparc" > /dev/null && ok dedup_output_verifies || ko dedup_output_verifies "verify failed"
# deterministic across thread counts
"$BIN" convert -q -j 1 "$W/s.sse" "$W/a.jsonl" -o "$W/j1.steparc"
"$BIN" convert -q -j 2 "$W/s.sse" "$W/a.jsonl" -o "$W/j2.steparc"
cmp -s "$W/j1.steparc" "$W/j2.steparc" && ok dedup_deterministic || ko dedup_deterministic "-j 1 and -j 2 differ"
ls "$W" | grep -q 'tmp-' && ko dedup_no_temp_left "temporary files left" || ok dedup_no_temp_left

# 4. A few duplicates among many records, in small blocks: the blocks without
#    a dropped record are copied as they are (the rest re-encoded). The result
#    reads as the input with only the last copy of each id, verifies, finds
#    every id at its new ordinal, and -j 1 and -j 2 agree.
python3 "$CHECKS" dedup-sparse-input "$W/a.jsonl" "$W/sparse.jsonl"
"$BIN" convert -q -j 1 --block-size 4096 "$W/sparse.jsonl" -o "$W/sp1.steparc" 2> "$W/sperr"
"$BIN" convert -q -j 2 --block-size 4096 "$W/sparse.jsonl" -o "$W/sp2.steparc" 2>> "$W/sperr"
"$BIN" cat "$W/sp1.steparc" > "$W/sp1.out"
python3 "$CHECKS" dedup-sparse-check "$W/sparse.jsonl" "$W/sp1.out" "$BIN" "$W/sp1.steparc" > "$W/spcmp"
if [ "$(cat "$W/spcmp")" = ok ]; then ok dedup_sparse_copies_blocks
else ko dedup_sparse_copies_blocks "$(cat "$W/spcmp") $(cat "$W/sperr")"; fi
"$BIN" verify "$W/sp1.steparc" > /dev/null && ok dedup_sparse_verifies || ko dedup_sparse_verifies "verify failed"
cmp -s "$W/sp1.steparc" "$W/sp2.steparc" && ok dedup_sparse_deterministic || ko dedup_sparse_deterministic "-j 1 and -j 2 differ"
