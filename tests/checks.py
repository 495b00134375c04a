#!/usr/bin/env python3
"""The Python side of the command-line tests (tests/cli/*.sh), one entry point:

    python3 tests/checks.py NAME ARGS...

The small checks are functions here (their script in the name); the large
drivers, which print their own PASS/FAIL lines, are modules of their own
(check_read.py, check_recover.py, check_compat.py, check_damage.py,
check_roundtrip.py, check_kinds.py, check_history_archive.py,
check_rewrite.py). Shared helpers: testlib.py.
Standard library only."""

import collections
import importlib
import json
import os
import random
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402
from testlib import read_jsonl  # noqa: E402

COMMANDS = {}


def command(name):
    def reg(fn):
        COMMANDS[name] = fn
        return fn
    return reg


def driver(name, module, func="main"):
    """NAME runs module.func(argv), imported only when asked for."""
    COMMANDS[name] = lambda argv: getattr(importlib.import_module(module), func)(argv)


driver("read", "check_read")
driver("recover", "check_recover")
driver("compat", "check_compat")
driver("damage", "check_damage")
driver("roundtrip-prep", "check_roundtrip", "prep_main")
driver("roundtrip-queries", "check_roundtrip", "queries_main")
driver("kinds", "check_kinds")
driver("history-archive", "check_history_archive")
driver("audit", "check_audit")
driver("rewrite", "check_rewrite")


def cat_lines(bin_, arc):
    """`steparc cat ARC` as text lines (split on "\\n" only: U+2028)."""
    out = subprocess.run([bin_, "cat", arc], capture_output=True).stdout
    return out.decode().split("\n")[:-1]


# ---- generic ------------------------------------------------------------------------------

@command("json-field")
def json_field(argv):
    """json-field FILE|- KEY: prints the value of KEY of the JSON object in FILE."""
    doc = json.load(sys.stdin) if argv[0] == "-" else testlib.read_json(argv[0])
    print(doc[argv[1]])


# ---- test_dedup.sh ------------------------------------------------------------------------

@command("dedup-nonempty-dups")
def dedup_nonempty_dups(argv):
    """JSONL: how many non-empty ids occur more than once."""
    ids = [r["id"] for r in read_jsonl(argv[0])]
    print(sum(1 for k, v in collections.Counter(ids).items() if v > 1 and k != ""))


@command("dedup-named-count")
def dedup_named_count(argv):
    """JSONL: how many records have a non-empty id."""
    print(sum(1 for r in read_jsonl(argv[0]) if r["id"] != ""))


@command("dedup-twice-vs-once")
def dedup_twice_vs_once(argv):
    """TWICE ONCE (cat outputs): the named records are the same; the ones with
    an empty id are never merged, so they appear twice."""
    t = open(argv[0]).readlines()
    o = open(argv[1]).readlines()
    empty = [l for l in o if json.loads(l)["id"] == ""]
    named = [l for l in o if json.loads(l)["id"] != ""]
    t_named = [l for l in t if json.loads(l)["id"] != ""]
    print("ok" if t_named == named and len(t) == len(o) + len(empty) else "bad")


@command("dedup-field-n")
def dedup_field_n(argv):
    """reads cat output on stdin: its "n" fields, comma-separated."""
    print(",".join(str(json.loads(l)["n"]) for l in sys.stdin))


@command("dedup-named-equal")
def dedup_named_equal(argv):
    """BIN A B: the archives hold the same run steps with a non-empty id (the
    other kinds' events differ between a full stream and its final states)."""
    s, f = cat_lines(argv[0], argv[1]), cat_lines(argv[0], argv[2])
    named = lambda ls: [l for l in ls if json.loads(l)["id"] != ""  # noqa: E731
                        and json.loads(l).get("object") == "thread.run.step"]
    print("ok" if named(s) == named(f) else "bad %d %d" % (len(named(s)), len(named(f))))


