#!/bin/sh
# The SQL extension (build/steparc_sqlite.so, docs/SQL.md) and export --sqlite.
# The table checks are tests/check_sqlite.py, through Python's sqlite3 module,
# on a generated history of every kind written through the Python binding.
# The damaged-archive checks run the extension built into a program
# (build/tests/sqlite_static, sqlite3_auto_extension), so that they also run
# under make asan, where no uninstrumented process can load the .so.
. "$(dirname "$0")/lib.sh"
workdir sqlite
need_python sqlite
BDIR=$(dirname "$BIN")
EXT=$BDIR/steparc_sqlite
STATIC=$BDIR/tests/sqlite_static
LIB=$BDIR/libsteparc.so

sanitized=0
if nm -D --undefined-only "$EXT.so" 2>/dev/null | grep -q ' __[atu]san_\| __ubsan_'; then
    sanitized=1
fi

# ---- the tables, through Python's sqlite3 module --------------------------------------
# Some Python builds leave out extension loading (pyenv's, often): use the
# system's python3 then.
PY=""
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import sqlite3; sqlite3.Connection.enable_load_extension' 2>/dev/null; then
        PY=$p
        break
    fi
done
if [ $sanitized = 1 ]; then
    skip sqlite_python_tables "(sanitizer build: python3 cannot load an ASan extension; the damaged-archive checks below still run)"
elif [ -z "$PY" ]; then
    skip sqlite_python_tables "(no python3 whose sqlite3 module can load extensions)"
elif ! STEPARC_LIB=$LIB "$PY" "$TESTS/check_sqlite.py" prep "$W/h.steparc" 11 25 2>> "$W/err"; then
    ko sqlite_prep "cannot write the history archive: $(tail -3 "$W/err")"
else
    STEPARC_LIB=$LIB "$PY" "$TESTS/check_sqlite.py" main "$EXT" "$W/h.steparc" "$BIN" "$W"
fi

# ---- damaged archives and bad paths: errors, never a crash ------------------------------
python3 "$TESTS/gen_history.py" --seed 4 --threads 30 --shape jsonl > "$W/d.jsonl" &&
    "$BIN" convert -q --block-size 4096 "$W/d.jsonl" -o "$W/d.steparc" 2>> "$W/err" ||
    { ko sqlite_damage_prep "convert failed"; exit 1; }
n=$("$STATIC" "SELECT count(*) FROM steparc_steps('$W/d.steparc')" 2>> "$W/err")
check sqlite_static_loads "the built-in extension counts $n steps" [ "${n:-0}" -gt 0 ]
t=$("$STATIC" "SELECT thread_id FROM steparc_steps('$W/d.steparc') LIMIT 1 OFFSET 7")
a=$("$STATIC" "SELECT count(*), sum(length(json)) FROM steparc_steps('$W/d.steparc') WHERE thread_id = '$t'")
b=$("$STATIC" "SELECT count(*), sum(length(json)) FROM steparc_steps('$W/d.steparc') WHERE +thread_id = '$t'")
check sqlite_static_pushdown "thread_id = gives $a, a scan $b" [ -n "$a" ] && [ "$a" = "$b" ]

# one byte changed in the middle of the file: inside a data block
cp "$W/d.steparc" "$W/bad.steparc"
size=$(wc -c < "$W/bad.steparc")
python3 - "$W/bad.steparc" $((size / 3)) <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x40]))
PY
if "$BIN" verify "$W/bad.steparc" > /dev/null 2>&1; then
    ko sqlite_damage_prep "the flipped byte did not damage a block"
else
    for q in "SELECT count(*) FROM steparc_steps('$W/bad.steparc')" \
             "SELECT sum(total_tokens) FROM steparc_records('$W/bad.steparc') r JOIN steparc_steps('$W/bad.steparc') s ON s.id = r.id" \
             "SELECT count(*) FROM steparc_tool_calls('$W/bad.steparc') WHERE created_at > 0"; do
        "$STATIC" "$q" > "$W/out" 2> "$W/msg"
        rc=$?
        if [ $rc -eq 1 ] && grep -q 'steparc: .*bad.steparc' "$W/msg"; then
            ok sqlite_damaged_block_is_an_error
        else
            ko sqlite_damaged_block_is_an_error "exit $rc: $(cat "$W/msg")"
        fi
    done
    "$BIN" export --sqlite "$W/bad.db" "$W/bad.steparc" 2> "$W/msg"
    rc=$?
    check sqlite_export_damaged_fails "exit $rc, $(cat "$W/msg")" \
        [ $rc -eq 1 ] && [ ! -e "$W/bad.db" ] && ! ls "$W" | grep -q '\.tmp\.'
    if [ $sanitized = 0 ] && command -v sqlite3 >/dev/null 2>&1; then
        sqlite3 :memory: ".load $EXT" "SELECT count(*) FROM steparc_messages('$W/bad.steparc')" \
            > /dev/null 2> "$W/msg"
        rc=$?
        check sqlite_shell_damaged_block "sqlite3 exit $rc: $(cat "$W/msg")" \
            [ $rc -eq 1 ] && grep -q 'steparc: ' "$W/msg"
    fi
fi
"$STATIC" "SELECT * FROM steparc_runs('$W/nosuch.steparc')" > /dev/null 2> "$W/msg"
rc=$?
check sqlite_bad_path "exit $rc: $(cat "$W/msg")" [ $rc -eq 1 ] && grep -q 'cannot open' "$W/msg"
printf 'not an archive at all' > "$W/junk.steparc"
"$STATIC" "SELECT * FROM steparc_runs('$W/junk.steparc')" > /dev/null 2> "$W/msg"
rc=$?
check sqlite_not_an_archive "exit $rc: $(cat "$W/msg")" [ $rc -eq 1 ] && grep -q 'cannot open' "$W/msg"
"$STATIC" "SELECT * FROM steparc_steps" > /dev/null 2> "$W/msg"
check sqlite_missing_path "$(cat "$W/msg")" grep -q "path is missing" "$W/msg"

# .load works from another directory, by path without a name (the entry point
# SQLite derives from the file name)
if [ $sanitized = 0 ] && command -v sqlite3 >/dev/null 2>&1; then
    n2=$(cd / && sqlite3 :memory: ".load $EXT" "SELECT count(*) FROM steparc_steps('$W/d.steparc')")
    check sqlite_shell_load "sqlite3 .load gives '$n2', expected $n" [ "$n2" = "$n" ]
fi
exit 0
