#!/bin/sh
# Doubles: for random bit patterns, random short decimals, powers of two and
# ten, halfway cases and extremes, steparc's text equals Python's repr (the
# shortest digits that read back, the closest of them), byte for byte.
BIN=$STEPARC_BIN
D=$STEPARC_TMP/floats
mkdir -p "$D"
if ! command -v python3 >/dev/null 2>&1; then echo "SKIP floats python3 missing"; exit 0; fi
SEED=${STEPARC_SEED:-7}
python3 - "$SEED" > "$D/f.jsonl" <<'PY'
import json, random, struct, sys
r = random.Random(int(sys.argv[1]))
def from_bits(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]
vals = []
for _ in range(60000):                      # any finite bit pattern
    while True:
        v = from_bits(r.getrandbits(64))
        if v == v and v not in (float("inf"), float("-inf")):
            break
    vals.append(v)
for _ in range(30000):                      # scores, as file_search sends them
    vals.append(r.random())
for _ in range(20000):                      # short decimals: 0.1, 123.45, 1e-05 ...
    vals.append(float("%de%d" % (r.randint(1, 99999), r.randint(-30, 30))))
for e in range(-1074, 1024):                # powers of two, their neighbours
    p = 2.0 ** e
    vals.extend([p, from_bits(struct.unpack("<Q", struct.pack("<d", p))[0] + 1)])
    if e > -1074:
        vals.append(from_bits(struct.unpack("<Q", struct.pack("<d", p))[0] - 1))
for e in range(-323, 309):
    vals.append(float("1e%d" % e))
vals += [0.0, -0.0, 5e-324, 2.2250738585072014e-308, 2.2250738585072009e-308,
         1.7976931348623157e308, 9007199254740993.0, 0.30000000000000004, 1e16, 1e15, 1e-4, 1e-5]
for i in range(0, len(vals), 50):
    print(json.dumps({"id": "f%d" % i, "object": "thread.run.step", "v": vals[i:i + 50]}))
PY
"$BIN" convert -q --keep-duplicates "$D/f.jsonl" -o "$D/f.steparc" || { echo "FAIL floats_convert"; exit 0; }
"$BIN" cat "$D/f.steparc" > "$D/out"
python3 "$STEPARC_TESTS/canon.py" --jsonl "$D/f.jsonl" > "$D/exp"
if cmp -s "$D/out" "$D/exp"; then echo "PASS floats_repr_equal_python_$(wc -l < "$D/exp")_lines"
else
    echo "FAIL floats_repr_equal_python"
    python3 - "$D/out" "$D/exp" >&2 <<'PY'
import json, sys
a = open(sys.argv[1]).read().split("\n"); b = open(sys.argv[2]).read().split("\n")
shown = 0
for x, y in zip(a, b):
    if x != y and x and y:
        for p, q in zip(json.loads(x, parse_float=str)["v"], json.loads(y, parse_float=str)["v"]):
            if p != q and shown < 10:
                print("  steparc %s, python %s" % (p, q)); shown += 1
PY
fi
"$BIN" cat --via-struct "$D/f.steparc" | cmp -s - "$D/exp" && echo "PASS floats_via_struct" || echo "FAIL floats_via_struct"
