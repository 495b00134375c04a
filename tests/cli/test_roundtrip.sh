#!/bin/sh
# Property tests: generated run steps in every input shape -> archive -> JSON,
# compared byte for byte with the reference canonicalizer (tests/canon.py).
# Also: deterministic output (-j 1 / -j 2 / repeated runs), verify, info --json,
# get, find (--id/--run/--thread/--assistant/--since/--until), .zst input,
# directory input and standard input.
# Protocol: one "PASS name", "FAIL name" (reason on stderr) or "SKIP name why"
# line per check. Environment: STEPARC_BIN STEPARC_TMP STEPARC_TESTS.

BIN=${STEPARC_BIN:?STEPARC_BIN is not set}
TESTS=${STEPARC_TESTS:?STEPARC_TESTS is not set}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
W=${STEPARC_TMP:?STEPARC_TMP is not set}/roundtrip
rm -rf "$W" && mkdir -p "$W" || exit 1

SEEDS=${ROUNDTRIP_SEEDS:-"1 2 3"}
PLAIN_COUNT=3000
NASTY_COUNT=1000
SHAPES="jsonl array list pretty sse"

pass() { echo "PASS $1"; }
fail() { n=$1; shift; echo "FAIL $n"; echo "$n: $*" >&2; }
skip() { n=$1; shift; echo "SKIP $n $*"; }
# check NAME REASON CMD...: PASS when CMD succeeds
check() { n=$1; r=$2; shift 2; if "$@"; then pass "$n"; else fail "$n" "$r"; fi; }
same() { cmp -s "$1" "$2"; }

if ! command -v python3 >/dev/null 2>&1; then
    skip roundtrip "python3 not found"
    exit 0
fi
GEN="$TESTS/gen_steps.py"

# ---------------------------------------------------------------------------
# helper.py prep SHAPE FILE TESTS_DIR: drops the records holding integers
#   outside [-2^63, 2^64-1] (steparc rejects them by design; gen_steps.py
#   --nasty emits -(2^64-1)), keeping every other byte as generated; writes how
#   many values (records, list pages or SSE data lines) were dropped to
#   FILE.drop; then runs canon.py --records FILE (its main(), in-process) > FILE.exp.
# helper.py queries CANON DIR: writes DIR/qN.args (one argument per line) and
#   DIR/qN.exp (the expected find output) and DIR/get.args / DIR/get.exp.
cat > "$W/helper.py" <<'EOF'
import json, os, re, sys

LO, HI = -2 ** 63, 2 ** 64 - 1
WS = re.compile(r"[ \t\n\r]*")


class Bad(Exception):
    pass


def pint(s):
    v = int(s)
    if v < LO or v > HI:
        raise Bad()
    return v


CHECK = json.JSONDecoder(parse_int=pint)
PLAIN = json.JSONDecoder()


def fits(text):
    try:
        CHECK.decode(text)
        return True
    except Bad:
        return False


def filt(shape, path):
    """Returns how many values were dropped; rewrites path only if any."""
    text = open(path, "rb").read().decode("utf-8")
    dropped = 0
    out = []
    if shape == "sse":
        for line in text.split("\n"):
            if line.startswith("data:"):
                p = line[5:].strip()
                if p and p != "[DONE]" and not fits(p):
                    dropped += 1
                    continue
            out.append(line)
        res = "\n".join(out)
    else:
        i, n = 0, len(text)
        while True:
            i = WS.match(text, i).end()
            if i >= n:
                break
            if text[i] == "[":
                j = i + 1
                good = []
                while True:
                    j = WS.match(text, j).end()
                    if text[j] == "]":
                        j += 1
                        break
                    _, k = PLAIN.raw_decode(text, j)
                    if fits(text[j:k]):
                        good.append(text[j:k])
                    else:
                        dropped += 1
                    j = WS.match(text, k).end()
                    if text[j] == ",":
                        j += 1
                out.append("[" + ",\n".join(good) + "]")
                i = j
            else:
                _, k = PLAIN.raw_decode(text, i)
                if fits(text[i:k]):
                    out.append(text[i:k])
                else:
                    dropped += 1
                i = k
        res = "\n".join(out) + "\n"
    if dropped:
        open(path, "wb").write(res.encode("utf-8"))
    return dropped


def prep(shape, path, tests):
    """filter, then the expected output: canon.py --records path > path.exp"""
    dropped = filt(shape, path)
    with open(path + ".drop", "w") as f:
        f.write("%d\n" % dropped)
    sys.path.insert(0, tests)
    import canon
    out = open(path + ".exp", "w", encoding="utf-8")
    sys.stdout = out
    rc = canon.main(["--records", path])
    out.close()
    sys.exit(rc)


