#!/bin/sh
# Damaged archives: a small archive of many blocks, one byte changed at many
# offsets (every byte of the first 2 KB and of the last 256 bytes, every Nth in
# between) and truncated at many lengths. verify must exit 1 for every change;
# cat must either print exactly the original records (exit 0) or exit 1, never
# print a changed record with exit 0; nothing may crash (exit >= 128, signal)
# or hang.
# Protocol: one "PASS name", "FAIL name" (reason on stderr) or "SKIP name why"
# line per check. Environment: STEPARC_BIN STEPARC_TMP STEPARC_TESTS.

. "$(dirname "$0")/lib.sh"
workdir damage
need_python damage

# A few hundred records (about 10% with edge cases), small blocks.
if ! python3 "$GEN" --seed 42 --count 200 > "$W/in.jsonl" 2> "$W/err" ||
    ! "$BIN" convert -q --block-size 4096 -j 2 "$W/in.jsonl" -o "$W/a.steparc" 2>> "$W/err"; then
    ko damage_setup "could not make the archive: $(head -c 300 "$W/err")"
    exit 0
fi
"$BIN" cat "$W/a.steparc" > "$W/ref.out" 2> "$W/err"
rc=$?
if [ $rc -ne 0 ] || ! python3 "$CANON" --jsonl "$W/in.jsonl" | cmp -s - "$W/ref.out"; then
    ko damage_setup "cat of the intact archive failed or differs (exit $rc)"
    exit 0
fi
"$BIN" verify "$W/a.steparc" > "$W/err" 2>&1
rc=$?
if [ $rc -eq 0 ]; then ok damage_intact_verify
else ko damage_intact_verify "verify of the intact archive exited $rc: $(head -c 300 "$W/err")"; fi

# The driver prints the PASS/FAIL lines itself.
python3 "$CHECKS" damage "$BIN" "$W"
rc=$?
[ $rc -eq 0 ] || ko damage_driver "the python driver exited $rc"

# the archive that was damaged in copies is itself still intact
"$BIN" verify "$W/a.steparc" > /dev/null 2>&1 && ok damage_original_untouched ||
    ko damage_original_untouched "verify of the original archive failed after the run"
exit 0
