"""check_rewrite.py - `steparc rewrite` (deletion requests, redaction) against a
brute-force model of its rules, on a generated history (tests/cli/test_rewrite.sh).

    python3 tests/checks.py rewrite BIN WORKDIR

For each case the expected `steparc cat` of the output is computed here from
the input's `cat` (dropped lines removed, redacted records re-serialised,
every other line byte for byte), and the report's counts are counted here.
The leak checks look for the dropped (and redacted) ids and texts in the
output's raw bytes, in every block decompressed (zstd, with the archive's
dictionary when the block used it), in every index section and in the
dictionary, after making sure the same probe finds them in the input."""

import hashlib
import json
import os
import re
import struct
import subprocess
import sys

from testlib import check, dumps, lines_of, run

R = "[redacted]"
KINDS = {"thread.run.step": "step", "thread.message": "message", "thread.run": "run",
         "thread": "thread", "assistant": "assistant", "file": "file",
         "vector_store": "vector_store", "vector_store.file": "vector_store_file"}


def kind_of(r):
    o = r.get("object")
    return KINDS.get(o, "other") if isinstance(o, str) else "other"


# ---- the model -------------------------------------------------------------------------

def at_path(v, segs):
    for s in segs:
        if not isinstance(v, dict) or s not in v:
            return None
        v = v[s]
    return v


def dropped(r, threads, assistants, where):
    k = kind_of(r)
    if r.get("thread_id") in threads or (k == "thread" and r.get("id") in threads):
        return True
    if r.get("assistant_id") in assistants or (k == "assistant" and r.get("id") in assistants):
        return True
    for key, val in where:
        v = at_path(r, key.split("."))
        if isinstance(v, str) and v == val:
            return True
    return False


def redact_path(v, segs):
    """Replaces in place; returns (new value, count)."""
    if not segs:
        return R, 1
    s, rest, n = segs[0], segs[1:], 0
    if isinstance(v, dict):
        for k in list(v):
            if s == "*" or k == s:
                v[k], c = redact_path(v[k], rest)
                n += c
    elif isinstance(v, list):
        idx = range(len(v)) if s == "*" else ([int(s)] if s.isdigit() and int(s) < len(v) else [])
        for i in idx:
            v[i], c = redact_path(v[i], rest)
            n += c
    return v, n


def redact_text(v, rx):
    if isinstance(v, str):
        out, n = rx.subn(R, v)
        return out, n
    n = 0
    if isinstance(v, dict):
        for k in v:
            v[k], c = redact_text(v[k], rx)
            n += c
    elif isinstance(v, list):
        for i in range(len(v)):
            v[i], c = redact_text(v[i], rx)
            n += c
    return v, n


def model(lines, threads=(), assistants=(), where=(), paths=(), regexes=()):
    """(expected cat lines, report-like dict, dropped records)."""
    where = [w.split("=", 1) for w in where]
    out, gone = [], []
    rep = {"records_in": len(lines), "records_out": 0, "records_redacted": 0, "dropped": 0,
           "dropped_by_kind": {}, "dropped_ids": [], "redact": {p: 0 for p in paths},
           "redact_text": {x: 0 for x in regexes}}
    for line in lines:
        r = json.loads(line)
        if dropped(r, set(threads), set(assistants), where):
            rep["dropped"] += 1
            k = kind_of(r)
            rep["dropped_by_kind"][k] = rep["dropped_by_kind"].get(k, 0) + 1
            if isinstance(r.get("id"), str) and len(rep["dropped_ids"]) < 16:
                rep["dropped_ids"].append(r["id"])
            gone.append(r)
            continue
        rep["records_out"] += 1
        changed = 0
        for p in paths:
            r, c = redact_path(r, p.split("."))
            rep["redact"][p] += c
            changed += c
        for x in regexes:
            r, c = redact_text(r, re.compile(x))
            rep["redact_text"][x] += c
            changed += c
        if changed:
            rep["records_redacted"] += 1
            out.append(dumps(r).encode())
        else:
            out.append(line)
    return out, rep, gone


# ---- the archive's bytes ------------------------------------------------------------------

