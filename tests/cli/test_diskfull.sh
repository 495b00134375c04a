#!/bin/sh
# Write errors: a file size limit (ulimit -f) makes every write past it fail,
# as a full disk does. convert, merge and recover report it and leave no
# output and no temporary file; a failed append leaves the archive as it was.
BIN=$STEPARC_BIN
D=$STEPARC_TMP/diskfull
mkdir -p "$D"
ok() { echo "PASS $1"; }
ko() { echo "FAIL $1"; echo "  $1: $2" >&2; }
if ! command -v python3 >/dev/null 2>&1; then echo "SKIP diskfull python3 missing"; exit 0; fi
python3 "$STEPARC_TESTS/gen_steps.py" --seed 51 --count 3000 > "$D/in.jsonl"
head -n 100 "$D/in.jsonl" > "$D/small.jsonl"
"$BIN" convert -q "$D/small.jsonl" -o "$D/base.steparc"
cp "$D/base.steparc" "$D/a.steparc"
# 512-byte blocks: 400 = 200 KiB, more than the small archive, less than the big one
for what in convert append merge; do
    rm -f "$D/out.steparc"
    case $what in
    convert) (ulimit -f 400; "$BIN" convert -q "$D/in.jsonl" -o "$D/out.steparc") 2> "$D/err"; rc=$? ;;
    append) (ulimit -f 400; "$BIN" append -q "$D/a.steparc" "$D/in.jsonl") 2> "$D/err"; rc=$? ;;
    merge) "$BIN" convert -q --keep-duplicates "$D/in.jsonl" -o "$D/big.steparc" &&
           (ulimit -f 400; "$BIN" merge -q "$D/big.steparc" -o "$D/out.steparc") 2> "$D/err"; rc=$? ;;
    esac
    left=$(ls "$D" | grep -c 'tmp-\|steparc-sort')
    if [ $rc -eq 1 ] && grep -q "File too large" "$D/err" && [ ! -e "$D/out.steparc" ] && [ "$left" = 0 ]; then
        ok "diskfull_${what}_clean_error"
    else
        ko "diskfull_${what}_clean_error" "exit $rc, output exists: $([ -e "$D/out.steparc" ] && echo yes || echo no), temporaries $left: $(head -c 300 "$D/err")"
    fi
done
if cmp -s "$D/a.steparc" "$D/base.steparc" && "$BIN" verify "$D/a.steparc" > /dev/null; then
    ok diskfull_append_leaves_archive_intact
else
    ko diskfull_append_leaves_archive_intact "the archive changed"
fi
