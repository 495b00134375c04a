#!/bin/sh
# Self-check of tests/gen_history.py: every shape for a small seed parses
# (JSON documents, SSE framing, HAR bodies) and tests/check_history.py finds
# exactly the truth file's objects and records in it, the truth's counts and
# links consistent (each kind present, links resolve except the deliberate
# holes), and the output deterministic for a seed.
D=$STEPARC_TMP/gen_history
mkdir -p "$D"
ok() { echo "PASS $1"; }
ko() { echo "FAIL $1"; echo "  $1: $2" >&2; }
if ! command -v python3 >/dev/null 2>&1; then echo "SKIP gen_history python3 missing"; exit 0; fi
G=$STEPARC_TESTS/gen_history.py
C=$STEPARC_TESTS/check_history.py
one() {  # name shape options...
    name=$1; shape=$2; shift 2
    if [ "$shape" = export ]; then
        python3 "$G" --seed 11 --threads 10 --shape "$shape" "$@" --out "$D/$name.d" --truth "$D/$name.truth" 2> "$D/$name.err"
        p=$D/$name.d
    else
        python3 "$G" --seed 11 --threads 10 --shape "$shape" "$@" --truth "$D/$name.truth" > "$D/$name.out" 2> "$D/$name.err"
        p=$D/$name.out
    fi
    if [ $? -ne 0 ]; then ko "gen_history_$name" "generator failed: $(tail -1 "$D/$name.err")"; return; fi
    if python3 "$C" --shape "$shape" --truth "$D/$name.truth" "$p" > "$D/$name.chk" 2>&1; then
        ok "gen_history_$name"
    else
        ko "gen_history_$name" "$(head -3 "$D/$name.chk" | tr '\n' ' ')"
    fi
}
for s in export jsonl sse nested har node-page; do
    one "$s" "$s"
    one "${s}_holes_nasty" "$s" --holes --nasty
done
one sse_cut sse --cut-streams --holes
one jsonl_shuffled_v1 jsonl --order shuffled --v1 --holes
one har_v1 har --v1
one export_v1 export --v1 --nasty
# cut streams really rebuild messages from snapshot + deltas
n=$(python3 -c "import json,sys; t=json.load(open(sys.argv[1])); print(sum(1 for o in t['objects'].values() if o.get('rebuilt') and o['kind']=='thread.message'))" "$D/sse_cut.truth" 2>/dev/null)
if [ "${n:-0}" -gt 0 ]; then ok gen_history_cut_rebuilt; else ko gen_history_cut_rebuilt "no rebuilt message in the truth"; fi
# the checker catches a changed record
sed 's/"completed"/"completxd"/' "$D/jsonl.out" > "$D/bad.out"
if python3 "$C" --shape jsonl --truth "$D/jsonl.truth" "$D/bad.out" > /dev/null 2>&1; then
    ko gen_history_checker_fails "a changed status went unnoticed"
else
    ok gen_history_checker_fails
fi
# deterministic: same options, same bytes
python3 "$G" --seed 11 --threads 10 --shape sse --cut-streams --holes > "$D/again.sse" 2>/dev/null
if cmp -s "$D/again.sse" "$D/sse_cut.out"; then ok gen_history_deterministic; else ko gen_history_deterministic "sse output differs between runs"; fi