def archive_parts(path, work):
    """[(what, bytes)]: the raw file, each block's payload decompressed, each section,
    the dictionary (section 7 and the dictionary block)."""
    with open(path, "rb") as f:
        data = f.read()
    parts = [("raw file", data)]
    table, nsec = struct.unpack_from("<QI", data, len(data) - 64)
    secs = {}
    for i in range(nsec):
        t, = struct.unpack_from("<I", data, table + 32 * i)
        off, ln = struct.unpack_from("<QQ", data, table + 32 * i + 8)
        secs[t] = data[off:off + ln]
        parts.append(("section %d" % t, secs[t]))
    dictfile = None
    if 7 in secs:
        dictfile = os.path.join(work, "dict.bin")
        with open(dictfile, "wb") as f:
            f.write(secs[7])
    marker = data[16:32]
    pos = data.find(marker, 40)
    while pos >= 0:
        kind, layout, codec, flags = data[pos + 16:pos + 20]
        stored, = struct.unpack_from("<I", data, pos + 48)
        payload = data[pos + 64:pos + 64 + stored]
        if kind == 2:
            parts.append(("dictionary block", payload))
        elif kind == 1 and codec == 1:
            cmd = ["zstd", "-d", "-q", "-c"] + (["-D", dictfile] if flags & 1 and dictfile else [])
            p = subprocess.run(cmd, input=payload, capture_output=True)
            parts.append(("block at %d (%s)" % (pos, "ok" if p.returncode == 0 else "zstd failed"),
                          p.stdout))
        else:
            parts.append(("block at %d" % pos, payload))
        pos = data.find(marker, pos + 64 + stored)
    return parts, 7 in secs


def strings(v, out):
    """Every string value and key under v, as UTF-8, appended to out."""
    if isinstance(v, str):
        out.append(v.encode("utf-8", "surrogatepass"))
    elif isinstance(v, dict):
        for k, x in v.items():
            out.append(k.encode("utf-8", "surrogatepass"))
            strings(x, out)
    elif isinstance(v, list):
        for x in v:
            strings(x, out)
    return out


def probes(gone_values, kept_lines, minlen=12):
    """Strings (as UTF-8) of the dropped or redacted values that no kept record
    holds (in its strings as stored, not JSON-escaped)."""
    kept = []
    for line in kept_lines:
        strings(json.loads(line), kept)
    kept = b"\0".join(kept)
    return sorted({b for b in strings(gone_values, []) if len(b) >= minlen and b not in kept})


def leak_check(name, bin_, src, dst, work, gone_values, kept_lines, minlen=12):
    """Returns (the output has a dictionary, probes found in the input's dictionary)."""
    ps = probes(gone_values, kept_lines, minlen)
    src_parts, _ = archive_parts(src, work)
    src_dict = dict(src_parts).get("section 7", b"")
    # only probes the input visibly holds, in a decompressed block: a probe the
    # scan could not see in the input would prove nothing about the output
    blocks = b"".join(b for w, b in src_parts if w.startswith("block"))
    ps = [p for p in ps if p in blocks]
    check(name + "-probes", len(ps) >= 3, "only %d probes found in the input" % len(ps))
    if os.environ.get("STEPARC_VERBOSE"):
        sys.stderr.write("%s: %d probes\n" % (name, len(ps)))
    parts, has_dict = archive_parts(dst, work)
    bad = ["%s holds %r" % (w, p[:40]) for w, b in parts for p in ps if p in b]
    bad += [w for w, _ in parts if "zstd failed" in w]
    check(name + "-nothing-left", not bad, "; ".join(bad[:5]))
    return has_dict, sum(1 for p in ps if p in src_dict)


# ---- the cases ----------------------------------------------------------------------------

def cat(bin_, arc):
    rc, out, err = run(bin_, ["cat", arc])
    return lines_of(out) if rc == 0 else None


def rewrite(bin_, src, dst, args, work):
    rep = os.path.join(work, "report.json")
    if os.path.exists(rep):
        os.remove(rep)
    rc, _, err = run(bin_, ["rewrite", src, "-o", dst, "--report", rep, "-q"] + args)
    rj = json.load(open(rep)) if rc == 0 and os.path.exists(rep) else None
    return rc, rj, err


