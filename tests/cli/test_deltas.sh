#!/bin/sh
# Event streams cut before a step's final object: the step is rebuilt from its
# last full object plus the thread.run.step.delta events after it (function
# arguments, code input and outputs concatenated by index).
. "$(dirname "$0")/lib.sh"
workdir deltas
need_python deltas
python3 "$GEN" --seed 21 --count 400 --shape sse > "$W/full.sse"
# drop every final step event (completed/failed/cancelled/expired) of tool steps
python3 "$CHECKS" deltas-cut "$W/full.sse" "$W/cut.sse" "$W/cut_ids"
"$BIN" convert -q "$W/full.sse" -o "$W/full.steparc"
"$BIN" convert --report "$W/rep.json" "$W/cut.sse" -o "$W/cut.steparc" 2> "$W/err"
"$BIN" cat "$W/full.steparc" > "$W/full.out"
"$BIN" cat "$W/cut.steparc" > "$W/cut.out"
python3 "$CHECKS" deltas-compare "$W/full.out" "$W/cut.out" "$W/cut_ids" "$W/rep.json" > "$W/res"
res=$(tail -1 "$W/res")
case "$res" in
    "checked 0 "*) ko deltas_rebuild_function_and_code "nothing checked: $res" ;;
    *" bad 0 "*) ok deltas_rebuild_function_and_code ;;
    *) ko deltas_rebuild_function_and_code "$(cat "$W/res" | head -5)" ;;
esac
rb=$(python3 "$CHECKS" json-field "$W/rep.json" rebuilt_from_deltas)
[ "$rb" -gt 0 ] 2>/dev/null && ok deltas_rebuilt_reported || ko deltas_rebuilt_reported "report says $rb"
grep -q "rebuilt .* step(s) from their deltas" "$W/err" && ok deltas_summary_says_so || ko deltas_summary_says_so "$(cat "$W/err")"
# with the final objects present nothing is rebuilt, and the archive equals the final states
"$BIN" convert -q --report "$W/rep2.json" "$W/full.sse" -o "$W/full2.steparc"
rb2=$(python3 "$CHECKS" json-field "$W/rep2.json" rebuilt_from_deltas)
[ "$rb2" = 0 ] && ok deltas_none_when_final_present || ko deltas_none_when_final_present "rebuilt $rb2"
# the specification's own stream example (deltas of one function call)
S=$SAMPLES/openapi_HEAD_stream_example_2.sse
if [ -f "$S" ]; then
    "$BIN" convert -q "$S" -o "$W/spec.steparc"
    "$BIN" cat "$W/spec.steparc" | grep -q '"arguments":"{\\"locationahrenheit\\"}"' &&
        ok deltas_spec_example || ko deltas_spec_example "$("$BIN" cat "$W/spec.steparc")"
else
    echo "SKIP deltas_spec_example samples absent"
fi
# deltas with no step object at all are reported, not archived
printf 'event: thread.run.step.delta\ndata: {"id":"step_x","object":"thread.run.step.delta","delta":{"step_details":{"type":"tool_calls","tool_calls":[{"index":0,"type":"function","function":{"arguments":"{}"}}]}}}\n\nevent: thread.run.step.completed\ndata: {"id":"step_y","object":"thread.run.step","status":"completed"}\n' > "$W/orphan.sse"
"$BIN" convert "$W/orphan.sse" -o "$W/orphan.steparc" 2> "$W/err2"
n=$(records "$W/orphan.steparc")
[ "$n" = 1 ] && grep -q "could not be applied" "$W/err2" && ok deltas_without_step_reported || ko deltas_without_step_reported "records $n: $(cat "$W/err2")"
