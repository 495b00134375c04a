#!/bin/sh
# Duplicate step ids: one record per id by default (the most advanced state,
# the last among equals), every occurrence with --keep-duplicates.
BIN=$STEPARC_BIN
D=$STEPARC_TMP/dedup
mkdir -p "$D"
ok() { echo "PASS $1"; }
ko() { echo "FAIL $1"; echo "  $1: $2" >&2; }
if ! command -v python3 >/dev/null 2>&1; then echo "SKIP dedup python3 missing"; exit 0; fi
G=$STEPARC_TESTS/gen_steps.py
C=$STEPARC_TESTS/canon.py

# 1. The same dump twice, and overlapping pages: the archive equals one copy.
python3 "$G" --seed 11 --count 2000 > "$D/a.jsonl"
"$BIN" convert -q "$D/a.jsonl" "$D/a.jsonl" -o "$D/twice.steparc" 2> "$D/err"
"$BIN" convert -q "$D/a.jsonl" -o "$D/once.steparc"
python3 - "$D/a.jsonl" > "$D/nonempty_dups" <<'PY'
import json, sys, collections
ids = [json.loads(l)["id"] for l in open(sys.argv[1])]
print(sum(1 for k, v in collections.Counter(ids).items() if v > 1 and k != ""))
PY
"$BIN" cat "$D/twice.steparc" > "$D/twice.out"
"$BIN" cat "$D/once.steparc" > "$D/once.out"
# records with an empty id are never merged: they appear twice
python3 - "$D/twice.out" "$D/once.out" > "$D/cmp" <<'PY'
import json, sys
t = [l for l in open(sys.argv[1])]
o = [l for l in open(sys.argv[2])]
empty = [l for l in o if json.loads(l)["id"] == ""]
named = [l for l in o if json.loads(l)["id"] != ""]
t_named = [l for l in t if json.loads(l)["id"] != ""]
print("ok" if t_named == named and len(t) == len(o) + len(empty) else "bad")
PY
if [ "$(cat "$D/cmp")" = ok ] && [ "$(cat "$D/nonempty_dups")" = 0 ]; then ok dedup_same_dump_twice; else ko dedup_same_dump_twice "$(cat "$D/cmp")"; fi
"$BIN" convert "$D/a.jsonl" "$D/a.jsonl" -o "$D/twice2.steparc" 2> "$D/err"
n=$(wc -l < "$D/a.jsonl")
if grep -q "$(python3 -c "import json;print(sum(1 for l in open('$D/a.jsonl') if json.loads(l)['id']!=''))") duplicates merged" "$D/err"; then ok dedup_reports_count; else ko dedup_reports_count "$(cat "$D/err")"; fi
"$BIN" convert -q --keep-duplicates "$D/a.jsonl" "$D/a.jsonl" -o "$D/keep.steparc"
k=$("$BIN" info --json "$D/keep.steparc" | python3 -c 'import json,sys;print(json.load(sys.stdin)["records"])')
if [ "$k" = $((2 * n)) ]; then ok dedup_keep_duplicates; else ko dedup_keep_duplicates "records $k, expected $((2 * n))"; fi

# 2. Event streams: created/in_progress/completed of one step give the final state.
python3 "$G" --seed 12 --count 1500 --shape sse > "$D/s.sse"
python3 "$G" --seed 12 --count 1500 --shape sse --sse-final-only > "$D/f.sse"
"$BIN" convert -q "$D/s.sse" -o "$D/s.steparc"
"$BIN" convert -q "$D/f.sse" -o "$D/f.steparc"
python3 - "$D/s.steparc" "$D/f.steparc" "$BIN" > "$D/cmp2" <<'PY'
import json, sys, subprocess
# split on "\n" only: records may hold U+2028, which splitlines() would split on
s = subprocess.run([sys.argv[3], "cat", sys.argv[1]], capture_output=True).stdout.decode().split("\n")[:-1]
f = subprocess.run([sys.argv[3], "cat", sys.argv[2]], capture_output=True).stdout.decode().split("\n")[:-1]
named = lambda ls: [l for l in ls if json.loads(l)["id"] != ""]
print("ok" if named(s) == named(f) else "bad %d %d" % (len(named(s)), len(named(f))))
PY
if [ "$(cat "$D/cmp2")" = ok ]; then ok dedup_event_stream_final_state; else ko dedup_event_stream_final_state "$(cat "$D/cmp2")"; fi

