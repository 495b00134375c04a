#!/bin/sh
# Crafted archives: the footer, section table or block index rewritten by
# tests/craft.py with every CRC recomputed, so that only one structural rule
# (docs/FORMAT.md 8.1, 9, 10) is broken: block index entries that overlap,
# are out of order or run past the section table, an entry of no records,
# sections outside their range, a footer whose section, block or record count
# is off. One archive parser (format/archive.c) serves every entry point, so
# for each:
#   - info, cat, get, find and verify exit 1 with the parser's message;
#   - append exits 1 with the same message and leaves the file byte for byte
#     as it was;
#   - merge exits 1 and writes no output;
#   - recover does not crash: it exits 0 or 3 with an output that verifies,
#     or 1 without one.
# Protocol: one "PASS name", "FAIL name" (reason on stderr) or "SKIP name why"
# line per check. Environment: STEPARC_BIN STEPARC_TMP STEPARC_TESTS.

BIN=${STEPARC_BIN:?STEPARC_BIN is not set}
TESTS=${STEPARC_TESTS:?STEPARC_TESTS is not set}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
W=${STEPARC_TMP:?STEPARC_TMP is not set}/crafted
rm -rf "$W" && mkdir -p "$W" || exit 1

pass() { echo "PASS $1"; }
fail() { n=$1; shift; echo "FAIL $n"; echo "$n: $*" >&2; }

if ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP crafted python3 not found"
    exit 0
fi

if ! python3 "$TESTS/gen_steps.py" --seed 7 --count 200 > "$W/in.jsonl" 2> "$W/err" ||
    ! python3 "$TESTS/gen_steps.py" --seed 8 --count 20 > "$W/more.jsonl" 2>> "$W/err" ||
    ! "$BIN" convert -q --block-size 4096 "$W/in.jsonl" -o "$W/a.steparc" 2>> "$W/err"; then
    fail crafted_setup "could not make the archive: $(head -c 300 "$W/err")"
    exit 0
fi
RUN=$(head -n 1 "$W/in.jsonl" | sed 's/.*"run_id":"\([^"]*\)".*/\1/')

# the message after "steparc: CMD: PATH: "
message() { sed -n '1s/^steparc: [a-z]*: [^:]*: //p' "$1"; }

for m in overlap unordered past_table zero_records section_range section_header table_short \
         block_count record_count; do
    C="$W/$m.steparc"
    if ! python3 "$TESTS/craft.py" "$W/a.steparc" "$C" "$m" 2> "$W/err"; then
        fail "crafted_${m}_setup" "$(head -c 300 "$W/err")"
        continue
    fi
    "$BIN" info "$C" > /dev/null 2> "$W/info.err"
    rc=$?
    want=$(message "$W/info.err")
    if [ $rc -eq 1 ] && [ -n "$want" ]; then pass "crafted_${m}_info"
    else fail "crafted_${m}_info" "exit $rc: $(head -c 300 "$W/info.err")"; fi
    for c in cat get find verify; do
        case $c in
            get) set -- get "$C" 0 ;;
            find) set -- find "$C" --run "$RUN" ;;
            *) set -- "$c" "$C" ;;
        esac
        "$BIN" "$@" > "$W/out" 2> "$W/c.err"
        rc=$?
        got=$(message "$W/c.err")
        if [ $rc -eq 1 ] && [ "$got" = "$want" ] && [ ! -s "$W/out" ]; then pass "crafted_${m}_$c"
        else fail "crafted_${m}_$c" "exit $rc, message '$got', expected '$want'"; fi
    done
    cp "$C" "$W/app.steparc"
    "$BIN" append -q "$W/app.steparc" "$W/more.jsonl" > /dev/null 2> "$W/c.err"
    rc=$?
    got=$(message "$W/c.err")
    if [ $rc -eq 1 ] && [ "$got" = "$want" ] && cmp -s "$C" "$W/app.steparc"; then
        pass "crafted_${m}_append"
    else
        fail "crafted_${m}_append" "exit $rc, message '$got', expected '$want'; file unchanged: $(cmp -s "$C" "$W/app.steparc" && echo yes || echo no)"
    fi
    rm -f "$W/merged.steparc"
    "$BIN" merge -q "$W/a.steparc" "$C" -o "$W/merged.steparc" > /dev/null 2> "$W/c.err"
    rc=$?
    if [ $rc -eq 1 ] && [ ! -e "$W/merged.steparc" ] && grep -qF -- "$want" "$W/c.err"; then
        pass "crafted_${m}_merge"
    else fail "crafted_${m}_merge" "exit $rc: $(head -c 300 "$W/c.err")"; fi
    rm -f "$W/rec.steparc"
    "$BIN" recover -q "$C" -o "$W/rec.steparc" > /dev/null 2> "$W/c.err"
    rc=$?
    case $rc in
        0|3) if "$BIN" verify "$W/rec.steparc" > /dev/null 2>&1; then pass "crafted_${m}_recover"
             else fail "crafted_${m}_recover" "exit $rc but the output does not verify"; fi ;;
        1) if [ ! -e "$W/rec.steparc" ] && [ -s "$W/c.err" ]; then pass "crafted_${m}_recover"
           else fail "crafted_${m}_recover" "exit 1 with an output or without a message"; fi ;;
        *) fail "crafted_${m}_recover" "exit $rc: $(head -c 300 "$W/c.err")" ;;
    esac
done
