#!/bin/sh
# Write errors: a file size limit (ulimit -f) makes every write past it fail,
# as a full disk does. convert, merge and recover report it and leave no
# output and no temporary file; a failed append leaves the archive as it was.
. "$(dirname "$0")/lib.sh"
workdir diskfull
need_python diskfull
python3 "$GEN" --seed 51 --count 3000 > "$W/in.jsonl"
head -n 100 "$W/in.jsonl" > "$W/small.jsonl"
"$BIN" convert -q "$W/small.jsonl" -o "$W/base.steparc"
cp "$W/base.steparc" "$W/a.steparc"
# 512-byte blocks: 400 = 200 KiB, more than the small archive, less than the big one
for what in convert append merge; do
    rm -f "$W/out.steparc"
    case $what in
    convert) (ulimit -f 400; "$BIN" convert -q "$W/in.jsonl" -o "$W/out.steparc") 2> "$W/err"; rc=$? ;;
    append) (ulimit -f 400; "$BIN" append -q "$W/a.steparc" "$W/in.jsonl") 2> "$W/err"; rc=$? ;;
    merge) "$BIN" convert -q --keep-duplicates "$W/in.jsonl" -o "$W/big.steparc" &&
           (ulimit -f 400; "$BIN" merge -q "$W/big.steparc" -o "$W/out.steparc") 2> "$W/err"; rc=$? ;;
    esac
    left=$(ls "$W" | grep -c 'tmp-\|steparc-sort')
    if [ $rc -eq 1 ] && grep -q "File too large" "$W/err" && [ ! -e "$W/out.steparc" ] && [ "$left" = 0 ]; then
        ok "diskfull_${what}_clean_error"
    else
        ko "diskfull_${what}_clean_error" "exit $rc, output exists: $([ -e "$W/out.steparc" ] && echo yes || echo no), temporaries $left: $(head -c 300 "$W/err")"
    fi
done
if cmp -s "$W/a.steparc" "$W/base.steparc" && "$BIN" verify "$W/a.steparc" > /dev/null; then
    ok diskfull_append_leaves_archive_intact
else
    ko diskfull_append_leaves_archive_intact "the archive changed"
fi
