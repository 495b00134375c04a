#!/usr/bin/env python3
"""steparc benchmark harness (issue 6).  Python 3 standard library only.

Generates a corpus with tests/gen_steps.py and measures, side by side on the
same records:
  * steparc at default settings and at its strongest settings: conversion on
    one thread and on every core, full export (steparc cat), random get by
    position and by id, find by run and by thread, open time (bench/lookup_bench)
  * the JSONL compressed by zstd -3, zstd -19 --long=27, xz -9, gzip -9:
    size, compression and decompression speed
  * SQLite through its C API (bench/sqlite_bench): load, size, export,
    lookups, finds, open
  * gets from 1, 2 and every core's worth of threads: one steparc reader
    shared by the threads (lookup_bench --mt), one SQLite connection per
    thread (sqlite_bench query --mt)
  * MessagePack rows in one zstd stream, no index (bench/mpz_bench)
Every timed command runs --repeat times (the median is reported; a command
whose first run exceeds --slow seconds runs once) under /usr/bin/time for its
peak RSS.  Writes a Markdown report and a gnuplot SVG chart; prints the
report on stdout (progress goes to stderr).  Exits 1 with a message when any
step fails.

Usually run through `make bench` (see mk/bench.mk); directly:
  python3 bench/bench.py --build build --records 5000
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIME = "/usr/bin/time"
MB = 1e6


# tokens per thread, as SQL's GROUP BY thread_id with sum(total_tokens): a
# total_tokens that is not a number counts nothing
JQ_AGG = ('reduce inputs as $s ({}; .[($s.thread_id | tostring)] += '
          '(if ($s.usage | type) == "object" and ($s.usage.total_tokens | type) == "number" '
          'then $s.usage.total_tokens else 0 end)) | length')


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# running commands


class Runner:
    def __init__(self, work, repeat, slow):
        self.work = work
        self.repeat = repeat
        self.slow = slow
        self.rss_file = os.path.join(work, ".rss")

    def once(self, cmd, out_path=None, capture=False):
        """Runs cmd once; returns (wall seconds, peak RSS KiB, stdout text)."""
        full = [TIME, "-f", "%M", "-o", self.rss_file] + cmd
        out_f = None
        try:
            if capture:
                out = subprocess.PIPE
            elif out_path:
                out_f = open(out_path, "wb")
                out = out_f
            else:
                out = subprocess.DEVNULL
            t0 = time.perf_counter()
            p = subprocess.run(full, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE)
            wall = time.perf_counter() - t0
        except OSError as e:
            raise BenchError(f"cannot run {shlex.join(cmd)}: {e}")
        finally:
            if out_f:
                out_f.close()
        if p.returncode != 0:
            err = p.stderr.decode("utf-8", "replace").strip().splitlines()
            tail = "\n    ".join(err[-8:]) or "(no message)"
            raise BenchError(f"command failed (exit status {p.returncode}): "
                             f"{shlex.join(cmd)}\n    {tail}")
        rss = 0
        try:
            with open(self.rss_file) as f:
                lines = [ln for ln in f.read().split() if ln.isdigit()]
            rss = int(lines[-1]) if lines else 0
        except OSError:
            pass
        text = p.stdout.decode("utf-8", "replace") if capture else ""
        return wall, rss, text

    def measure(self, label, cmd, out_path=None, before=None, capture=False):
        """Runs cmd up to repeat times; median wall, max RSS, every stdout."""
        walls, rsss, outs = [], [], []
        for i in range(self.repeat):
            if before:
                before()
            w, r, o = self.once(cmd, out_path, capture)
            walls.append(w)
            rsss.append(r)
            outs.append(o)
            if i == 0 and w > self.slow:
                break
        res = {"wall": statistics.median(walls), "rss_kb": max(rsss), "runs": len(walls),
               "outs": outs}
        log(f"  {label:<44} {res['wall']:9.3f} s  {res['rss_kb'] / 1024:8.1f} MiB"
            f"  ({res['runs']} run{'s' if res['runs'] != 1 else ''})")
        return res


def sha256_of_cmd(cmd):
    """sha256 and length of a command's standard output (untimed checks)."""
    h = hashlib.sha256()
    n = 0
    try:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    except OSError as e:
        raise BenchError(f"cannot run {shlex.join(cmd)}: {e}")
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    err = p.stderr.read()
    if p.wait() != 0:
        raise BenchError(f"command failed (exit status {p.returncode}): {shlex.join(cmd)}\n    "
                         + err.decode("utf-8", "replace").strip()[-600:])
    return h.hexdigest(), n


def sha256_of_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def warm(path):
    """Reads a file so that it is in the page cache ("warm file")."""
    with open(path, "rb") as f:
        while f.read(1 << 22):
            pass


def first_line(cmd):
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        text = (p.stdout or p.stderr).decode("utf-8", "replace").strip()
        return text.splitlines()[0] if text else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


# --------------------------------------------------------------------------
# corpus

INT_MIN, UINT_MAX = -(2 ** 63), 2 ** 64 - 1
BIG_DIGITS = re.compile(rb"\d{19,}")


