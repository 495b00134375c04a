#!/bin/sh
# make demo: convert the bundled sample dump, show the archive, fetch one
# record by position and one by step id, export them as JSON.
set -e
BIN=${1:-build/steparc}
OUT=build/demo
mkdir -p "$OUT"
echo "== steparc convert examples/steps.jsonl -o $OUT/steps.steparc"
"$BIN" convert examples/steps.jsonl -o "$OUT/steps.steparc"
echo
echo "== steparc info $OUT/steps.steparc"
"$BIN" info "$OUT/steps.steparc"
echo
echo "== steparc get $OUT/steps.steparc 7   (record at position 7)"
"$BIN" get "$OUT/steps.steparc" 7 | tee "$OUT/record7.json" | cut -c1-300
ID=$(sed -n '42p' examples/steps.jsonl | sed 's/^{"id":"\([^"]*\)".*/\1/')
echo
echo "== steparc find $OUT/steps.steparc --id $ID   (by step id, through the id index)"
"$BIN" find "$OUT/steps.steparc" --id "$ID" --pretty | tee "$OUT/by-id.json" | head -20
echo "   ..."
echo
echo "== steparc verify $OUT/steps.steparc"
"$BIN" verify "$OUT/steps.steparc"
echo
echo "== lossless: every record exported again equals the input's canonical JSON"
"$BIN" cat "$OUT/steps.steparc" > "$OUT/all.jsonl"
if command -v python3 >/dev/null 2>&1; then
    python3 tests/canon.py --jsonl examples/steps.jsonl > "$OUT/canon.jsonl"
    cmp "$OUT/all.jsonl" "$OUT/canon.jsonl" && echo "   identical ($(wc -l < "$OUT/all.jsonl") records)"
fi
echo
echo "exported: $OUT/record7.json $OUT/by-id.json $OUT/all.jsonl"