def args_of(threads=(), assistants=(), where=(), paths=(), regexes=()):
    a = []
    for opt, vals in (("--drop-thread", threads), ("--drop-assistant", assistants),
                      ("--drop-where", where), ("--redact", paths), ("--redact-text", regexes)):
        for v in vals:
            a += [opt, v]
    return a


def same_report(got, want):
    if got is None:
        return False
    keys = ("records_in", "records_out", "records_redacted", "dropped", "dropped_by_kind",
            "dropped_ids", "redact", "redact_text")
    return all(got.get(k) == want[k] for k in keys)


def case(name, bin_, src, lines, work, **rules):
    dst = os.path.join(work, name + ".steparc")
    want, wrep, gone = model(lines, **rules)
    rc, rep, err = rewrite(bin_, src, dst, args_of(**rules), work)
    if not check(name + "-runs", rc == 0, "exit %s: %s" % (rc, err[:300])):
        return None
    got = cat(bin_, dst)
    bad = [i for i in range(max(len(got), len(want)))
           if i >= len(got) or i >= len(want) or got[i] != want[i]]
    check(name + "-cat", not bad and len(got) == len(want),
          "%d lines differ of %d/%d; first %s" % (len(bad), len(got), len(want), bad[:3]))
    check(name + "-report", same_report(rep, wrep),
          "got %s\nwant %s" % (json.dumps(rep)[:600], json.dumps(wrep)[:600]))
    rc, out, _ = run(bin_, ["verify", dst])
    check(name + "-verify", rc == 0, out[:200])
    return dst, want, wrep, gone


