#!/bin/sh
# Containers a capture comes in (issue 13): HAR files (base64 bodies, an HTML
# body), Node SDK page objects, nested documents (exports, recordings with
# bodies as JSON strings), each checked against gen_history's truth by
# tests/check_containers.py (every run step once with its final record, the
# non-step objects all found); Python-repr dumps get a hint; --skip-invalid
# skips a non-JSON input; symbolic links to directories are not followed
# unless --follow-symlinks, and then loops are detected.
. "$(dirname "$0")/lib.sh"
workdir containers
need_python containers
G=$TESTS/gen_history.py
CC=$TESTS/check_containers.py
cd "$W" || exit 1
# skipped REPORT KEY: the count of one skip reason in a --report file
skipped() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["skipped"][sys.argv[2]])' "$1" "$2" 2>/dev/null; }

# shape NAME: convert gen_history's shape (file or --out directory) and check it against the truth
shape() {
    name=$1; shape=$2; shift 2
    if [ "$shape" = nested ]; then
        python3 "$G" --seed 21 --threads 12 --shape nested "$@" --truth "$name.truth" --out "$name.in" 2> "$name.gen" || { ko "containers_$name" "generator failed"; return; }
    else
        python3 "$G" --seed 21 --threads 12 --shape "$shape" "$@" --truth "$name.truth" > "$name.in" 2> "$name.gen" || { ko "containers_$name" "generator failed"; return; }
    fi
    if ! "$BIN" convert -q --report "$name.rep" -o "$name.steparc" "$name.in" 2> "$name.err"; then
        ko "containers_$name" "convert failed: $(head -2 "$name.err")"; return
    fi
    "$BIN" cat "$name.steparc" > "$name.cat"
    if python3 "$CC" "$name.truth" "$name.cat" "$name.rep" > "$name.chk" 2>&1; then ok "containers_$name"
    else ko "containers_$name" "$(head -3 "$name.chk" | tr '\n' ' ')"; fi
}
shape har har
shape har_nasty har --nasty --holes
shape har_v1 har --v1
shape node node-page
shape node_nasty node-page --nasty --holes
shape nested nested
shape nested_nasty nested --nasty --holes

# base64 bodies were really there, and decoded
if grep -q '"encoding": *"base64"' har.in && [ -s har.cat ]; then ok containers_har_base64_present
else ko containers_har_base64_present "the generated HAR has no base64 body"; fi
# a HAR whose bodies are all base64: the same steps
python3 - har.in > har64.in <<'PY' || ko containers_har_all_base64 "rewrite failed"
import base64, json, sys
h = json.load(open(sys.argv[1], encoding="utf-8"))
for e in h["log"]["entries"]:
    c = e["response"]["content"]
    if c.get("encoding") != "base64":
        c["text"] = base64.b64encode(c["text"].encode("utf-8")).decode("ascii")
        c["encoding"] = "base64"
json.dump(h, sys.stdout)
PY
if "$BIN" convert -q --report har64.rep -o har64.steparc har64.in 2> har64.err && "$BIN" cat har64.steparc > har64.cat &&
   python3 "$CC" har.truth har64.cat har64.rep > har64.chk 2>&1; then ok containers_har_all_base64
else ko containers_har_all_base64 "$(head -3 har64.err har64.chk | tr '\n' ' ')"; fi
# an HTML body is skipped and counted, the rest converted
python3 - har.in > harhtml.in <<'PY'
import json, sys
h = json.load(open(sys.argv[1], encoding="utf-8"))
h["log"]["entries"].insert(3, {"request": {"method": "GET", "url": "https://platform.openai.com/login"},
    "response": {"status": 200, "content": {"mimeType": "text/html", "text": "<!doctype html><html><body>Log in</body></html>"}}})