def has_wide_int(v):
    """An integer no 64-bit type holds (steparc refuses it rather than lose it)."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return v < INT_MIN or v > UINT_MAX
    if isinstance(v, dict):
        return any(has_wide_int(x) for x in v.values())
    if isinstance(v, list):
        return any(has_wide_int(x) for x in v)
    return False


def plain_key(v):
    return isinstance(v, str) and 0 < len(v) <= 200 and all(33 <= ord(c) < 127 for c in v)


def make_corpus(args, work):
    """Generates the corpus; returns its description and writes the key files."""
    path = os.path.join(work, "corpus.jsonl")
    gen = [sys.executable, os.path.join(ROOT, "tests", "gen_steps.py"), "--seed", str(args.seed),
           "--count", str(args.records), "--shape", "jsonl"]
    log(f"generating {args.records} records: {shlex.join(gen)}")
    ids, runs, threads = [], set(), set()
    kept = nbytes = 0
    dropped = {"wide_int": 0, "no_id": 0, "dup_id": 0}
    seen = set()
    try:
        p = subprocess.Popen(gen, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise BenchError(f"cannot run the generator: {e}")
    with open(path, "wb") as out:
        for line in p.stdout:
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except ValueError as e:
                raise BenchError(f"generator wrote invalid JSON after record {kept}: {e}")
            # Integers beyond 64 bits cannot be archived exactly: steparc
            # refuses them (and so would any 64-bit store); leave them out so
            # that every contender gets the same records.
            if BIG_DIGITS.search(line) and has_wide_int(d):
                dropped["wide_int"] += 1
                continue
            # One record per step id: steparc convert keeps one record per id
            # (the most advanced state) and skips steps without a string id,
            # so the corpus keeps the first of each id for everyone.
            sid = d.get("id") if isinstance(d, dict) else None
            if not isinstance(sid, str):
                dropped["no_id"] += 1
                continue
            if sid in seen:
                dropped["dup_id"] += 1
                continue
            seen.add(sid)
            out.write(line)
            kept += 1
            nbytes += len(line)
            if isinstance(d, dict):
                if plain_key(d.get("id")):
                    ids.append(d["id"])
                if plain_key(d.get("run_id")):
                    runs.add(d["run_id"])
                if plain_key(d.get("thread_id")):
                    threads.add(d["thread_id"])
    err = p.stderr.read()
    if p.wait() != 0:
        raise BenchError("generator failed: " + err.decode("utf-8", "replace").strip()[-600:])
    if kept == 0 or not ids or not runs or not threads:
        raise BenchError("the generated corpus is empty or has no ids/runs/threads")

    rng = random.Random(args.seed)
    keyfiles = {}
    for name, pool, n in (("ids", ids, max(args.gets, 1000)),
                          ("runs", sorted(runs), args.finds),
                          ("threads", sorted(threads), args.finds)):
        sample = rng.sample(pool, min(n, len(pool)))
        kp = os.path.join(work, name + ".txt")
        with open(kp, "w") as f:
            f.write("\n".join(sample) + "\n")
        keyfiles[name] = kp
    return {"path": path, "records": kept, "dropped": dropped, "bytes": nbytes,
            "runs": len(runs), "threads": len(threads), "cmd": gen, "keys": keyfiles}


# --------------------------------------------------------------------------
# formatting


def num(x, unit=""):
    """A figure with 3-4 significant digits."""
    if x is None:
        return "—"
    ax = abs(x)
    if ax >= 1000:
        s = f"{x:,.0f}"
    elif ax >= 100:
        s = f"{x:.0f}"
    elif ax >= 10:
        s = f"{x:.1f}"
    elif ax >= 1:
        s = f"{x:.2f}"
    else:
        s = f"{x:.3f}"
    return s + unit


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def table(header, rows, align=None):
    """A Markdown table; align: one letter per column, l or r (default: first l)."""
    align = align or "l" + "r" * (len(header) - 1)
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


# --------------------------------------------------------------------------
# the benchmark


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            for ln in f:
                if ln.startswith("MemTotal:"):
                    mem = f"{int(ln.split()[1]) / 1024 / 1024:.1f} GiB"
                    break
    except OSError:
        pass
    osname = platform.system()
    try:
        with open("/etc/os-release") as f:
            for ln in f:
                if ln.startswith("PRETTY_NAME="):
                    osname = ln.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return {"cores": cores, "cpu": cpu, "mem": mem, "os": osname,
            "kernel": platform.release(), "load": os.getloadavg()}


def check_tools(args):
    need = {"zstd": "zstd", "xz": "xz-utils", "gzip": "gzip", "gnuplot": "gnuplot-nox"}
    missing = [pkg for tool, pkg in need.items() if not shutil.which(tool)]
    if not os.access(TIME, os.X_OK):
        missing.append("time")
    if missing:
        raise BenchError("missing tools; install the Debian packages " + " ".join(missing)
                         + " (make bench does it)")
    for b in (args.steparc, args.lookup, args.sqlite, args.mpz, args.colstat):
        if not os.access(b, os.X_OK):
            raise BenchError(f"{b} is not built (run make bench, or make bench-bin)")


def run_bench(args):
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    check_tools(args)
    mach = machine_info()
    cores = mach["cores"]
    started = datetime.datetime.now(datetime.timezone.utc)
    R = Runner(work, args.repeat, args.slow)
    W = lambda name: os.path.join(work, name)  # noqa: E731

    corpus = make_corpus(args, work)
    cpath, jbytes, nrec = corpus["path"], corpus["bytes"], corpus["records"]
    log(f"corpus: {nrec} records, {jbytes / MB:.1f} MB of JSONL"
        + (f" ({sum(corpus['dropped'].values())} left out)" if any(corpus["dropped"].values())
           else ""))
    warm(cpath)
    keys = corpus["keys"]
    qopts = ["--ids", keys["ids"], "--runs", keys["runs"], "--threads", keys["threads"],
             "--gets", str(args.gets), "--finds", str(args.finds), "--opens", str(args.opens),
             "--seed", str(args.seed)]
    mbps = lambda wall: jbytes / MB / wall if wall > 0 else None  # noqa: E731
    # thread counts of the threads mode: 1, 2 and the core count
    mt_counts = sorted({1, 2, cores})
    mt_opts = ["--mt", ",".join(str(t) for t in mt_counts)]

    def rm(*paths):
        def f():
            for p in paths:
                for q in (p, p + "-journal"):
                    if os.path.exists(q):
                        os.remove(q)
        return f

    res = {}

    # ---- steparc
    max_flags = shlex.split(args.max_flags)
    # rows: the default settings with the format 1.0 layout, to choose the
    # default layout from measurements (issue 6)
    variants = [("default", []), ("rows", ["--layout", "rows"]), ("max", max_flags)]
    for name, flags in variants:
        arc = W(f"steparc-{name}.steparc")
        rep = W(f"steparc-{name}.report.json")
        entry = {"flags": flags, "path": arc}
        sizes = set()
        for j in sorted({1, cores}):
            log(f"steparc {name} ({' '.join(flags) or 'defaults'}), -j {j}")
            cmd = [args.steparc, "convert", cpath, "-o", arc, "-q", "-j", str(j),
                   "--report", rep] + flags
            m = R.measure(f"convert -j {j}", cmd, before=rm(arc, rep))
            with open(rep) as f:
                conv_report = json.load(f)
            if conv_report.get("records") != nrec:
                raise BenchError(f"steparc convert wrote {conv_report.get('records')} records, "
                                 f"expected {nrec} (report: {rep})")
            sizes.add(os.path.getsize(arc))
            entry["j1" if j == 1 else "jn"] = m
        if cores == 1:
            entry["jn"] = entry["j1"]
        if len(sizes) != 1:
            log(f"  note: archive size differs between thread counts: {sorted(sizes)}")
        entry["size"] = os.path.getsize(arc)
        p = subprocess.run([args.steparc, "info", arc, "--json"], capture_output=True)
        if p.returncode != 0:
            raise BenchError(f"steparc info {arc} failed: {p.stderr.decode(errors='replace')}")
        entry["info"] = json.loads(p.stdout)
        if entry["info"].get("records") != nrec:
            raise BenchError(f"{arc} holds {entry['info'].get('records')} records, expected {nrec}")
        warm(arc)
        entry["export"] = R.measure("export (steparc cat > /dev/null)", [args.steparc, "cat", arc])
        q = R.measure("lookups (lookup_bench)", [args.lookup, arc] + qopts, capture=True)
        entry["query"] = merge_query(q)
        # threads mode on the default archive only: at the strongest settings
        # a get decompresses a 4 MiB block (ms each), too slow to repeat here
        if name == "default":
            q = R.measure(f"lookups from {mt_opts[1]} threads (lookup_bench --mt)",
                          [args.lookup, arc] + qopts + mt_opts, capture=True)
            entry["mt"] = merge_query(q)
        res["steparc-" + name] = entry

    # ---- where the columnar archive's bytes go (per field group)
    log("columnar streams per field group (colstat)")
    p = subprocess.run([args.colstat, res["steparc-default"]["path"]], capture_output=True)
    if p.returncode != 0:
        raise BenchError(f"colstat failed: {p.stderr.decode(errors='replace')}")
    res["colstat"] = json.loads(p.stdout)

    # ---- general-purpose compressors over the JSONL
    comps = [
        ("zstd -3 -T1", "corpus.jsonl.zst",
         lambda o: (["zstd", "-q", "-f", "-3", "-T1", cpath, "-o", o], None),
         lambda o: ["zstd", "-q", "-dc", o]),
        (f"zstd -3 -T0 ({cores} threads)", "corpus-T0.jsonl.zst",
         lambda o: (["zstd", "-q", "-f", "-3", "-T0", cpath, "-o", o], None), None),
        ("zstd -19 --long=27 -T1", "corpus-19.jsonl.zst",
         lambda o: (["zstd", "-q", "-f", "-19", "--long=27", "-T1", cpath, "-o", o], None),
         lambda o: ["zstd", "-q", "-dc", "--long=27", o]),
        ("xz -9 -T1", "corpus.jsonl.xz",
         lambda o: (["xz", "-9", "-T1", "-c", cpath], o), lambda o: ["xz", "-dc", o]),
        ("gzip -9", "corpus.jsonl.gz",
         lambda o: (["gzip", "-9", "-c", cpath], o), lambda o: ["gzip", "-dc", o]),
    ]
    for label, fname, ccmd, dcmd in comps:
        log(label)
        out = W(fname)
        cmd, redirect = ccmd(out)
        e = {"label": label, "path": out}
        e["conv"] = R.measure("compress", cmd, out_path=redirect, before=rm(out))
        e["size"] = os.path.getsize(out)
        if dcmd:
            warm(out)
            e["export"] = R.measure("decompress > /dev/null", dcmd(out))
            e["dcmd"] = dcmd(out)
        res[label] = e
    zstd3, zstd3mt, zstd19 = (res[c[0]] for c in comps[:3])

    # ---- SQLite
    log("SQLite (C API, one transaction, 3 indexes)")
    db = W("steps.sqlite")
    e = {"path": db}
    e["conv"] = R.measure("load", [args.sqlite, "load", db, cpath], before=rm(db))
    e["size"] = os.path.getsize(db)
    warm(db)
    e["export"] = R.measure("export (rowid order > /dev/null)", [args.sqlite, "export", db])
    q = R.measure("lookups (sqlite_bench query)", [args.sqlite, "query", db] + qopts, capture=True)
    e["query"] = merge_query(q)
    if e["query"].get("records") != nrec:
        raise BenchError(f"SQLite holds {e['query'].get('records')} rows, expected {nrec}")
    q = R.measure(f"lookups, {mt_opts[1]} threads (sqlite_bench --mt)",
                  [args.sqlite, "query", db] + qopts + mt_opts, capture=True)
    e["mt"] = merge_query(q)
    res["sqlite"] = e

    # ---- SQL over the archive: the extension against native SQLite and jq (issue 15)
    log("SQL: the extension against native SQLite (export --sqlite) and jq")
    arc = res["steparc-default"]["path"]
    ndb = W("export.sqlite")
    e = {"path": ndb}
    e["export"] = R.measure("steparc export --sqlite", [args.steparc, "export", "--sqlite",
                                                        ndb, arc], before=rm(ndb))
    e["size"] = os.path.getsize(ndb)
    warm(ndb)
    q = R.measure(f"SQL queries (sql_bench, {args.sql} lookups each)",
                  [args.sqlbench, args.ext, arc, ndb, keys["ids"], keys["threads"],
                   str(args.sql), str(args.seed)], capture=True)
    outs = [json.loads(o) for o in q["outs"]]
    e["q"] = {k: statistics.median(o[k] for o in outs) for k in outs[0]}
    e["q"]["runs"] = len(outs)
    e["jq"] = R.measure("jq: total tokens per thread over the JSONL", ["jq", "-n", JQ_AGG, cpath])
    res["sql"] = e

    # ---- MessagePack + zstd, no index
    log("MessagePack rows + zstd -3, one stream, no index")
    mpz = W("corpus.mpz")
    e = {"path": mpz}
    e["conv"] = R.measure("pack", [args.mpz, "pack", cpath, mpz, "3"], before=rm(mpz))
    e["size"] = os.path.getsize(mpz)
    warm(mpz)
    e["export"] = R.measure("unpack to JSON > /dev/null", [args.mpz, "unpack", mpz])
    res["mpz"] = e

    # ---- lossless checks (untimed)
    verified = None
    if args.verify:
        log("checking that every contender gives the records back (untimed)")
        canon_sha, canon_len = sha256_of_cmd(
            [sys.executable, os.path.join(ROOT, "tests", "canon.py"), "--jsonl", cpath])
        raw_sha = sha256_of_file(cpath)
        checks = [("steparc default: steparc cat == canon.py", canon_sha,
                   [args.steparc, "cat", res["steparc-default"]["path"]]),
                  ("steparc rows: steparc cat == canon.py", canon_sha,
                   [args.steparc, "cat", res["steparc-rows"]["path"]]),
                  ("steparc default: cat --via-struct == canon.py", canon_sha,
                   [args.steparc, "cat", "--via-struct", res["steparc-default"]["path"]]),
                  ("steparc max: steparc cat == canon.py", canon_sha,
                   [args.steparc, "cat", res["steparc-max"]["path"]]),
                  ("msgpack+zstd: unpack == canon.py", canon_sha, [args.mpz, "unpack", mpz]),
                  ("SQLite: export == input bytes", raw_sha, [args.sqlite, "export", db])]
        for label, _, _, dcmd in comps:
            if dcmd:
                checks.append((f"{label}: decompress == input bytes", raw_sha,
                               res[label]["dcmd"]))
        for label, want, cmd in checks:
            got, _ = sha256_of_cmd(cmd)
            if got != want:
                raise BenchError(f"lossless check failed: {label} ({shlex.join(cmd)})")
            log(f"  ok  {label}")
        verified = {"canon_bytes": canon_len, "checks": [c[0] for c in checks]}

    finished = datetime.datetime.now(datetime.timezone.utc)
    ctx = {"args": args, "mach": mach, "corpus": corpus, "res": res, "started": started,
           "finished": finished, "verified": verified, "cores": cores, "zstd3": zstd3,
           "zstd3mt": zstd3mt, "zstd19": zstd19, "mbps": mbps, "mt_counts": mt_counts}
    svg_data = chart(ctx, work)
    md = report(ctx)
    for path, text in ((args.out, md), (args.svg, svg_data)):
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    print(md)
    log(f"wrote {args.out} and {args.svg}")


def merge_query(m):
    """Median of each figure over the runs of a query program."""
    runs = []
    for text in m["outs"]:
        try:
            runs.append(json.loads(text))
        except ValueError:
            raise BenchError(f"a query program printed no JSON: {text[:200]!r}")
    out = {}
    for k, v in runs[0].items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = statistics.median(r[k] for r in runs)
        else:
            out[k] = v
    out["rss_kb"] = m["rss_kb"]
    out["runs"] = m["runs"]
    return out


# --------------------------------------------------------------------------
# chart


def contenders(ctx):
    """(label, family, size, conversion result, export result) for every contender."""
    res, cores = ctx["res"], ctx["cores"]
    out = []
    for name, title in (("steparc-default", "steparc default"), ("steparc-rows", "steparc rows"),
                        ("steparc-max", "steparc max")):
        e = res[name]
        out.append((f"{title} -j1", "steparc", e["size"], e["j1"], e["export"]))
        if cores > 1:
            out.append((f"{title} -j{cores}", "steparc", e["size"], e["jn"], e["export"]))
    for key in (k for k in res
                if not k.startswith("steparc-") and k not in ("sqlite", "mpz", "colstat", "sql")):
        e = res[key]
        out.append((key, "compressor", e["size"], e["conv"], e.get("export")))
    out.append(("SQLite (3 indexes)", "sqlite", res["sqlite"]["size"], res["sqlite"]["conv"],
                res["sqlite"]["export"]))
    out.append(("MessagePack+zstd -3", "compressor", res["mpz"]["size"], res["mpz"]["conv"],
                res["mpz"]["export"]))
    return out


STYLES = {  # point type (gnuplot), colour; open symbols for the multi-threaded runs
    "steparc default -j1": (7, "#d62728"), "steparc default -jN": (6, "#d62728"),
    "steparc max -j1": (9, "#7f0000"), "steparc max -jN": (8, "#7f0000"),
    "steparc rows -j1": (3, "#e377c2"), "steparc rows -jN": (2, "#e377c2"),
    "zstd -3 -T1": (5, "#1f77b4"), "zstd -3 -T0": (4, "#1f77b4"),
    "zstd -19": (13, "#17becf"), "xz": (11, "#9467bd"), "gzip": (15, "#8c564b"),
    "SQLite": (5, "#2ca02c"), "MessagePack": (7, "#ff7f0e"),
}


def style_of(label):
    key = re.sub(r"-j([2-9]|\d\d+)$", "-jN", label)
    for k, v in STYLES.items():
        if key.startswith(k):
            return v
    return (1, "#000000")


def chart(ctx, work):
    """Size vs conversion speed, one point per contender, both axes log scale."""
    jbytes, mbps = ctx["corpus"]["bytes"], ctx["mbps"]
    dat = os.path.join(work, "chart.dat")
    plots, ys = [], []
    with open(dat, "w") as f:
        for i, (label, _, size, conv, _) in enumerate(contenders(ctx)):
            y = 100.0 * size / jbytes
            ys.append(y)
            f.write(f"{mbps(conv['wall']):.6g} {y:.6g}\n\n\n")
            pt, color = style_of(label)
            plots.append(f'"{dat}" index {i} using 1:2 with points pt {pt} ps 1.6 '
                         f'lw 2 lc rgb "{color}" title "{label} ({y:.1f}%)"')
    # y tics that spread the usual 10-20% cluster and still show SQLite
    tics = [t for t in (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 25, 30, 40, 50, 60,
                        80, 100, 125, 150, 200, 300, 500)
            if min(ys) * 0.9 <= t <= max(ys) * 1.1]
    svg = os.path.join(work, "chart.svg")
    c = ctx["corpus"]
    title = (f"{c['records']:,} run steps, {c['bytes'] / MB:.1f} MB of JSONL "
             f"({ctx['started']:%Y-%m-%d}, {ctx['cores']} cores)")
    script = f"""
