#!/bin/sh
# export --conversations (docs/CONVERSATIONS.md): the Conversations API
# requests rebuilding each thread, checked by tests/check_conversations.py
# against the generated JSONL history it was converted from: the item shapes
# and limits, every message text and tool call once and in order, the loss
# report's counts against a brute-force count, determinism, --thread. Four
# histories (plain, --nasty, --holes, --v1 --nasty --holes), a negative
# control (a broken export must fail the checks) and the usage errors.
. "$(dirname "$0")/lib.sh"
workdir conversations
need_python conversations
DRIVER=$TESTS/check_conversations.py

run_history() { # NAME GEN-OPTIONS...
    _n=$1
    shift
    mkdir -p "$W/$_n"
    if ! python3 "$TESTS/gen_history.py" "$@" --shape jsonl > "$W/$_n/h.jsonl" ||
        ! "$BIN" convert -q --block-size 8192 "$W/$_n/h.jsonl" -o "$W/$_n/h.steparc" 2>> "$W/err"; then
        ko "${_n}_prep" "cannot generate or convert: $(tail -3 "$W/err")"
        return
    fi
    python3 "$DRIVER" "$BIN" "$W/$_n/h.jsonl" "$W/$_n/h.steparc" "$W/$_n" "$_n"
}

run_history conv_plain --seed 21 --threads 12
run_history conv_nasty --seed 22 --threads 25 --nasty
run_history conv_holes --seed 23 --threads 15 --holes
run_history conv_v1 --seed 24 --threads 15 --v1 --nasty --holes

# the limits, crafted: 13 thread metadata keys (two long keys, the same once
# cut; a long value; a non-string), 45 messages (3 bodies), a call id over 64 characters, an
# assistant image, a user refusal, a citation naming an archived file, a hole
mkdir -p "$W/conv_limits"
python3 - "$W/conv_limits/h.jsonl" <<'PY'
import json, sys
T = "thread_limits"
meta = {"k%02d" % i: "v" for i in range(10)}
meta["x" * 70] = "long key"
meta["x" * 64 + "y"] = "the same key once cut"
meta["long"] = "\u00e9" * 600
meta["num"] = 5
recs = [{"id": "file-a", "object": "file", "filename": "a.pdf", "bytes": 1, "created_at": 1},
        {"id": T, "object": "thread", "created_at": 100, "metadata": meta, "tool_resources": {}}]
for i in range(45):
    recs.append({"id": "msg_%02d" % i, "object": "thread.message", "created_at": 100 + i, "thread_id": T,
                 "role": "user", "content": [{"type": "text", "text": {"value": "m%d\u0000x" % i, "annotations": []}}]})
recs[-1]["content"].append({"type": "refusal", "refusal": "no"})
recs.append({"id": "msg_a", "object": "thread.message", "created_at": 200, "thread_id": T,
             "role": "assistant", "run_id": "run_1", "assistant_id": "asst_1", "status": "completed",
             "content": [{"type": "image_file", "image_file": {"file_id": "file-img"}},
                         {"type": "text", "text": {"value": "see", "annotations": [
                             {"type": "file_citation", "text": "[1]", "start_index": 0, "end_index": 3,
                              "file_citation": {"file_id": "file-a"}}]}}]})
recs.append({"id": "run_1", "object": "thread.run", "created_at": 190, "thread_id": T, "assistant_id": "asst_1",
             "status": "completed", "model": "gpt-4o"})
cid = "call_" + "c" * 70
recs.append({"id": "step_1", "object": "thread.run.step", "created_at": 191, "run_id": "run_1", "thread_id": T,
             "assistant_id": "asst_1", "type": "tool_calls", "status": "failed", "step_details": {
                 "type": "tool_calls", "tool_calls": [{"id": cid, "type": "function", "function": {
                     "name": "f", "arguments": "{}", "output": "ok"}}]}})
recs.append({"id": "step_2", "object": "thread.run.step", "created_at": 199, "run_id": "run_1", "thread_id": T,
             "type": "message_creation", "status": "completed",
             "step_details": {"type": "message_creation", "message_creation": {"message_id": "msg_a"}}})
recs.append({"id": "step_3", "object": "thread.run.step", "created_at": 201, "run_id": "run_1", "thread_id": T,
             "type": "message_creation", "status": "completed",
             "step_details": {"type": "message_creation", "message_creation": {"message_id": "msg_gone"}}})