@command("dedup-sparse-input")
def dedup_sparse_input(argv):
    """IN OUT: the records of IN with a unique non-empty id, with exact copies
    of 6 of them inserted later on (the copies win, the earlier ones go)."""
    lines = [l for l in open(argv[0], encoding="utf-8")]
    ids = [json.loads(l)["id"] for l in lines]
    count = collections.Counter(ids)
    uniq = [l for l, i in zip(lines, ids) if i != "" and count[i] == 1]
    rnd = random.Random(5)
    picks = sorted(rnd.sample(range(len(uniq) // 2), 6))
    out = list(uniq)
    for k, p in enumerate(picks):
        out.insert(len(uniq) // 2 + 150 * k + 3, uniq[p])
    open(argv[1], "w", encoding="utf-8").writelines(out)


@command("dedup-sparse-check")
def dedup_sparse_check(argv):
    """SRC CAT_OUT BIN ARC: the archive holds the last copy of each id, in
    order, and find --id finds every 37th of them."""
    src = read_jsonl(argv[0])
    last = {}
    for k, r in enumerate(src):
        last[r["id"]] = k
    keep = [r for k, r in enumerate(src) if last[r["id"]] == k]
    got = read_jsonl(argv[1])
    bad = 0
    for r in keep[::37]:
        out = subprocess.run([argv[2], "find", argv[3], "--id", r["id"]], capture_output=True).stdout
        if out.count(b"\n") != 1 or json.loads(out) != r:
            bad += 1
    print("ok" if got == keep and len(keep) == len(src) - 6 and bad == 0
          else "bad: %d records, %d expected, %d finds wrong" % (len(got), len(keep), bad))


# ---- test_deltas.sh -----------------------------------------------------------------------

FINAL_EVENTS = ("thread.run.step.completed", "thread.run.step.failed", "thread.run.step.cancelled",
                "thread.run.step.expired")


@command("deltas-cut")
def deltas_cut(argv):
    """FULL CUT IDS: CUT is the SSE stream FULL without the final step event
    (completed/failed/cancelled/expired) of tool steps; IDS lists those steps."""
    lines = open(argv[0], encoding="utf-8").read().split("\n")
    out, cut, i = [], [], 0
    while i < len(lines):
        l = lines[i]
        if l.startswith("event: ") and l[7:] in FINAL_EVENTS and i + 1 < len(lines):
            d = json.loads(lines[i + 1][5:].strip())
            if d.get("type") == "tool_calls" and d.get("id"):
                cut.append(d["id"])
                i += 2
                continue
        out.append(l)
        i += 1
    open(argv[1], "w", encoding="utf-8").write("\n".join(out))
    open(argv[2], "w").write("\n".join(cut) + "\n")


def tool_texts(step):
    out = []
    for tc in (step.get("step_details") or {}).get("tool_calls") or []:
        if not isinstance(tc, dict):
            continue
        f = tc.get("function")
        if isinstance(f, dict):
            out.append(("fn", tc.get("id"), f.get("name"), f.get("arguments")))
        ci = tc.get("code_interpreter")
        if isinstance(ci, dict):
            out.append(("ci", tc.get("id"), ci.get("input")))
    return out


@command("deltas-compare")
def deltas_compare(argv):
    """FULL_OUT CUT_OUT IDS REPORT: the cut steps' function calls and code
    inputs equal the full stream's; last line "checked N bad N rebuilt N"."""
    full, cut = {}, {}
    for r in read_jsonl(argv[0]):
        full.setdefault(r["id"], r)
    for r in read_jsonl(argv[1]):
        cut.setdefault(r["id"], r)
    ids = [x for x in open(argv[2]).read().split() if x]
    rep = testlib.read_json(argv[3])
    checked = bad = 0
    for i in ids:
        if i not in cut or i not in full:
            bad += 1
            print("missing", i)
            continue
        a, b = tool_texts(full[i]), tool_texts(cut[i])
        if a and b:
            checked += 1
            if a != b:
                bad += 1
                print("differs", i, a[:1], b[:1])
    print("checked", checked, "bad", bad, "rebuilt", rep.get("rebuilt_from_deltas"))


# ---- test_floats.sh -----------------------------------------------------------------------

def from_bits(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def bits_of(v):
    return struct.unpack("<Q", struct.pack("<d", v))[0]


@command("floats-gen")
def floats_gen(argv):
    """SEED: records of 50 doubles each: random bit patterns, scores, short
    decimals, powers of two and ten and their neighbours, extremes."""
    r = random.Random(int(argv[0]))
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
        vals.extend([p, from_bits(bits_of(p) + 1)])
        if e > -1074:
            vals.append(from_bits(bits_of(p) - 1))
    for e in range(-323, 309):
        vals.append(float("1e%d" % e))
    vals += [0.0, -0.0, 5e-324, 2.2250738585072014e-308, 2.2250738585072009e-308,
             1.7976931348623157e308, 9007199254740993.0, 0.30000000000000004, 1e16, 1e15, 1e-4, 1e-5]
    for i in range(0, len(vals), 50):
        print(json.dumps({"id": "f%d" % i, "object": "thread.run.step", "v": vals[i:i + 50]}))


@command("floats-diff")
def floats_diff(argv):
    """OUT EXP: prints the first 10 doubles whose text differs."""
    a = open(argv[0]).read().split("\n")
    b = open(argv[1]).read().split("\n")
    shown = 0
    for x, y in zip(a, b):
        if x != y and x and y:
            for p, q in zip(json.loads(x, parse_float=str)["v"], json.loads(y, parse_float=str)["v"]):
                if p != q and shown < 10:
                    print("  steparc %s, python %s" % (p, q))
                    shown += 1


# ---- test_crash.sh ------------------------------------------------------------------------

@command("crash-delays")
def crash_delays(argv):
    """SEED TRIALS: one kill delay (seconds, 0 to 0.12) per line."""
    r = random.Random(int(argv[0]))
    for _ in range(int(argv[1])):
        print("%.4f" % r.uniform(0.0, 0.12))


# ---- test_install.sh ----------------------------------------------------------------------

@command("install-write-structs")
def install_write_structs(argv):
    """OUT: examples/write_structs printed three run steps (exit 1 if not)."""
    recs = read_jsonl(argv[0])
    if not (len(recs) == 3 and all(r["object"] == "thread.run.step" for r in recs)):
        sys.stderr.write("write_structs: %d records, want 3 run steps\n" % len(recs))
        return 1
    return 0


def main(argv):
    if not argv or argv[0] not in COMMANDS:
        sys.stderr.write("usage: checks.py NAME ARGS...; NAME is one of: %s\n" % " ".join(sorted(COMMANDS)))
        return 2
    return COMMANDS[argv[0]](argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
