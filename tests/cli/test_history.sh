#!/bin/sh
# Whole Assistants histories (issue 13): tests/gen_history.py output of every
# kind (assistants, threads, messages, runs, steps, files, vector stores and
# their files) in the export, jsonl and sse shapes (sse also cut before the
# final message events; v1-era histories too), converted; the archive checked
# against the generator's truth by tests/check_history_archive.py: each
# object's final state byte for byte, every kind present, rebuilt messages,
# cat --via-struct, and the convert summary's per-kind counts.
. "$(dirname "$0")/lib.sh"
workdir history
need_python history
G=$TESTS/gen_history.py
one() {  # NAME SEED SHAPE GENERATOR-OPTIONS...
    name=$1; seed=$2; shape=$3; shift 3
    d=$W/$name
    mkdir -p "$d"
    if [ "$shape" = export ]; then
        python3 "$G" --seed "$seed" --shape export "$@" --out "$d/in" --truth "$d/truth" 2> "$d/gen.err"
    else
        python3 "$G" --seed "$seed" --shape "$shape" "$@" --truth "$d/truth" > "$d/in" 2> "$d/gen.err"
    fi
    if [ $? -ne 0 ]; then ko "${name}_generate" "$(tail -1 "$d/gen.err")"; return; fi
    python3 "$CHECKS" history-archive "$name" "$BIN" "$shape" "$d/truth" "$d/in" "$d"
}
for seed in 1 2 3; do
    one "history_s${seed}_export" "$seed" export
    one "history_s${seed}_jsonl" "$seed" jsonl
    one "history_s${seed}_sse" "$seed" sse
    one "history_s${seed}_sse_cut" "$seed" sse --cut-streams
    one "history_s${seed}_export_v1" "$seed" export --v1
    one "history_s${seed}_jsonl_v1_shuffled" "$seed" jsonl --v1 --order shuffled
done
# a history cut in every way at once still converts (holes, nasty values)
one history_s4_sse_cut_nasty 4 sse --cut-streams --nasty --holes
one history_s4_export_nasty 4 export --nasty --holes
