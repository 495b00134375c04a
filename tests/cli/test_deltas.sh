#!/bin/sh
# Event streams cut before a step's final object: the step is rebuilt from its
# last full object plus the thread.run.step.delta events after it (function
# arguments, code input and outputs concatenated by index).
BIN=$STEPARC_BIN
D=$STEPARC_TMP/deltas
mkdir -p "$D"
ok() { echo "PASS $1"; }
ko() { echo "FAIL $1"; echo "  $1: $2" >&2; }
if ! command -v python3 >/dev/null 2>&1; then echo "SKIP deltas python3 missing"; exit 0; fi
G=$STEPARC_TESTS/gen_steps.py
python3 "$G" --seed 21 --count 400 --shape sse > "$D/full.sse"
# drop every final step event (completed/failed/cancelled/expired) of tool steps
python3 - "$D/full.sse" "$D/cut.sse" "$D/cut_ids" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
out, cut, i = [], [], 0
final = ("thread.run.step.completed", "thread.run.step.failed", "thread.run.step.cancelled",
         "thread.run.step.expired")
while i < len(lines):
    l = lines[i]
    if l.startswith("event: ") and l[7:] in final and i + 1 < len(lines):
        d = json.loads(lines[i + 1][5:].strip())
        if d.get("type") == "tool_calls" and d.get("id"):
            cut.append(d["id"])
            i += 2
            continue
    out.append(l)
    i += 1
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(out))
open(sys.argv[3], "w").write("\n".join(cut) + "\n")
PY
"$BIN" convert -q "$D/full.sse" -o "$D/full.steparc"
"$BIN" convert --report "$D/rep.json" "$D/cut.sse" -o "$D/cut.steparc" 2> "$D/err"
"$BIN" cat "$D/full.steparc" > "$D/full.out"
"$BIN" cat "$D/cut.steparc" > "$D/cut.out"
python3 - "$D/full.out" "$D/cut.out" "$D/cut_ids" "$D/rep.json" > "$D/res" <<'PY'
import json, sys
full = {}
for l in open(sys.argv[1], encoding="utf-8").read().split("\n")[:-1]:
    r = json.loads(l); full.setdefault(r["id"], r)
cut = {}
for l in open(sys.argv[2], encoding="utf-8").read().split("\n")[:-1]:
    r = json.loads(l); cut.setdefault(r["id"], r)
ids = [x for x in open(sys.argv[3]).read().split() if x]
rep = json.load(open(sys.argv[4]))
checked = bad = 0
def texts(step):
    out = []
    for tc in (step.get("step_details") or {}).get("tool_calls") or []:
        if not isinstance(tc, dict):
            continue
        f = tc.get("function")
        if isinstance(f, dict):
            out.append(("fn", tc.get("id"), f.get("name"), f.get("arguments")))
        ci = tc.get("code_interpreter")
        if isinstance(ci, dict):
            out.append(("ci", tc.get("id"), ci.get("input")))
    return out
for i in ids:
    if i not in cut or i not in full:
        bad += 1; print("missing", i); continue
    a, b = texts(full[i]), texts(cut[i])
    if a and b:
        checked += 1
        if a != b:
            bad += 1; print("differs", i, a[:1], b[:1])
print("checked", checked, "bad", bad, "rebuilt", rep.get("rebuilt_from_deltas"))
PY
res=$(tail -1 "$D/res")
case "$res" in
    "checked 0 "*) ko deltas_rebuild_function_and_code "nothing checked: $res" ;;
    *" bad 0 "*) ok deltas_rebuild_function_and_code ;;
    *) ko deltas_rebuild_function_and_code "$(cat "$D/res" | head -5)" ;;
esac
rb=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["rebuilt_from_deltas"])' "$D/rep.json")
[ "$rb" -gt 0 ] 2>/dev/null && ok deltas_rebuilt_reported || ko deltas_rebuilt_reported "report says $rb"
grep -q "rebuilt .* step(s) from their deltas" "$D/err" && ok deltas_summary_says_so || ko deltas_summary_says_so "$(cat "$D/err")"
# with the final objects present nothing is rebuilt, and the archive equals the final states
python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["rebuilt_from_deltas"])' "$D/rep.json" > /dev/null
"$BIN" convert -q --report "$D/rep2.json" "$D/full.sse" -o "$D/full2.steparc"
rb2=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["rebuilt_from_deltas"])' "$D/rep2.json")
[ "$rb2" = 0 ] && ok deltas_none_when_final_present || ko deltas_none_when_final_present "rebuilt $rb2"
# the specification's own stream example (deltas of one function call)
S=$STEPARC_SAMPLES/openapi_HEAD_stream_example_2.sse
if [ -f "$S" ]; then
    "$BIN" convert -q "$S" -o "$D/spec.steparc"
    "$BIN" cat "$D/spec.steparc" | grep -q '"arguments":"{\\"locationahrenheit\\"}"' &&
        ok deltas_spec_example || ko deltas_spec_example "$("$BIN" cat "$D/spec.steparc")"
else
    echo "SKIP deltas_spec_example samples absent"
fi
# deltas with no step object at all are reported, not archived
printf 'event: thread.run.step.delta\ndata: {"id":"step_x","object":"thread.run.step.delta","delta":{"step_details":{"type":"tool_calls","tool_calls":[{"index":0,"type":"function","function":{"arguments":"{}"}}]}}}\n\nevent: thread.run.step.completed\ndata: {"id":"step_y","object":"thread.run.step","status":"completed"}\n' > "$D/orphan.sse"
"$BIN" convert "$D/orphan.sse" -o "$D/orphan.steparc" 2> "$D/err2"
n=$("$BIN" info --json "$D/orphan.steparc" | python3 -c 'import json,sys;print(json.load(sys.stdin)["records"])')
[ "$n" = 1 ] && grep -q "could not be applied" "$D/err2" && ok deltas_without_step_reported || ko deltas_without_step_reported "records $n: $(cat "$D/err2")"
