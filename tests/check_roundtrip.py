"""Helpers of tests/cli/test_roundtrip.sh.

checks.py roundtrip-prep SHAPE FILE [TESTS_DIR]: drops the records holding
  integers outside [-2^63, 2^64-1] (steparc rejects them by design;
  gen_steps.py --nasty emits -(2^64-1)), keeping every other byte as
  generated; writes how many values (records, list pages or SSE data lines)
  were dropped to FILE.drop; then runs canon.py --records FILE (its main(),
  in-process) > FILE.exp.
checks.py roundtrip-queries CANON DIR: writes DIR/qN.args (one argument per
  line) and DIR/qN.exp (the expected find output) and DIR/get.args /
  DIR/get.exp; prints the number of queries."""
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


def prep_main(argv):
    prep(argv[0], argv[1], argv[2] if len(argv) > 2 else os.path.dirname(os.path.abspath(__file__)))


def queries_main(argv):
    queries(argv[0], argv[1])
    return 0