set terminal svg size 1000,560 dynamic enhanced font "sans,12" background rgb "white"
set output "{svg}"
set title "{title}" noenhanced
set logscale xy
set xlabel "conversion speed: MB of JSON in per second (log scale; right is faster)"
set ylabel "size, % of the JSONL (log scale; lower is smaller)"
set ytics ({", ".join(f'"{t}%%" {t}' for t in tics)})
set yrange [{min(ys) * 0.9:.4g}:{max(ys) * 1.1:.4g}]
set grid
set key outside right top noenhanced spacing 1.3
set offsets graph 0.06, graph 0.06, 0, 0
plot {", ".join(plots)}
"""
    gp = os.path.join(work, "chart.gp")
    with open(gp, "w") as f:
        f.write(script)
    p = subprocess.run(["gnuplot", gp], capture_output=True)
    if p.returncode != 0 or not os.path.exists(svg):
        raise BenchError("gnuplot failed: " + p.stderr.decode("utf-8", "replace").strip()[-600:])
    with open(svg) as f:
        return f.read()


# --------------------------------------------------------------------------
# report


def report(ctx):
    args, mach, c, res = ctx["args"], ctx["mach"], ctx["corpus"], ctx["res"]
    cores, jbytes, mbps = ctx["cores"], c["bytes"], ctx["mbps"]
    zstd3, zstd3mt, zstd19 = ctx["zstd3"], ctx["zstd3mt"], ctx["zstd19"]
    sd, sm, sq, mp = res["steparc-default"], res["steparc-max"], res["sqlite"], res["mpz"]
    L = []
    L.append("# steparc benchmarks")
    L.append("")
    L.append(f"Generated by `make bench` (bench/bench.py) on {ctx['started']:%Y-%m-%d %H:%M} UTC, "
             f"in {(ctx['finished'] - ctx['started']).total_seconds():.0f} s. "
             "Regenerate with `make bench` (options in mk/bench.mk).")
    if c["records"] < 50000:
        L.append("")
        L.append(f"**Small-scale run ({c['records']:,} records): the figures are noisy and "
                 "fixed costs weigh more than at full scale; do not quote them.**")
    L.append("")
    L.append("## Machine")
    L.append("")
    L.append(f"- CPU: {mach['cpu']}, {cores} cores available (nproc)")
    L.append(f"- Memory: {mach['mem']}")
    L.append(f"- OS: {mach['os']}, Linux {mach['kernel']}")
    la = mach["load"]
    L.append(f"- Load average when the run started: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}"
             + (" (other jobs were running: expect noise)" if la[0] > 0.5 * cores else ""))
    L.append(f"- Tools: {first_line([args.steparc, '--version'])}; "
             f"{first_line(['zstd', '-V']).strip('* ')}; {first_line(['xz', '--version'])}; "
             f"{first_line(['gzip', '--version'])}; SQLite {sq['query'].get('sqlite_version', '?')}; "
             f"{first_line(['cc', '--version'])}")
    L.append("")
    L.append("## Corpus")
    L.append("")
    L.append(f"- `{shlex.join(['python3', 'tests/gen_steps.py'] + c['cmd'][2:])}` "
             f"(generator seed {args.seed}): realistic Assistants run steps, one JSON "
             "object per line, mixed compact and spaced separators and ASCII-escaped or raw "
             "UTF-8, ~10% of records with edge cases (unknown keys, odd numbers, hostile strings)")
    L.append(f"- {c['records']:,} records, {jbytes:,} bytes of JSONL "
             f"({jbytes / c['records']:.0f} bytes per record), {c['runs']:,} runs, "
             f"{c['threads']:,} threads")
    dr = c["dropped"]
    if any(dr.values()):
        why = []
        if dr["dup_id"]:
            why.append(f"{dr['dup_id']} repeat the id of an earlier record (the generator's "
                       "edge cases reuse the empty id; steparc keeps one record per id)")
        if dr["no_id"]:
            why.append(f"{dr['no_id']} have no string id (steparc skips them)")
        if dr["wide_int"]:
            why.append(f"{dr['wide_int']} hold an integer beyond 64 bits (e.g. "
                       "-18446744073709551615), which steparc refuses rather than store "
                       "inexactly")
        L.append(f"- {sum(dr.values())} of the {c['records'] + sum(dr.values()):,} generated "
                 "records were left out so that every contender stores the same records: "
                 + "; ".join(why))
    if ctx["verified"]:
        L.append(f"- Lossless: checked after timing — `steparc cat` of the three archives (and `cat --via-struct` of the default one) and the "
                 f"MessagePack baseline equal `tests/canon.py --jsonl` of the corpus "
                 f"({ctx['verified']['canon_bytes']:,} bytes of canonical JSON); every "
                 "decompressor and the SQLite export give the input bytes back")
    L.append(f"- steparc default = `steparc convert` (columnar layout, zstd level 3, 64 KiB blocks with a dictionary trained on the first 4 MiB of blocks); "
             "steparc rows = `steparc convert --layout rows` (the same, MessagePack rows: format 1.0); "
             f"steparc max = `steparc convert {args.max_flags}`. "
             f"Default archive: {sd['info'].get('blocks')} blocks, "
             f"{sd['size'] - sd['info'].get('stored_bytes', 0):,} bytes of indexes and footer; "
             f"max archive: {sm['info'].get('blocks')} blocks")
    L.append("")
    L.append("## Method")
    L.append("")
    L.append(f"- Every timed command ran {args.repeat} time{'s' if args.repeat != 1 else ''} "
             "and the median wall time is "
             f"reported (a command whose first run took over {args.slow:g} s ran once: see the "
             "runs column); peak RSS is the largest `/usr/bin/time -f %M` of its runs")
    L.append("- MB/s is always MB (10^6 bytes) of the input JSONL per second of wall time, "
             "for compression and for export/decompression alike, so speeds compare directly "
             "(export writes to /dev/null; steparc writes canonical JSON, "
             "the decompressors the original bytes)")
    L.append("- Files are warm (in the page cache); conversions write to the same disk; "
             "`steparc convert` and SQLite fsync their output, the compressors do not")
    L.append(f"- Lookups: one process opens the archive/database once, warms up with 200 reads, "
             f"then times {args.gets:,} gets by uniformly random position, {args.gets:,} gets by "
             f"random id from the corpus, {args.finds:,} finds by run and {args.finds:,} by thread "
             "(ids sampled from the corpus, same seed and order for steparc and SQLite); a get "
             "returns the record's JSON; a find returns the JSON of every match (steparc: cursor "
             "with a filter, each match through `steparc_msgpack_to_json`; SQLite: indexed "
             f"`SELECT json ... WHERE run_id = ?`). Open: {args.opens:,} times "
             "`steparc_reader_open`+`close` (SQLite: open read-only + prepare, which reads the "
             "schema, + close); median")
    L.append("- SQLite: table `steps(id, run_id, thread_id, created_at, json)` with an index on "
             "each of id, run_id, thread_id; loaded in one transaction with a prepared "
             "statement, columns extracted by SQLite's `json_extract`, indexes built in the "
             "same transaction (bench/sqlite_bench.c)")
    L.append("- MessagePack+zstd: each record through `steparc_json_to_msgpack`, 4-byte length "
             "prefix, all in one zstd stream at level 3, one thread, no index (bench/mpz_bench.c)")
    L.append("")

    # ---- steparc against the peers it replaces
    def pct(size):
        return f"{100.0 * size / jbytes:.1f}%"

    def us(q, k):
        return q.get(k)

    def goal(val, target):
        if val is None:
            return "—"
        return f"≥ {target}×: **{'met' if val >= target else 'NOT met'}**"

    L.append("## steparc against the peer it replaces")
    L.append("")
    L.append("Ratio = steparc ÷ peer. For sizes, times and memory lower is better; for speeds "
             "higher is better.")
    L.append("")
    rows = []
    conv1_d, conv1_m = mbps(sd["j1"]["wall"]), mbps(sm["j1"]["wall"])
    convn_d, convn_m = mbps(sd["jn"]["wall"]), mbps(sm["jn"]["wall"])
    z3 = mbps(zstd3["conv"]["wall"])
    z3mt = mbps(zstd3mt["conv"]["wall"])
    exp_d, exp_m = mbps(sd["export"]["wall"]), mbps(sm["export"]["wall"])
    zd = mbps(zstd3["export"]["wall"])
    rows.append(["Size (MB)", num(sd["size"] / MB), num(sm["size"] / MB), "zstd -19 --long=27",
                 num(zstd19["size"] / MB), ratio(sd["size"], zstd19["size"]),
                 ratio(sm["size"], zstd19["size"]),
                 f"≤ 0.85×: **{'met' if sd['size'] <= 0.85 * zstd19['size'] else 'NOT met'}** (default)"])
    z19 = mbps(zstd19["conv"]["wall"])
    rows.append(["Conversion MB/s vs zstd -19 --long, 1 thread", num(conv1_d), num(mbps(sm["j1"]["wall"])),
                 "zstd -19 --long=27 -T1", num(z19), ratio(conv1_d, z19),
                 ratio(mbps(sm["j1"]["wall"]), z19), goal(conv1_d / z19 if z19 else None, 10) + " (default)"])
    rows.append(["Size (MB)", num(sd["size"] / MB), num(sm["size"] / MB), "SQLite",
                 num(sq["size"] / MB), ratio(sd["size"], sq["size"]),
                 ratio(sm["size"], sq["size"]), ""])
    rows.append(["Size (MB)", num(sd["size"] / MB), num(sm["size"] / MB), "MessagePack+zstd -3",
                 num(mp["size"] / MB), ratio(sd["size"], mp["size"]),
                 ratio(sm["size"], mp["size"]), ""])
    rows.append(["Conversion MB/s, 1 thread", num(conv1_d), num(conv1_m), "zstd -3 -T1",
                 num(z3), ratio(conv1_d, z3), ratio(conv1_m, z3),
                 goal(conv1_d / z3 if z3 else None, 0.5) + " (default)"])
    rows.append([f"Conversion MB/s, {cores} threads", num(convn_d), num(convn_m),
                 f"zstd -3 -T0", num(z3mt), ratio(convn_d, z3mt), ratio(convn_m, z3mt), ""])
    rows.append(["Export MB/s", num(exp_d), num(exp_m), "zstd -dc (of zstd -3)", num(zd),
                 ratio(exp_d, zd), ratio(exp_m, zd),
                 goal(exp_d / zd if zd else None, 0.7) + " (default)"])
    qd, qm, qs = sd["query"], sm["query"], sq["query"]
    for key, label in (("get_pos", "Get by position"), ("get_id", "Get by id"),
                       ("find_run", "Find by run"), ("find_thread", "Find by thread")):
        for p in ("p50", "p99"):
            k = f"{key}_{p}_us"
            peer = "SQLite by rowid" if key == "get_pos" else "SQLite, indexed"
            rows.append([f"{label} {p} (µs)", num(us(qd, k)), num(us(qm, k)), peer, num(us(qs, k)),
                         ratio(us(qd, k), us(qs, k)), ratio(us(qm, k), us(qs, k)), ""])
    rows.append(["Open, median (µs)", num(qd["open_p50_us"]), num(qm["open_p50_us"]), "SQLite",
                 num(qs["open_p50_us"]), ratio(qd["open_p50_us"], qs["open_p50_us"]),
                 ratio(qm["open_p50_us"], qs["open_p50_us"]), ""])
    tmax = ctx["mt_counts"][-1]
    mtd, mts = sd["mt"], sq["mt"]
    for key, label, peer in (("pos", "Get by position", "SQLite by rowid"),
                             ("id", "Get by id", "SQLite, indexed")):
        k = f"mt_{key}_{tmax}"
        rows.append([f"{label}, {tmax} threads (gets/s)", num(mtd.get(k)), "—",
                     f"{peer}, a connection per thread", num(mts.get(k)),
                     ratio(mtd.get(k), mts.get(k)), "—", ""])
        rows.append([f"{label}, speed-up {tmax} threads vs 1",
                     ratio(mtd.get(k), mtd.get(f"mt_{key}_1")), "—",
                     f"{peer}, a connection per thread",
                     ratio(mts.get(k), mts.get(f"mt_{key}_1")),
                     ratio(speedup(mtd, key, tmax), speedup(mts, key, tmax)), "—", ""])
    mib = lambda kb: kb / 1024.0  # noqa: E731
    rows.append(["Peak RSS, convert 1 thread (MiB)", num(mib(sd["j1"]["rss_kb"])),
                 num(mib(sm["j1"]["rss_kb"])), "zstd -3 -T1", num(mib(zstd3["conv"]["rss_kb"])),
                 ratio(sd["j1"]["rss_kb"], zstd3["conv"]["rss_kb"]),
                 ratio(sm["j1"]["rss_kb"], zstd3["conv"]["rss_kb"]), ""])
    rows.append([f"Peak RSS, convert {cores} threads (MiB)", num(mib(sd["jn"]["rss_kb"])),
                 num(mib(sm["jn"]["rss_kb"])), "SQLite load", num(mib(sq["conv"]["rss_kb"])),
                 ratio(sd["jn"]["rss_kb"], sq["conv"]["rss_kb"]),
                 ratio(sm["jn"]["rss_kb"], sq["conv"]["rss_kb"]), ""])
    rows.append(["Peak RSS, export (MiB)", num(mib(sd["export"]["rss_kb"])),
                 num(mib(sm["export"]["rss_kb"])), "zstd -dc", num(mib(zstd3["export"]["rss_kb"])),
                 ratio(sd["export"]["rss_kb"], zstd3["export"]["rss_kb"]),
                 ratio(sm["export"]["rss_kb"], zstd3["export"]["rss_kb"]), ""])
    rows.append(["Peak RSS, lookups (MiB)", num(mib(qd["rss_kb"])), num(mib(qm["rss_kb"])),
                 "SQLite", num(mib(qs["rss_kb"])), ratio(qd["rss_kb"], qs["rss_kb"]),
                 ratio(qm["rss_kb"], qs["rss_kb"]), ""])
    L.append(table(["Metric", "steparc default", "steparc max", "Peer", "Peer value",
                    "Ratio default", "Ratio max", "Goal (issue 6)"], rows, "lrrlrrrl"))
    L.append("")

    # ---- every contender
    L.append("## Size and speed of every contender")
    L.append("")
    rows = [["JSONL (input)", num(jbytes / MB), "100%", "—", "—", "—", "—", "—"]]
    for label, fam, size, conv, exp in contenders(ctx):
        rows.append([label, num(size / MB), pct(size), num(mbps(conv["wall"])),
                     num(mbps(exp["wall"])) if exp else "—", num(mib(conv["rss_kb"])),
                     num(mib(exp["rss_kb"])) if exp else "—",
                     f"{conv['runs']}/{exp['runs']}" if exp else f"{conv['runs']}"])
    L.append(table(["Contender", "Size (MB)", "% of JSON", "Convert MB/s", "Export MB/s",
                    "RSS convert (MiB)", "RSS export (MiB)", "Runs"], rows))
    L.append("")
    L.append("Convert = `steparc convert`, compression, SQLite load or MessagePack packing; "
             "export = `steparc cat`, decompression, SQLite `SELECT json` in rowid order or "
             "MessagePack unpacking to JSON. "
             f"The zstd -3 -T0 row has no export figure: it decompresses like zstd -3 -T1.")
    L.append("")
    svg_rel = os.path.relpath(os.path.abspath(args.svg), os.path.dirname(os.path.abspath(args.out)))
    L.append(f"![size vs conversion speed]({svg_rel})")
    L.append("")

    # ---- lookups
    L.append("## Lookups (µs per operation, warm file)")
    L.append("")
    rows = []
    for title, q in (("steparc default", qd), ("steparc max", qm), ("SQLite", qs)):
        rows.append([title,
                     f"{num(q['get_pos_p50_us'])} / {num(q['get_pos_p99_us'])}",
                     f"{num(q['get_id_p50_us'])} / {num(q['get_id_p99_us'])}",
                     f"{num(q['find_run_p50_us'])} / {num(q['find_run_p99_us'])}",
                     f"{num(q['find_thread_p50_us'])} / {num(q['find_thread_p99_us'])}",
                     num(q["open_p50_us"]), num(mib(q["rss_kb"])), str(q["runs"])])
    L.append(table(["Store", "Get by position p50 / p99", "Get by id p50 / p99",
                    "Find by run p50 / p99", "Find by thread p50 / p99", "Open (median)",
                    "Peak RSS (MiB)", "Runs"], rows))
    L.append("")
    L.append(f"A find by run returns {qd.get('find_run_matches_mean', 0):.1f} records on average, "
             f"by thread {qd.get('find_thread_matches_mean', 0):.1f}. steparc block cache counters "
             f"after the gets (default archive, warm-up included): {int(qd.get('cache_hits', 0)):,} hits, "
             f"{int(qd.get('cache_misses', 0)):,} misses (4 blocks cached). The MessagePack+zstd "
             "baseline has no index: any lookup is a scan of the whole stream, about its "
             "export time.")
    L.append("")

    # ---- layout choice and where the bytes go
    sr, cs = res["steparc-rows"], res["colstat"]
    L.append("## Block layout: columnar (default) against rows")
    L.append("")
    qr = sr["query"]
    rows = [["Archive size (MB)", num(sd["size"] / MB), num(sr["size"] / MB), ratio(sd["size"], sr["size"])],
            ["Block bytes (MB)", num(sd["info"]["stored_bytes"] / MB),
             num(sr["info"]["stored_bytes"] / MB),
             ratio(sd["info"]["stored_bytes"], sr["info"]["stored_bytes"])],
            ["Conversion MB/s, 1 thread", num(mbps(sd["j1"]["wall"])), num(mbps(sr["j1"]["wall"])),
             ratio(mbps(sd["j1"]["wall"]), mbps(sr["j1"]["wall"]))],
            [f"Conversion MB/s, {cores} threads", num(mbps(sd["jn"]["wall"])),
             num(mbps(sr["jn"]["wall"])), ratio(mbps(sd["jn"]["wall"]), mbps(sr["jn"]["wall"]))],
            ["Export MB/s", num(mbps(sd["export"]["wall"])), num(mbps(sr["export"]["wall"])),
             ratio(mbps(sd["export"]["wall"]), mbps(sr["export"]["wall"]))],
            ["Get by position p50 ÷ SQLite's (goal ≤ 10×)",
             ratio(qd["get_pos_p50_us"], res["sqlite"]["query"]["get_pos_p50_us"]),
             ratio(qr["get_pos_p50_us"], res["sqlite"]["query"]["get_pos_p50_us"]), ""],
            ["Get by position p50 (µs)", num(qd["get_pos_p50_us"]), num(qr["get_pos_p50_us"]),
             ratio(qd["get_pos_p50_us"], qr["get_pos_p50_us"])],
            ["Get by id p50 (µs)", num(qd["get_id_p50_us"]), num(qr["get_id_p50_us"]),
             ratio(qd["get_id_p50_us"], qr["get_id_p50_us"])]]
    L.append(table(["Metric", "columnar", "rows", "Ratio"], rows, "lrrr"))
    L.append("")
    L.append(f"Where the bytes of the columnar blocks go, measured by `bench/colstat` on the default "
             f"archive: its {cs['blocks']:,} blocks re-encoded in columns, each stream compressed "
             f"on its own at zstd level {cs['level']} without the dictionary "
             f"({cs['streams_apart_zstd']:,} bytes in all; the same blocks compressed whole: "
             f"rows {cs['rows_zstd']:,}, columns {cs['columns_zstd']:,}; the archive's blocks, "
             f"with the dictionary: {sd['info']['stored_bytes']:,}). Streams compressed apart cost "
             "a little more than together, so read the shares, not the bytes.")
    L.append("")
    tot = cs["streams_apart_zstd"] or 1
    rows = [[g["group"], f"{g['raw']:,}", f"{g['zstd']:,}", f"{100.0 * g['zstd'] / tot:.1f}%"]
            for g in cs["groups"]]
    L.append(table(["Field group", "Column bytes", "zstd bytes", "Share"], rows, "lrrr"))
    L.append("")

    # ---- SQL over the archive
    L.extend(sql_report(ctx))

    # ---- lookups from several threads
    L.append("## Lookups from several threads (gets per second, warm file)")
    L.append("")
    rows = []
    starved = False
    for title, q in (("steparc default", mtd), ("SQLite", mts)):
        for t in ctx["mt_counts"]:
            busy = [q.get(f"mt_{k}_{t}_busy") for k in ("pos", "id")]
            if title.startswith("steparc") and any(b is not None and b < 0.9 * t for b in busy):
                starved = True
            rows.append([title, str(t),
                         num(q.get(f"mt_pos_{t}")), ratio(q.get(f"mt_pos_{t}"), q.get("mt_pos_1")),
                         num(q.get(f"mt_id_{t}")), ratio(q.get(f"mt_id_{t}"), q.get("mt_id_1")),
                         " / ".join("—" if b is None else f"{b:.2f}" for b in busy),
                         str(q["runs"])])
    L.append(table(["Store", "Threads", "Get by position (gets/s)", "Speed-up",
                    "Get by id (gets/s)", "Speed-up", "Cores busy (position / id)", "Runs"],
                   rows, "llrrrrrr"))
    L.append("")
    L.append("T threads make gets at once: steparc shares one `steparc_reader` among them "
             "(its lookups may be called from any thread; its block cache is locked), each "
             "thread with its own output buffer; SQLite gives each thread its own read-only "
             "connection. After the same 200-read warm-up, for each T every thread makes "
             f"{args.gets:,} gets by random position, then (all threads again from a barrier) "
             f"{args.gets:,} gets by random id, each thread with its own random sequence; a get "
             "returns the record's JSON, as above. Gets/s = every thread's gets over the time "
             "from the first thread's start to the last one's finish; speed-up = gets/s with T "
             "threads ÷ with 1; cores busy = the process's CPU time over that span (T when "
             "no thread ever waited). Median of the runs; steparc default archive only (a get "
             "from the max archive decompresses a 4 MiB block).")
    if any((speedup(mts, k, t) or 0) > 1.05 * t for k in ("pos", "id") for t in ctx["mt_counts"]):
        L.append("")
        L.append("SQLite's speed-up can exceed its thread count, most likely because its "
                 "connections in one process share their file locks: a read takes and drops a "
                 "shared POSIX lock "
                 "(`fcntl`) on the database, and while another connection of the process "
                 "holds one, SQLite only counts it, with no system call (when this table was "
                 "added, strace counted 4 `fcntl` calls per get with one thread and 0.3 with two).")
    if starved:
        L.append("")
        L.append("**steparc's threads kept fewer cores busy than there were threads: either "
                 "other work was running on the machine (then the speed-ups above understate "
                 "what the cores give) or the threads waited for each other.**")
    L.append("")
    return "\n".join(L)


def sql_report(ctx):
    res, args = ctx["res"], ctx["args"]
    e = res["sql"]
    q = e["q"]
    n = q["n"]
    L = ["## SQL over the archive (the extension against native SQLite)", ""]
    us = lambda s: s * 1e6 / n  # noqa: E731
    rows = [["by id (`WHERE id = ?`)", f"{us(q['id_ext_s']):.1f} µs", f"{us(q['id_native_s']):.1f} µs",
             ratio(q["id_ext_s"], q["id_native_s"]), "—"],
            ["by thread (`WHERE thread_id = ?`)", f"{us(q['thread_ext_s']):.1f} µs",
             f"{us(q['thread_native_s']):.1f} µs", ratio(q["thread_ext_s"], q["thread_native_s"]), "—"],
            ["tokens per thread (`GROUP BY thread_id`, every step)",
             f"{q['agg_ext_s'] * 1e3:.1f} ms", f"{q['agg_native_s'] * 1e3:.1f} ms",
             ratio(q["agg_ext_s"], q["agg_native_s"]),
             f"{e['jq']['wall'] * 1e3:.1f} ms ({ratio(e['jq']['wall'], q['agg_ext_s'])} the extension)"]]
    L.append(table(["Query", "Extension (`steparc_steps(FILE)`)", "Native SQLite, indexed",
                    "Extension ÷ native", "jq over the JSONL"], rows, "lrrrr"))
    L.append("")
    L.append(f"`bench/sql_bench` loads `build/steparc_sqlite.so` into one SQLite connection on "
             f"the database `steparc export --sqlite` wrote from the default archive "
             f"({e['size'] / MB:.1f} MB, written in {e['export']['wall']:.2f} s), then makes "
             f"{n:,} lookups by random id and {n:,} by random thread on each store (statements "
             "prepared once, every row's json read; the lookups by id return "
             f"{q['id_rows']:,} rows, by thread {q['thread_rows']:,}), then the aggregate "
             f"({q['agg_groups']:,} groups); the two stores must give the same rows. Times are "
             f"in-process, median of {q['runs']} runs; per lookup for the lookups. The goal for "
             "the lookups is within 10× of native SQLite. jq's time is the whole process "
             "(`jq -n 'reduce inputs ...'` over the corpus JSONL: start-up and JSON parsing "
             "included), the way it is used.")
    L.append("")
    return L


def speedup(q, key, t):
    """Gets/s with t threads over gets/s with 1 (key: pos or id)."""
    a, b = q.get(f"mt_{key}_{t}"), q.get(f"mt_{key}_1")
    return a / b if a is not None and b else None


def main(argv=None):
    ap = argparse.ArgumentParser(description="steparc benchmarks (issue 6)")
    ap.add_argument("--build", default="build", help="build directory (programs)")
    ap.add_argument("--work", default=None, help="scratch directory (default BUILD/bench-data)")
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--gets", type=int, default=5000)
    ap.add_argument("--finds", type=int, default=500)
    ap.add_argument("--opens", type=int, default=1000)
    ap.add_argument("--sql", type=int, default=2000, help="SQL lookups by id and by thread")
    ap.add_argument("--slow", type=float, default=30.0,
                    help="a command whose first run takes longer (s) runs once")
    ap.add_argument("--max-flags", default="--level 19 --block-size 4194304")
    ap.add_argument("--out", default="docs/BENCHMARKS.md")
    ap.add_argument("--svg", default="docs/bench_size_speed.svg")
    ap.add_argument("--no-verify", dest="verify", action="store_false",
                    help="skip the untimed lossless checks")
    args = ap.parse_args(argv)
    if args.records < 10 or args.repeat < 1 or args.gets < 1 or args.finds < 1 or args.opens < 1:
        ap.error("--records must be at least 10; --repeat, --gets, --finds, --opens at least 1")
    args.work = args.work or os.path.join(args.build, "bench-data")
    args.steparc = os.path.abspath(os.path.join(args.build, "steparc"))
    args.lookup = os.path.abspath(os.path.join(args.build, "bench", "lookup_bench"))
    args.sqlite = os.path.abspath(os.path.join(args.build, "bench", "sqlite_bench"))
    args.mpz = os.path.abspath(os.path.join(args.build, "bench", "mpz_bench"))
    args.colstat = os.path.abspath(os.path.join(args.build, "bench", "colstat"))
    args.sqlbench = os.path.abspath(os.path.join(args.build, "bench", "sql_bench"))
    args.ext = os.path.abspath(os.path.join(args.build, "steparc_sqlite"))
    try:
        run_bench(args)
    except BenchError as e:
        log(f"bench: FAILED: {e}")
        return 1
    except KeyboardInterrupt:
        log("bench: interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