recs.append({"id": "msg_b", "object": "thread.message", "created_at": 5, "thread_id": "thread_other",
             "role": "user", "content": []})
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for r in recs:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
PY
if "$BIN" convert -q "$W/conv_limits/h.jsonl" -o "$W/conv_limits/h.steparc" 2>> "$W/err"; then
    python3 "$DRIVER" "$BIN" "$W/conv_limits/h.jsonl" "$W/conv_limits/h.steparc" "$W/conv_limits" conv_limits
    "$BIN" export --conversations "$W/conv_limits/h.steparc" --thread thread_limits \
        --report "$W/conv_limits/r.json" > "$W/conv_limits/o.jsonl" 2> /dev/null
    python3 - "$W/conv_limits/o.jsonl" "$W/conv_limits/r.json" > "$W/conv_limits/why" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
lost = json.load(open(sys.argv[2], encoding="utf-8"))["threads"][0]["lost"]
md = lines[0]["body"]["metadata"]
want = {"metadata.key_truncated": 2, "metadata.value_truncated": 1, "metadata.value_not_string": 1,
        "metadata.key_dropped": 1, "function_call.call_id_over_64": 1, "message.missing": 1,
        "part.image_file": 1, "part.refusal": 1, "annotation.span": 1, "call.status_narrowed": 1}
bad = [k for k, v in want.items() if lost.get(k) != v]
if [len(l["body"]["items"]) for l in lines] != [20, 20, 8] or len(md) != 15 or bad \
        or md["source_thread_id"] != "thread_limits" or md["source_assistant_id"] != "asst_1" \
        or len(md["long"]) != 512 or any(len(k) > 64 for k in md) or lines[0]["body"]["items"][0]["content"][0]["text"] != "m0\x00x":
    print("items %r, metadata %r, losses %r" % ([len(l["body"]["items"]) for l in lines], md, bad))
PY
    check conv_limits_counts "$(cat "$W/conv_limits/why")" [ ! -s "$W/conv_limits/why" ]
else
    ko conv_limits_prep "convert failed: $(tail -3 "$W/err")"
fi

# negative control: an export whose -o file lacks one request line must fail
# the content checks
cat > "$W/broken.sh" <<SH
#!/bin/sh
"$BIN" "\$@" || exit
o=""; prev=""
for a in "\$@"; do [ "\$prev" = "-o" ] && o=\$a; prev=\$a; done
[ -z "\$o" ] || sed -i '3d' "\$o"
SH
chmod +x "$W/broken.sh"
if python3 "$DRIVER" "$W/broken.sh" "$W/conv_plain/h.jsonl" "$W/conv_plain/h.steparc" "$W/conv_plain" neg \
    > "$W/neg.out" 2>&1 || ! grep -q '^FAIL neg_content' "$W/neg.out"; then
    ko conv_checker_can_fail "a broken export passed the content check: $(cat "$W/neg.out")"
else
    ok conv_checker_can_fail
fi

# usage errors, and nothing left behind on an error
A=$W/conv_plain/h.steparc
"$BIN" export "$A" > /dev/null 2>&1
check conv_no_format "no format: exit $?, expected 2" [ $? -eq 2 ]
"$BIN" export --conversations --sqlite "$W/x.db" "$A" > /dev/null 2>&1
check conv_two_formats "two formats: exit $?, expected 2" [ $? -eq 2 ]
"$BIN" export --sqlite "$W/x.db" --thread t "$A" > /dev/null 2>&1
check conv_sqlite_thread "--thread with --sqlite: exit $?, expected 2" [ $? -eq 2 ]
"$BIN" export --conversations "$A" --thread t1 --thread t1 > /dev/null 2>&1
check conv_thread_twice "the same --thread twice: exit $?, expected 2" [ $? -eq 2 ]
"$BIN" export --conversations "$A" -o "$A" > /dev/null 2>&1
st=$?
"$BIN" verify "$A" > /dev/null 2>&1
check conv_overwrite "-o ARCHIVE: exit $st, expected 2, and the archive intact" [ $st -eq 2 ] && [ $? -eq 0 ]
"$BIN" export --conversations "$A" --thread thread_nosuch -o "$W/none.jsonl" > /dev/null 2>&1
st=$?
left=$(ls "$W" | grep -c 'none.jsonl')
check conv_error_leaves_nothing "exit $st, $left files left" [ $st -eq 1 ] && [ "$left" -eq 0 ]
"$BIN" export --conversations "$W/missing.steparc" > /dev/null 2>&1
check conv_missing_archive "exit $?, expected 1" [ $? -eq 1 ]
"$BIN" help export | grep -q -- '--conversations'
check conv_help "help export names --conversations" [ $? -eq 0 ]
[ "$FAILS" -eq 0 ]
