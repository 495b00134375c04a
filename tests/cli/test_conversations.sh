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