h["log"]["entries"].insert(5, {"request": {"method": "GET", "url": "https://cdn/x.png"},
    "response": {"status": 200, "content": {"mimeType": "image/png", "text": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB", "encoding": "base64"}}})
json.dump(h, sys.stdout)
PY
if "$BIN" convert --report harhtml.rep -o harhtml.steparc harhtml.in 2> harhtml.err &&
   [ "$(skipped harhtml.rep not_json)" = 2 ] &&
   grep -q 'entry 3: skipped (response body (text/html) is neither JSON nor an event stream)' harhtml.err &&
   "$BIN" cat harhtml.steparc > harhtml.cat && python3 "$CC" har.truth harhtml.cat harhtml.rep > /dev/null; then
    ok containers_har_html_body
else ko containers_har_html_body "$(head -3 harhtml.err | tr '\n' ' ')"; fi
# a bad body names the HAR file and the entry
python3 - har.in > harbad.in <<'PY'
import json, sys
h = json.load(open(sys.argv[1], encoding="utf-8"))
h["log"]["entries"][12]["response"]["content"] = {"mimeType": "application/json", "text": "{\"object\": \"list\", \"data\": [1,,2]}"}
json.dump(h, sys.stdout)
PY
"$BIN" convert -q -o harbad.steparc harbad.in 2> harbad.err; rc=$?
if [ $rc = 1 ] && grep -q '^steparc: harbad.in: entry 12:1:' harbad.err; then ok containers_har_error_names_entry
else ko containers_har_error_names_entry "exit $rc: $(cat harbad.err)"; fi

# the nested documents as one stream of concatenated documents
cat nested.in/globals.json nested.in/threads/*.json > nested_all.json
if "$BIN" convert -q --input-format json --report nested_all.rep -o nested_all.steparc nested_all.json 2> nested_all.err &&
   "$BIN" cat nested_all.steparc > nested_all.cat && python3 "$CC" nested.truth nested_all.cat nested_all.rep > nested_all.chk; then
    ok containers_nested_concatenated
else ko containers_nested_concatenated "$(head -3 nested_all.err nested_all.chk | tr '\n' ' ')"; fi
# existing shapes: jsonl and sse still hold every step once
shape jsonl jsonl

# a Python repr dump: a hint, exit 1
printf "{'id': 'step_1', 'object': 'thread.run.step', 'usage': None, 'ok': True}\n" > repr.json
"$BIN" convert -q -o repr.steparc repr.json 2> repr.err; rc=$?
if [ $rc = 1 ] && grep -q 'repr.json:1:2: .*this looks like a Python repr (single quotes, None), not JSON: dump with json.dumps' repr.err; then
    ok containers_python_repr_hint
else ko containers_python_repr_hint "exit $rc: $(cat repr.err)"; fi
printf '{"id": "step_1", "object": "thread.run.step", "usage": None}\n' > repr2.json
"$BIN" convert -q -o repr2.steparc repr2.json 2> repr2.err; rc=$?
if [ $rc = 1 ] && grep -q 'looks like a Python repr' repr2.err; then ok containers_python_none_hint
else ko containers_python_none_hint "exit $rc: $(cat repr2.err)"; fi
printf '{"id": "step_1", "object": "thread.run.step" "x": 1}\n' > plain_bad.json
"$BIN" convert -q -o pb.steparc plain_bad.json 2> pb.err
if grep -q 'Python repr' pb.err; then ko containers_no_hint_on_json "hint on a JSON error: $(cat pb.err)"; else ok containers_no_hint_on_json; fi

# a non-JSON input: exit 1 with file:line:col; skipped whole under --skip-invalid
printf 'id,object\nstep_1,thread.run.step\n' > table.csv
printf '\211PNG\r\n\032\n\000\000binary' > image.json
"$BIN" convert -q -o csv.steparc table.csv 2> csv.err; rc=$?
if [ $rc = 1 ] && grep -q '^steparc: table.csv:1:1: not JSON and not an event stream' csv.err; then ok containers_non_json_fails
else ko containers_non_json_fails "exit $rc: $(cat csv.err)"; fi
"$BIN" convert --skip-invalid --report skipped.rep -o sk.steparc table.csv image.json jsonl.in 2> sk.err; rc=$?
nj=$(skipped skipped.rep not_json)
if [ $rc = 0 ] && [ "$nj" = 2 ] && grep -q 'table.csv: skipped (not JSON and not an event stream: the whole input skipped)' sk.err &&
   grep -q 'skipped 2 inputs or bodies not JSON' sk.err; then ok containers_non_json_skipped
else ko containers_non_json_skipped "exit $rc, not_json $nj: $(cat sk.err)"; fi

# symbolic links in directory walks
mkdir -p tree/sub outside
cp jsonl.in tree/sub/a.jsonl
cp node.in outside/b.jsonl
ln -s .. tree/sub/loop
ln -s "$W/outside" tree/out
ln -s ../node.in tree/file.jsonl
"$BIN" convert --report l0.rep -o l0.steparc tree 2> l0.err; rc=$?
links=$(skipped l0.rep link)
if [ $rc = 0 ] && [ "$links" = 2 ] && grep -q 'tree/sub/loop: skipped (symbolic link to a directory, not followed' l0.err &&
   grep -q 'tree/out: skipped' l0.err && [ "$(python3 "$CHECKS" json-field l0.rep inputs)" = 2 ]; then
    ok containers_links_not_followed
else ko containers_links_not_followed "exit $rc, links $links: $(cat l0.err)"; fi
"$BIN" convert --follow-symlinks --report l1.rep -o l1.steparc tree 2> l1.err; rc=$?
links=$(skipped l1.rep link)
if [ $rc = 0 ] && [ "$links" = 1 ] && grep -q 'tree/sub/loop: skipped (symbolic link loop' l1.err &&
   [ "$(python3 "$CHECKS" json-field l1.rep inputs)" = 3 ]; then
    ok containers_links_followed_loop_detected
else ko containers_links_followed_loop_detected "exit $rc, links $links: $(cat l1.err)"; fi
# append takes the option too
cp l0.steparc ap.steparc
if "$BIN" append -q --follow-symlinks ap.steparc tree/out 2> ap.err; then ok containers_append_follow_symlinks
else ko containers_append_follow_symlinks "$(cat ap.err)"; fi
