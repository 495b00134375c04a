#!/bin/sh
# Doubles: for random bit patterns, random short decimals, powers of two and
# ten, halfway cases and extremes, steparc's text equals Python's repr (the
# shortest digits that read back, the closest of them), byte for byte.
. "$(dirname "$0")/lib.sh"
workdir floats
need_python floats
SEED=${STEPARC_SEED:-7}
python3 "$CHECKS" floats-gen "$SEED" > "$W/f.jsonl"
"$BIN" convert -q --keep-duplicates "$W/f.jsonl" -o "$W/f.steparc" || { ko floats_convert "convert failed"; exit 0; }
"$BIN" cat "$W/f.steparc" > "$W/out"
python3 "$CANON" --jsonl "$W/f.jsonl" > "$W/exp"
if cmp -s "$W/out" "$W/exp"; then ok "floats_repr_equal_python_$(wc -l < "$W/exp")_lines"
else
    ko floats_repr_equal_python "cat differs from canon.py; first differences:"
    python3 "$CHECKS" floats-diff "$W/out" "$W/exp" >&2
fi
"$BIN" cat --via-struct "$W/f.steparc" | cmp -s - "$W/exp" && ok floats_via_struct ||
    ko floats_via_struct "cat --via-struct differs from canon.py"
