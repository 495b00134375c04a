#!/usr/bin/env python3
"""Converts a tests/gen_history.py output and checks the archive against the
generator's --truth file (tests/cli/test_history.sh runs it for several seeds
and shapes).

Usage (through checks.py): history-archive NAME BIN SHAPE TRUTH INPUT WORKDIR

1. `convert --keep-duplicates`: every snapshot the converter found is in the
   archive, in input order. `cat` it; per key (the id; "<vector_store_id>/<id>"
   for a vector_store.file) the final state is the most advanced one
   (testlib.state_rank, the writer's dedup ranks), the last among equals. It must equal the truth's FINAL record byte for byte
   in canonical JSON (tests/canon.py's form, testlib.dumps), every truth key
   must be there and no other; every kind of the truth is present; rebuilt
   messages (streams cut before thread.message.completed) equal the truth's
   snapshot plus joined deltas. `cat --via-struct` prints the same bytes.
2. The convert summary (--report by_kind and the "archived N records: ..."
   line) counts each kind as the truth does: from run 1 for shapes that hold
   each object once (export, jsonl); for event streams, which repeat
   snapshots, from a second convert with the default dedup, whose records
   must then be exactly the truth's final records too. The report's rebuilt
   counts equal the truth's rebuilt steps and messages.
Prints PASS/FAIL lines named NAME_*."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402
from testlib import check, dumps  # noqa: E402

TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}
SHORT = {"thread.run.step": "step", "thread.message": "message", "thread.run": "run",
         "thread": "thread", "assistant": "assistant", "file": "file",
         "vector_store": "vector_store", "vector_store.file": "vector_store_file"}
PLURAL = {"step": "steps", "message": "messages", "run": "runs", "thread": "threads",
          "assistant": "assistants", "file": "files", "vector_store": "vector stores",
          "vector_store_file": "vector store files"}


def key_of(rec):
    if rec.get("object") == "vector_store.file":
        return "%s/%s" % (rec.get("vector_store_id"), rec.get("id"))
    return rec.get("id")


def convert(bin_, inp, out, report, extra):
    rc, _, err = testlib.run(bin_, ["convert", "--report", report] + extra + [inp, "-o", out])
    return rc, err.decode("utf-8", "replace")


def cat(bin_, arc, *opts):
    rc, out, err = testlib.run(bin_, ["cat"] + list(opts) + [arc])
    return rc, testlib.lines_of(out.decode("utf-8"))


def finals(lines):
    """key -> canonical JSON of its final record (the most advanced state, as the
    writer's dedup ranks it: testlib.state_rank; the last among equals)."""
    best = {}
    for line in lines:
        rec = json.loads(line)
        k = key_of(rec)
        cur = best.get(k)
        if cur is None or testlib.state_rank(rec) >= cur[0]:
            best[k] = (testlib.state_rank(rec), line)
    return {k: v[1] for k, v in best.items()}


def summary_counts(err):
    """{short kind: n} from the summary's "archived N records: ..." line."""
    m = re.search(r"archived ([\d,]+) records: (.*)", err)
    if not m:
        return None
    out = {}
    for part in m.group(2).split(", "):
        n, _, plural = part.partition(" ")
        kind = next((k for k, p in PLURAL.items() if p == plural.strip()), plural)
        out[kind] = int(n.replace(",", ""))
    return out


def compare(name, got, truth):
    """got: key -> canonical line; truth: the truth's objects."""
    missing = [k for k in truth if k not in got]
    extra = [k for k in got if k not in truth]
    differ = [k for k in truth if k in got and got[k] != dumps(truth[k]["record"])]
    why = "%d missing %s, %d extra %s, %d differ %s" % (len(missing), missing[:3], len(extra),
                                                        extra[:3], len(differ), differ[:3])
    if differ:
        k = differ[0]
        why += "\n    got  %s\n    want %s" % (testlib.short(got[k], 300),
                                                 testlib.short(dumps(truth[k]["record"]), 300))
    return check(name, not (missing or extra or differ), why)


def want_counts(truth):
    return {SHORT[k]: n for k, n in truth["counts"].items() if n}


def check_counts(name, report_path, err, truth):
    want = want_counts(truth)
    rep = testlib.read_json(report_path)
    check(name + "_report_by_kind", rep.get("by_kind") == want,
          "report %s, truth %s" % (rep.get("by_kind"), want))
    got = summary_counts(err)
    check(name + "_summary_by_kind", got == want, "summary %r, truth %s" % (got, want))
    return rep


def main(argv):
    name, bin_, shape, truth_path, inp, wd = argv
    truth = testlib.read_json(truth_path)
    objs = truth["objects"]
    stream = shape == "sse"
    # 1. every snapshot kept
    kd, rep_kd = os.path.join(wd, "kd.steparc"), os.path.join(wd, "kd.report")
    rc, err = convert(bin_, inp, kd, rep_kd, ["--keep-duplicates"])
    if not check(name + "_convert", rc == 0, "exit %s: %s" % (rc, testlib.short(err, 400))):
        return 1
    rc, lines = cat(bin_, kd)
    got = finals(lines)
    compare(name + "_records_equal_truth", got, objs)
    kinds = {o["kind"] for o in objs.values()}
    want_kinds = {k for k, n in truth["counts"].items() if n}
    seen = {json.loads(l).get("object") for l in lines}
    seen = {"thread.run.step" if s == "assistant.run.step" else s for s in seen}
    check(name + "_every_kind", want_kinds <= seen and kinds == want_kinds,
          "archive kinds %s, truth kinds %s" % (sorted(seen), sorted(want_kinds)))
    rebuilt = {k: o for k, o in objs.items() if o.get("rebuilt")}
    rb_msgs = {k: o for k, o in rebuilt.items() if o["kind"] == "thread.message"}
    if rb_msgs:
        compare(name + "_rebuilt_messages_equal_deltas", {k: got.get(k) for k in rb_msgs if k in got},
                rb_msgs)
    rc2, vlines = cat(bin_, kd, "--via-struct")
    check(name + "_cat_via_struct", rc2 == 0 and vlines == lines,
          "exit %s; %d vs %d lines, first difference at %s" % (
              rc2, len(vlines), len(lines),
              next((i for i, (a, b) in enumerate(zip(vlines, lines)) if a != b), "the end")))
    # 2. the summary's counts
    if stream:
        dd, rep_dd = os.path.join(wd, "dd.steparc"), os.path.join(wd, "dd.report")
        rc, err = convert(bin_, inp, dd, rep_dd, [])
        if not check(name + "_convert_dedup", rc == 0, "exit %s: %s" % (rc, testlib.short(err, 400))):
            return 1
        rep = check_counts(name, rep_dd, err, truth)
        rc, dlines = cat(bin_, dd)
        compare(name + "_dedup_records_equal_truth", {key_of(json.loads(l)): l for l in dlines}, objs)
        check(name + "_dedup_one_per_key", len(dlines) == len(objs),
              "%d records for %d objects" % (len(dlines), len(objs)))
    else:
        rep = check_counts(name, rep_kd, err, truth)
    n_steps = sum(1 for o in rebuilt.values() if o["kind"] == "thread.run.step")
    check(name + "_rebuilt_counts",
          rep.get("messages_rebuilt_from_deltas") == len(rb_msgs) and rep.get("rebuilt_from_deltas") == n_steps,
          "report: %s messages, %s steps rebuilt; truth %d, %d" % (
              rep.get("messages_rebuilt_from_deltas"), rep.get("rebuilt_from_deltas"), len(rb_msgs), n_steps))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