# 3. Ranking: a terminal status beats a later in_progress; among equals the last wins.
cat > "$D/r.jsonl" <<'J'
{"id":"step_1","object":"thread.run.step","status":"completed","n":1}
{"id":"step_2","object":"thread.run.step","status":"in_progress","n":2}
{"id":"step_1","object":"thread.run.step","status":"in_progress","n":3}
{"id":"step_2","object":"thread.run.step","status":"in_progress","n":4}
{"id":"step_3","object":"thread.run.step","status":"failed","n":5}
{"id":"step_3","object":"thread.run.step","status":"expired","n":6}
{"id":"","object":"thread.run.step","n":7}
{"id":"","object":"thread.run.step","n":8}
J
"$BIN" convert -q "$D/r.jsonl" -o "$D/r.steparc"
got=$("$BIN" cat "$D/r.steparc" | python3 -c 'import json,sys;print(",".join(str(json.loads(l)["n"]) for l in sys.stdin))')
if [ "$got" = "1,4,6,7,8" ]; then ok dedup_ranking; else ko dedup_ranking "kept $got, expected 1,4,6,7,8"; fi
"$BIN" find "$D/r.steparc" --id step_2 | grep -q '"n":4' && ok dedup_index_points_at_winner || ko dedup_index_points_at_winner "find --id step_2"
"$BIN" verify "$D/r.steparc" > /dev/null && ok dedup_output_verifies || ko dedup_output_verifies "verify failed"
# deterministic across thread counts
"$BIN" convert -q -j 1 "$D/s.sse" "$D/a.jsonl" -o "$D/j1.steparc"
"$BIN" convert -q -j 2 "$D/s.sse" "$D/a.jsonl" -o "$D/j2.steparc"
cmp -s "$D/j1.steparc" "$D/j2.steparc" && ok dedup_deterministic || ko dedup_deterministic "-j 1 and -j 2 differ"
ls "$D" | grep -q 'tmp-' && ko dedup_no_temp_left "temporary files left" || ok dedup_no_temp_left

# 4. A few duplicates among many records, in small blocks: the blocks without
#    a dropped record are copied as they are (the rest re-encoded). The result
#    reads as the input with only the last copy of each id, verifies, finds
#    every id at its new ordinal, and -j 1 and -j 2 agree.
python3 - "$D/a.jsonl" "$D/sparse.jsonl" <<'PY'
import json, random, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8")]
ids = [json.loads(l)["id"] for l in lines]
count = {}
for i in ids:
    count[i] = count.get(i, 0) + 1
uniq = [l for l, i in zip(lines, ids) if i != "" and count[i] == 1]
rnd = random.Random(5)
picks = sorted(rnd.sample(range(len(uniq) // 2), 6))
out = list(uniq)
for k, p in enumerate(picks):  # exact copies later on: they win, the earlier go
    out.insert(len(uniq) // 2 + 150 * k + 3, uniq[p])
open(sys.argv[2], "w", encoding="utf-8").writelines(out)
PY
"$BIN" convert -q -j 1 --block-size 4096 "$D/sparse.jsonl" -o "$D/sp1.steparc" 2> "$D/sperr"
"$BIN" convert -q -j 2 --block-size 4096 "$D/sparse.jsonl" -o "$D/sp2.steparc" 2>> "$D/sperr"
"$BIN" cat "$D/sp1.steparc" > "$D/sp1.out"
python3 - "$D/sparse.jsonl" "$D/sp1.out" "$BIN" "$D/sp1.steparc" > "$D/spcmp" <<'PY'
import json, subprocess, sys
src = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
last = {}
for k, r in enumerate(src):
    last[r["id"]] = k
keep = [r for k, r in enumerate(src) if last[r["id"]] == k]
# split on "\n" only: records may hold U+2028
got = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8").read().split("\n") if l]
bad = 0
for r in keep[::37]:
    out = subprocess.run([sys.argv[3], "find", sys.argv[4], "--id", r["id"]], capture_output=True).stdout
    if out.count(b"\n") != 1 or json.loads(out) != r:
        bad += 1
print("ok" if got == keep and len(keep) == len(src) - 6 and bad == 0
      else "bad: %d records, %d expected, %d finds wrong" % (len(got), len(keep), bad))
PY
if [ "$(cat "$D/spcmp")" = ok ]; then ok dedup_sparse_copies_blocks
else ko dedup_sparse_copies_blocks "$(cat "$D/spcmp") $(cat "$D/sperr")"; fi
"$BIN" verify "$D/sp1.steparc" > /dev/null && ok dedup_sparse_verifies || ko dedup_sparse_verifies "verify failed"
cmp -s "$D/sp1.steparc" "$D/sp2.steparc" && ok dedup_sparse_deterministic || ko dedup_sparse_deterministic "-j 1 and -j 2 differ"