def main(argv):
    bin_, work = argv[0], argv[1]
    tests = os.path.dirname(os.path.abspath(__file__))
    hist = os.path.join(work, "h.jsonl")
    with open(hist, "wb") as f:
        subprocess.run([sys.executable, os.path.join(tests, "gen_history.py"), "--seed", "16",
                        "--threads", "120", "--shape", "jsonl"], stdout=f, check=True)
    src = os.path.join(work, "a.steparc")
    rc, _, err = run(bin_, ["convert", "-q", hist, "-o", src])
    if not check("rewrite-input", rc == 0, err[:300]):
        return 1
    sha = hashlib.sha256(open(src, "rb").read()).hexdigest()
    lines = cat(bin_, src)
    recs = [json.loads(l) for l in lines]
    threads = [r["id"] for r in recs if kind_of(r) == "thread"]
    assts = [r["id"] for r in recs if kind_of(r) == "assistant"]
    # the thread with the most records: messages, runs and steps go with it
    per = {t: sum(1 for r in recs if r.get("thread_id") == t) for t in threads}
    big = max(threads, key=lambda t: per[t])
    users = [r["metadata"]["user_id"] for r in recs if isinstance(r.get("metadata"), dict)
             and isinstance(r["metadata"].get("user_id"), str)]

    r1 = case("rewrite-drop-thread", bin_, src, lines, work, threads=[big])
    if r1:
        check("rewrite-drop-thread-kinds",
              all(k in r1[2]["dropped_by_kind"] for k in ("thread", "message", "run", "step")),
              r1[2]["dropped_by_kind"])
        has_dict, _ = leak_check("rewrite-drop-thread", bin_, src, r1[0], work, r1[3], r1[1])
        check("rewrite-dictionary", has_dict, "no dictionary in the output (too few records?)")
    # the first threads: their records are among those the input's dictionary
    # was trained on, so some of their strings are in it; the output's is not
    r4 = case("rewrite-drop-first", bin_, src, lines, work, threads=threads[:20])
    if r4:
        _, in_dict = leak_check("rewrite-drop-first", bin_, src, r4[0], work, r4[3], r4[1], 8)
        if in_dict:
            check("rewrite-drop-first-dictionary-probed", True)
        else:
            print("SKIP rewrite-drop-first-dictionary-probed (no dropped string is in the"
                  " input's dictionary with this zstd)")
    case("rewrite-drop-assistant", bin_, src, lines, work, assistants=[assts[-1]])
    if users:
        case("rewrite-drop-where", bin_, src, lines, work,
             where=["metadata.user_id=" + users[0], "metadata.source=slack"])
    else:
        check("rewrite-drop-where", False, "no metadata.user_id in the history")
    paths = ["metadata", "step_details.tool_calls.*.function.output", "content.*.text.value",
             "tools.0"]
    regexes = ["[0-9]{6,}", "call_[A-Za-z0-9]+"]
    r2 = case("rewrite-redact", bin_, src, lines, work, paths=paths, regexes=regexes)
    if r2:
        check("rewrite-redact-counts",
              all(r2[2]["redact"][p] > 0 for p in paths[:3]) and
              all(r2[2]["redact_text"][x] > 0 for x in regexes), r2[2])
        # the redacted function outputs are gone from every part of the file
        outs = [c.get("function", {}).get("output") for r in recs if kind_of(r) == "step"
                for c in (r.get("step_details") or {}).get("tool_calls") or []
                if isinstance(c, dict) and isinstance(c.get("function"), dict)]
        leak_check("rewrite-redact", bin_, src, r2[0], work, outs, r2[1])
    r3 = case("rewrite-combined", bin_, src, lines, work, threads=threads[:2],
              assistants=[assts[0]], paths=["metadata.user_id"], regexes=["[0-9]{6,}"])

    # an archive in rows stays in rows
    rows = os.path.join(work, "rows.steparc")
    rc, _, err = run(bin_, ["convert", "-q", "--layout", "rows", hist, "-o", rows])
    r5 = case("rewrite-rows", bin_, rows, lines, work, threads=[big], paths=["metadata"]) \
        if rc == 0 else None
    if r5:
        rc, out, _ = run(bin_, ["info", "--json", r5[0]])
        info = json.loads(out) if rc == 0 else {}
        check("rewrite-rows-layout", info.get("columnar_blocks") == 0 and info.get("blocks"),
              "info: %s" % out[:300])

    # --dry-run: the same report, nothing written
    dry = os.path.join(work, "dry.steparc")
    rep = os.path.join(work, "dry.json")
    rc, _, err = run(bin_, ["rewrite", src, "-o", dry, "--dry-run", "--report", rep, "-q"] +
                     args_of(threads=[big]))
    check("rewrite-dry-run", rc == 0 and not os.path.exists(dry) and r1 is not None and
          same_report(json.load(open(rep)), r1[2]), "exit %s %s" % (rc, err[:200]))
    rc, _, err = run(bin_, ["rewrite", src, "--dry-run"] + args_of(threads=[big]))
    check("rewrite-dry-run-no-output", rc == 0 and b"dry run" in err, err[:200])

    # usage errors (exit 2) write nothing
    bad_out = os.path.join(work, "bad.steparc")
    for n, args in (("regex", ["--redact-text", "(unclosed"]), ("path", ["--redact", "a..b"]),
                    ("path-empty", ["--redact", ""]), ("where", ["--drop-where", "novalue"]),
                    ("where-key", ["--drop-where", ".x=1"]), ("no-output", [])):
        a = ["rewrite", src] + ([] if n == "no-output" else ["-o", bad_out]) + args
        rc, _, err = run(bin_, a)
        check("rewrite-usage-" + n, rc == 2 and not os.path.exists(bad_out),
              "exit %s: %s" % (rc, err[:200]))
    rc, _, _ = run(bin_, ["rewrite", src, "-o", src, "--drop-thread", big])
    check("rewrite-same-file", rc == 1, "exit %s" % rc)

    # a damaged input is refused and OUT not created
    data = bytearray(open(src, "rb").read())
    dmg = os.path.join(work, "damaged.steparc")
    data[len(data) // 3] ^= 0x55
    open(dmg, "wb").write(data)
    rc, _, err = run(bin_, ["rewrite", dmg, "-o", bad_out, "--drop-thread", big])
    check("rewrite-damaged-input", rc == 1 and not os.path.exists(bad_out) and
          not [f for f in os.listdir(work) if ".tmp-" in f], "exit %s: %s" % (rc, err[:200]))

    check("rewrite-input-untouched",
          hashlib.sha256(open(src, "rb").read()).hexdigest() == sha, "the input changed")
    return 0 if r3 else 1
