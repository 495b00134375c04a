#!/bin/sh
# steparc transcript: golden transcripts of examples/history (UPDATE_GOLDEN=1
# refreshes them), HTML escaping, the order against a brute force over
# `steparc cat`, and the HTML page in a real headless browser.
. "$(dirname "$0")/lib.sh"
need_python transcript
tempdir transcript
DRV=$TESTS/check_transcript.py
A=$W/h.steparc
"$BIN" convert "$REPO/examples/history" -o "$A" -q || { ko transcript-convert "convert failed"; exit 1; }
"$BIN" cat "$A" > "$W/cat.jsonl"

# golden: every thread, in each format (text uncoloured, 100 columns)
for f in text:txt markdown:md html:html; do
    fmt=${f%%:*} ext=${f##*:}
    if COLUMNS=100 "$BIN" transcript "$A" --format "$fmt" --color=never > "$W/out.$ext"; then
        if [ -n "${UPDATE_GOLDEN:-}" ]; then
            cp "$W/out.$ext" "$TESTS/golden/transcript.$ext" && ok "transcript-golden-$ext (updated)"
        else
            check "transcript-golden-$ext" "differs from tests/golden/transcript.$ext" \
                same "$W/out.$ext" "$TESTS/golden/transcript.$ext"
        fi
    else
        ko "transcript-golden-$ext" "transcript --format $fmt failed"
    fi
done

# order and completeness, per thread, text and html
for t in $(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r.get("object")=="thread": print(r["id"])' "$W/cat.jsonl"); do
    "$BIN" transcript "$A" --thread "$t" > "$W/$t.txt" &&
        check "transcript-order-text-$t" "order" python3 "$DRV" order "$W/cat.jsonl" "$t" "$W/$t.txt" text
    "$BIN" transcript "$A" --thread "$t" --format html -o "$W/$t.html" &&
        check "transcript-order-html-$t" "order" python3 "$DRV" order "$W/cat.jsonl" "$t" "$W/$t.html" html
    T1=$t
done

# colour: forced on a pipe, off by default when piped
"$BIN" transcript "$A" --thread "$T1" --color=always | grep -q "$(printf '\033')\[" &&
    ! "$BIN" transcript "$A" --thread "$T1" | grep -q "$(printf '\033')" &&
    ok transcript-color || ko transcript-color "--color=always / piped default"

# wrapping: no line over COLUMNS columns except code and ids
COLUMNS=60 "$BIN" transcript "$A" --thread "$T1" --color=never > "$W/w.txt"
check transcript-wrap "a prose line wider than 60" python3 -c '
import sys
bad=[l for l in open(sys.argv[1],encoding="utf-8") if len(l.rstrip("\n"))>60 and " " in l.strip() and not l.startswith("      ")]
sys.exit(1 if bad else 0)' "$W/w.txt"

# escaping: a message holding <script> shows as text
mkdir -p "$W/evil"
printf '%s\n' '{"id":"thread_evil","object":"thread","created_at":1700000000,"metadata":{}}' \
  '{"id":"msg_evil","object":"thread.message","created_at":1700000001,"thread_id":"thread_evil","role":"user","content":[{"type":"text","text":{"value":"<script>alert(1)</script> & \"q\"","annotations":[]}}],"attachments":[],"metadata":{}}' \
  > "$W/evil/e.jsonl"
"$BIN" convert "$W/evil" -o "$W/evil.steparc" -q
"$BIN" transcript "$W/evil.steparc" --format html -o "$W/evil.html"
check transcript-escape "raw <script> from a message in the page" python3 -c '
import sys; d=open(sys.argv[1]).read()
sys.exit(0 if d.count("<script>")==1 and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;" in d else 1)' "$W/evil.html"

# -o DIR: a page per thread and index.html
mkdir -p "$W/dir"
"$BIN" transcript "$A" --format html -o "$W/dir" &&
    [ -f "$W/dir/index.html" ] && [ -f "$W/dir/$T1.html" ] && grep -q "href=\"$T1.html\"" "$W/dir/index.html" &&
    ok transcript-dir || ko transcript-dir "-o DIR"

# errors: unknown thread, bad format
"$BIN" transcript "$A" --thread nope > /dev/null 2>&1; check transcript-nothread "exit $?" [ $? -eq 1 ]
"$BIN" transcript "$A" --format pdf > /dev/null 2>&1; check transcript-badformat "exit $?" [ $? -eq 2 ]

# the Python binding renders the same text through the library
check transcript-python "a.transcript() differs from the command" python3 -c '
import subprocess, sys
sys.path.insert(0, sys.argv[1] + "/bindings/python")
import steparc
a = steparc.Archive(sys.argv[2])
for f in ("text", "markdown", "html"):
    c = subprocess.run([sys.argv[3], "transcript", sys.argv[2], "--thread", sys.argv[4], "--format", f, "--color=never"],
                       capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}).stdout
    if a.transcript(sys.argv[4], format=f) != c:
        sys.exit(1)' "$REPO" "$A" "$BIN" "$T1"

# a real browser: the DOM after the page's script ran
CHROME=
for c in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do [ -x "$c" ] && CHROME=$c && break; done
if [ -z "$CHROME" ]; then
    skip transcript-browser "Chromium is missing (apt-get install -y chromium)"
else
    P=$W/$T1.html
    PROF=$(mktemp -d "$W/prof.XXXXXX")
    timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$PROF" \
        --dump-dom "file://$P" > "$W/dom.html" 2>/dev/null
    check transcript-browser-ready "the page's script did not finish (no data-ready=1)" \
        grep -q 'data-ready="1"' "$W/dom.html"
    check transcript-browser-order "the rendered DOM" \
        python3 "$DRV" order "$W/cat.jsonl" "$T1" "$W/dom.html" html
fi
[ "$FAILS" -eq 0 ]
