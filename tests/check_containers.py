#!/usr/bin/env python3
"""Checks an archive converted from a tests/gen_history.py output against the
truth: every object of the truth (every kind) is in the archive exactly once,
equal to its final record in canonical JSON (as tests/canon.py writes it), no
object is in the archive that the truth lacks, and the converter skipped no
object of a record kind.  Standard library only.

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
    want = {k: canon(o["record"]) for k, o in truth["objects"].items()}
    seen = {}
    with open(argv[1], encoding="utf-8", newline="\n") as f:
        for line in f.read().split("\n"):
            if not line:
                continue
            rec = json.loads(line)
            key = rec.get("id")
            if rec.get("object") == "vector_store.file":  # its id is the file's
                key = "%s/%s" % (rec.get("vector_store_id"), key)
            seen.setdefault(key, []).append(canon(rec))
    for k, w in want.items():
        got = seen.get(k, [])
        if len(got) != 1:
            problems.append("%s: %d times in the archive" % (k, len(got)))
        elif got[0] != w:
            problems.append("%s: record differs: %s" % (k, got[0][:200]))
    for k in seen:
        if k not in want:
            problems.append("%s: in the archive, not in the truth" % k)
    rep = json.load(open(argv[2], encoding="utf-8"))
    for why in ("not_a_step", "no_id"):
        if rep["skipped"].get(why):
            problems.append("%d objects skipped as %s" % (rep["skipped"][why], why))
    for p in problems[:20]:
        print(p)
    if problems:
        return 1
    print("ok %d objects" % len(want))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
