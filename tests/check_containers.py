#!/usr/bin/env python3
"""Checks an archive converted from a tests/gen_history.py output against the
truth: every run step of the truth is in the archive exactly once, equal to
its final record in canonical JSON (as tests/canon.py writes it), no step is
in the archive that the truth lacks, and the converter found exactly the
truth's non-step objects (the "not_a_step" count of its --report, until
those kinds are archived).  Standard library only.

Usage: check_containers.py TRUTH CAT_OUTPUT REPORT
CAT_OUTPUT is `steparc cat ARCHIVE`, REPORT `convert --report`'s file.
Prints one line per problem and exits 1 if any; prints "ok N steps" otherwise.
"""
import json
import sys


def canon(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def main(argv):
    truth = json.load(open(argv[0], encoding="utf-8"))
    problems = []
    want = {k: canon(o["record"]) for k, o in truth["objects"].items() if o["kind"] == "thread.run.step"}
    seen = {}
    with open(argv[1], encoding="utf-8", newline="\n") as f:
        for line in f.read().split("\n"):
            if not line:
                continue
            rec = json.loads(line)
            if rec.get("object") != "thread.run.step":
                continue
            seen.setdefault(rec.get("id"), []).append(canon(rec))
    for k, w in want.items():
        got = seen.get(k, [])
        if len(got) != 1:
            problems.append("step %s: %d times in the archive" % (k, len(got)))
        elif got[0] != w:
            problems.append("step %s: record differs: %s" % (k, got[0][:200]))
    for k in seen:
        if k not in want:
            problems.append("step %s: in the archive, not in the truth" % k)
    others = sum(n for kind, n in truth["counts"].items() if kind != "thread.run.step")
    rep = json.load(open(argv[2], encoding="utf-8"))
    # records written that are not steps: the kinds archived once the converter archives them
    nsteps = sum(len(v) for v in seen.values())
    found = rep["skipped"]["not_a_step"] + rep["records"] - nsteps
    if found != others:
        problems.append("non-step objects found: %d, the truth has %d" % (found, others))
    for p in problems[:20]:
        print(p)
    if problems:
        return 1
    print("ok %d steps" % len(want))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
