#!/bin/sh
# Runs the Python binding's unittest suite (tests/python/test_binding.py) with
# the library built next to STEPARC_BIN, and turns `unittest -v` lines into the
# runner's "PASS name" / "FAIL name" / "SKIP name" lines (see tests/run.sh).
. "$(dirname "$0")/lib.sh"
LIB=$(dirname "$BIN")/libsteparc.so

need_python python-binding
if [ ! -f "$LIB" ]; then
    ko python-binding "$LIB is missing"
    exit 1
fi
# A sanitizer build's library cannot be loaded into an uninstrumented python3.
if nm -D --undefined-only "$LIB" 2>/dev/null | grep -q ' __[atu]san_\| __ubsan_'; then
    skip python-binding "(sanitizer build)"
    exit 0
fi

tempdir python
(cd "$TESTS/python" &&
    PYTHONDONTWRITEBYTECODE=1 STEPARC_LIB=$LIB STEPARC_BIN=$BIN STEPARC_TMP=$W \
        python3 -m unittest -v test_binding) \
    > "$W/out" 2>&1
rc=$?

# unittest -v: "test_x (test_binding.Class.test_x) ... ok|FAIL|ERROR|skipped 'why'"
# (Python < 3.11 prints "(test_binding.Class)"); the class name is kept.
awk '
/^test[A-Za-z0-9_]* \([A-Za-z0-9_.]*\) \.\.\. / {
    name = $1; cls = $2; gsub(/[()]/, "", cls)
    n = split(cls, parts, "."); c = (parts[n] == name) ? parts[n - 1] : parts[n]
    id = "python." c "." name
    res = $0; sub(/^.* \.\.\. /, "", res)
    if (res == "ok" || res == "expected failure") print "PASS " id
    else if (res ~ /^skipped/) { sub(/^skipped */, "", res); print "SKIP " id " " res }
    else print "FAIL " id " (" res ")"
    seen++
}
/^Ran [0-9]+ test/ { ran = $2 }
END {
    if (ran == "" || seen != ran) print "FAIL python-binding (parsed " seen + 0 " of " ran + 0 " results)"
}' "$W/out" > "$W/lines"
cat "$W/lines"
if grep -q '^FAIL' "$W/lines" || [ $rc -ne 0 ]; then
    # the details (tracebacks) go to standard error, for the log
    sed -n '/^=====/,$p' "$W/out" >&2
    [ $rc -ne 0 ] && ! grep -q '^FAIL' "$W/lines" && echo "FAIL python-binding (unittest exit status $rc)"
    exit 1
fi
exit 0