def usable(s):
    return isinstance(s, str) and s != "" and "\n" not in s and "\0" not in s \
        and "\r" not in s and not s.startswith("-")


def queries(canon, d):
    lines = open(canon, "rb").read().split(b"\n")[:-1]
    recs = [json.loads(l) for l in lines]
    n = len(recs)
    q = [0]

    def emit(args, pred):
        q[0] += 1
        with open(os.path.join(d, "q%d.args" % q[0]), "w", encoding="utf-8") as f:
            f.write("".join(a + "\n" for a in args))
        with open(os.path.join(d, "q%d.exp" % q[0]), "wb") as f:
            f.write(b"".join(lines[i] + b"\n" for i in range(n) if pred(recs[i])))

    pos = [0, n // 2, n - 1]
    with open(os.path.join(d, "get.args"), "w") as f:
        f.write("".join("%d\n" % p for p in pos))
    with open(os.path.join(d, "get.exp"), "wb") as f:
        f.write(b"".join(lines[p] + b"\n" for p in pos))

    def pick(key, k):
        cnt = {}
        for r in recs:
            v = r.get(key)
            if usable(v):
                cnt[v] = cnt.get(v, 0) + 1
        cands = [v for v in cnt]
        if key == "id":
            cands = [v for v in cands if cnt[v] == 1]
        else:   # prefer values shared by several records
            cands.sort(key=lambda v: -cnt[v])
            cands = cands[:1] + cands[len(cands) // 2:len(cands) // 2 + 1] + cands[-1:]
        out = []
        if cands:
            out += [cands[0], cands[len(cands) // 2], cands[-1]]
            odd = [v for v in cands if not v.isascii() or not v.isalnum() and "_" not in v]
            if odd:
                out.append(odd[0])
        seen = []
        for v in out:
            if v not in seen:
                seen.append(v)
        return seen[:k]

    for key, opt, k in (("id", "--id", 4), ("run_id", "--run", 3),
                        ("thread_id", "--thread", 3), ("assistant_id", "--assistant", 2)):
        for v in pick(key, k):
            emit([opt, v], lambda r, key=key, v=v: r.get(key) == v)

    def ts(r):
        t = r.get("created_at")
        return t if isinstance(t, int) and not isinstance(t, bool) else None

    vals = sorted(t for t in (ts(r) for r in recs) if t is not None and t >= 0)
    if vals:
        s, u = vals[len(vals) // 3], vals[2 * len(vals) // 3]
        emit(["--since", str(s), "--until", str(u)], lambda r: ts(r) is not None and s <= ts(r) <= u)
        emit(["--since", str(s)], lambda r: ts(r) is not None and s <= ts(r))
        emit(["--until", str(u)], lambda r: ts(r) is not None and ts(r) <= u)
        emit(["--since", str(u), "--until", str(u)], lambda r: ts(r) == u)
        r0 = recs[n // 2]
        if usable(r0.get("run_id")) and ts(r0) is not None and ts(r0) >= 0:
            emit(["--run", r0["run_id"], "--since", str(ts(r0))],
                 lambda r: r.get("run_id") == r0["run_id"] and ts(r) is not None and ts(r) >= ts(r0))
    print(q[0])


if sys.argv[1] == "prep":
    prep(sys.argv[2], sys.argv[3], sys.argv[4])
else:
    queries(sys.argv[2], sys.argv[3])
EOF
H="$W/helper.py"

# gen SEED MODE SHAPE: writes $W/s$SEED/$MODE.$SHAPE (+ .exp, .drop, .rc)
gen() {
    d="$W/s$1"; f="$d/$2.$3"
    if [ "$2" = nasty ]; then set -- "$1" --nasty --count "$NASTY_COUNT" "$3"
    else set -- "$1" "" --count "$PLAIN_COUNT" "$3"; fi
    extra=""; [ "$5" = sse ] && extra=--sse-final-only
    {
        python3 "$GEN" --seed "$1" $2 $3 $4 --shape "$5" $extra > "$f" &&
        python3 "$H" prep "$5" "$f" "$TESTS"
    } 2> "$f.err"
    echo $? > "$f.rc"
}

# Generate everything in the background, two seeds' worth at a time.
for s in $SEEDS; do
    mkdir -p "$W/s$s"
    for m in plain nasty; do
        for sh in $SHAPES; do gen "$s" "$m" "$sh" & done
    done
    wait
done

for s in $SEEDS; do
    d="$W/s$s"
    for m in plain nasty; do
        for sh in $SHAPES; do
            f="$d/$m.$sh"; n="roundtrip_seed${s}_${m}_$sh"
            if [ "$(cat "$f.rc")" != 0 ]; then
                fail "$n" "seed $s: generating/canonicalizing failed: $(head -c 300 "$f.err")"
                continue
            fi
            drop=$(cat "$f.drop")
            if [ "$drop" != 0 ]; then
                echo "note: seed $s $m $sh: dropped $drop value(s) with integers beyond 64 bits (gen_steps.py)" >&2
            fi
            if ! "$BIN" convert -q --keep-duplicates --no-rebuild "$f" -o "$f.steparc" 2> "$f.cerr"; then
                fail "${n}_convert" "seed $s: convert failed: $(head -c 300 "$f.cerr")"
                continue
            fi
            "$BIN" cat "$f.steparc" > "$f.cat" 2> "$f.cerr"
            check "${n}_cat" "seed $s: 'cat $f.steparc' differs from canon.py --records $f" \
                same "$f.cat" "$f.exp"
            "$BIN" cat --via-struct "$f.steparc" > "$f.vcat" 2> "$f.cerr"
            check "${n}_cat_via_struct" "seed $s: 'cat --via-struct $f.steparc' differs from canon.py" \
                same "$f.vcat" "$f.exp"
        done
        # every shape carries the same records: jsonl archive == other shapes' archives' output
        f="$d/$m.jsonl"; A="$f.steparc"; n="seed${s}_$m"
        [ -f "$A" ] || continue

        # determinism: -j 1, -j 2, repeated, and many small blocks
        ok=1
        for j in 1 2 1 2; do
            "$BIN" convert -q --keep-duplicates --no-rebuild -j $j "$f" -o "$W/det.steparc" 2>/dev/null && same "$W/det.steparc" "$A" || ok=0
        done
        check "deterministic_${n}" "seed $s: archives from $f differ between -j 1/-j 2/runs" [ $ok = 1 ]
        ok=1
        "$BIN" convert -q --keep-duplicates --no-rebuild -j 1 --block-size 65536 "$f" -o "$W/det1.steparc" 2>/dev/null || ok=0
        for r in 1 2; do
            "$BIN" convert -q --keep-duplicates --no-rebuild -j 2 --block-size 65536 "$f" -o "$W/det2.steparc" 2>/dev/null &&
                same "$W/det1.steparc" "$W/det2.steparc" || ok=0
        done
        "$BIN" cat "$W/det1.steparc" 2>/dev/null | cmp -s - "$f.exp" || ok=0
        check "deterministic_small_blocks_${n}" "seed $s: --block-size 65536 archives differ between -j 1/-j 2 or from canon" [ $ok = 1 ]

        "$BIN" verify "$A" > "$W/verify.out" 2>&1
        rc=$?
        check "verify_${n}" "seed $s: verify $A exited $rc ($(head -c 200 "$W/verify.out"))" [ $rc -eq 0 ]

        lines=$(wc -l < "$f.exp" | tr -d ' ')
        recs=$("$BIN" info --json "$A" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])' 2>/dev/null)
        check "info_json_records_${n}" "seed $s: info --json records=$recs, canonical lines=$lines" [ "$recs" = "$lines" ]

        q="$d/q.$m"; mkdir -p "$q"
        if ! nq=$(python3 "$H" queries "$f.exp" "$q" 2> "$W/q.err"); then
            fail "queries_${n}" "seed $s: computing expected query results failed: $(head -c 300 "$W/q.err")"
            continue
        fi
        # shellcheck disable=SC2046
        "$BIN" get "$A" $(cat "$q/get.args") > "$q/get.out" 2> "$W/get.err"
        rc=$?
        check "get_${n}" "seed $s: get $(tr '\n' ' ' < "$q/get.args")exit $rc, output differs from canonical lines" \
            eval '[ $rc -eq 0 ] && same "$q/get.out" "$q/get.exp"'
        "$BIN" get --via-struct "$A" $(cat "$q/get.args") > "$q/getv.out" 2>/dev/null
        check "get_via_struct_${n}" "seed $s: get --via-struct differs" same "$q/getv.out" "$q/get.exp"
        i=1
        while [ $i -le "$nq" ]; do
            set --
            while IFS= read -r a; do set -- "$@" "$a"; done < "$q/q$i.args"
            "$BIN" find "$A" "$@" > "$q/q$i.out" 2> "$q/q$i.err"
            rc=$?
            kind=$(echo "$1" | tr -d -); [ $# -gt 2 ] && kind="${kind}_combined"
            if [ $rc -eq 0 ] && same "$q/q$i.out" "$q/q$i.exp"; then
                pass "find_${kind}_${n}_q$i"
            else
                fail "find_${kind}_${n}_q$i" "seed $s: find $* exited $rc; got $(wc -l < "$q/q$i.out") lines, expected $(wc -l < "$q/q$i.exp") ($(head -c 200 "$q/q$i.err"))"
            fi
            i=$((i + 1))
        done
    done
done

# ---------------------------------------------------------------------------
# .zst input, directory input (recursive, mixed extensions), standard input
s=$(echo $SEEDS | cut -d' ' -f1); d="$W/s$s"

if command -v zstd >/dev/null 2>&1; then
    for m in plain nasty; do
        f="$d/$m.jsonl"
        if zstd -q -c "$f" > "$W/$m.jsonl.zst" && zstd -q -c "$d/$m.array" > "$W/$m.json.zst"; then
            ok=1
            "$BIN" convert -q --keep-duplicates --no-rebuild "$W/$m.jsonl.zst" -o "$W/zst.steparc" 2> "$W/zst.err" &&
                "$BIN" cat "$W/zst.steparc" | cmp -s - "$f.exp" || ok=0
            "$BIN" convert -q --keep-duplicates --no-rebuild "$W/$m.json.zst" -o "$W/zst2.steparc" 2>> "$W/zst.err" &&
                "$BIN" cat "$W/zst2.steparc" | cmp -s - "$d/$m.array.exp" || ok=0
            check "zst_input_$m" "seed $s: .zst input: $(head -c 300 "$W/zst.err")" [ $ok = 1 ]
        else
            fail "zst_input_$m" "zstd could not compress the input"
        fi
    done
else
    skip zst_input "zstd command not found"
fi

# directory: files are read in name order, depth first (a < b/ < e < f < g)
D="$W/dir"; mkdir -p "$D/b/deeper"
cp "$d/plain.jsonl" "$D/a.jsonl"
cp "$d/nasty.array" "$D/b/c.json"
cp "$d/plain.sse" "$D/b/d.sse"
cp "$d/nasty.list" "$D/b/deeper/x.ndjson"
cp "$d/plain.list" "$D/e.ndjson"
cp "$d/nasty.pretty" "$D/f.txt"
echo 'not json at all {' > "$D/h.md"
printf '\001\002binary' > "$D/b/z.bin"
exp_files="$d/plain.jsonl.exp $d/nasty.array.exp $d/plain.sse.exp $d/nasty.list.exp $d/plain.list.exp $d/nasty.pretty.exp"
if command -v zstd >/dev/null 2>&1; then
    zstd -q -c "$d/nasty.jsonl" > "$D/g.jsonl.zst"
    exp_files="$exp_files $d/nasty.jsonl.exp"
fi
# shellcheck disable=SC2086
cat $exp_files > "$W/dir.exp"
if "$BIN" convert -q --keep-duplicates --no-rebuild "$D" -o "$W/dir.steparc" 2> "$W/dir.err"; then
    "$BIN" cat "$W/dir.steparc" > "$W/dir.out" 2>> "$W/dir.err"
    check directory_input "seed $s: directory archive differs from the files' canonical records in name order" \
        same "$W/dir.out" "$W/dir.exp"
    "$BIN" cat --via-struct "$W/dir.steparc" > "$W/dir.vout" 2>> "$W/dir.err"
    check directory_input_via_struct "seed $s: directory archive (via struct) differs" same "$W/dir.vout" "$W/dir.exp"
else
    fail directory_input "convert $D failed: $(head -c 300 "$W/dir.err")"
fi

for sh in jsonl pretty sse; do
    f="$d/nasty.$sh"
    if "$BIN" convert -q --keep-duplicates --no-rebuild - -o "$W/stdin.steparc" < "$f" 2> "$W/stdin.err"; then
        "$BIN" cat "$W/stdin.steparc" > "$W/stdin.out" 2>/dev/null
        check "stdin_input_$sh" "seed $s: convert - < $f differs from canon.py" same "$W/stdin.out" "$f.exp"
    else
        fail "stdin_input_$sh" "convert - < $f failed: $(head -c 300 "$W/stdin.err")"
    fi
done

# two inputs in one archive keep input order
if "$BIN" convert -q --keep-duplicates --no-rebuild "$d/nasty.sse" "$d/plain.pretty" -o "$W/two.steparc" 2> "$W/two.err"; then
    cat "$d/nasty.sse.exp" "$d/plain.pretty.exp" > "$W/two.exp"
    "$BIN" cat "$W/two.steparc" > "$W/two.out" 2>/dev/null
    check two_inputs_in_order "seed $s: archive of two inputs differs from their canonical records in order" \
        same "$W/two.out" "$W/two.exp"
else
    fail two_inputs_in_order "convert of two inputs failed: $(head -c 300 "$W/two.err")"
fi
exit 0
