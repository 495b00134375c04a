"""check_audit.py - `steparc audit` and `steparc files` (issue 14) against
generated histories with known holes (tests/gen_history.py --holes --truth)
and against a brute-force scan of every record (`steparc cat`), by the rules
of docs/AUDIT.md (tests/cli/test_audit.sh).

    python3 tests/checks.py audit BIN WORKDIR
"""

import csv
import io
import json
import os
import subprocess
import sys

from testlib import check, run

HERE = os.path.dirname(os.path.abspath(__file__))
OBJECTS = {"thread.run.step": "step", "assistant.run.step": "step", "thread.message": "message",
           "thread.run": "run", "thread": "thread", "assistant": "assistant", "file": "file",
           "vector_store": "vector_store", "vector_store.file": "vector_store_file"}
CODES = ["missing_message", "missing_run", "missing_thread", "run_without_steps",
         "steps_page_full", "messages_page_full", "file_search_without_content",
         "function_without_output", "not_terminal", "completed_before_created"]
FINDING_KEYS = ["code", "severity", "count", "ids", "what", "advice"]
REF_KINDS = ["file", "vector_store_file", "attachment", "file_ids", "image_file", "file_citation",
             "file_path", "code_interpreter_image", "file_search_result", "tool_resources"]
STEP_TERMINAL = {"completed", "failed", "cancelled", "expired"}
RUN_OPEN = {"queued", "in_progress", "requires_action", "cancelling"}


def kind_of(r):
    o = r.get("object")
    return OBJECTS.get(o, "other") if isinstance(o, str) else "other"


def s(v):
    return v if isinstance(v, str) else None


def i64(v):
    ok = isinstance(v, int) and not isinstance(v, bool) and -2 ** 63 <= v < 2 ** 63
    return v if ok else None


def d(v, *keys):
    for k in keys:
        v = v.get(k) if isinstance(v, dict) else None
    return v


def arr(v):
    return v if isinstance(v, list) else []


def records(bin_, arc):
    out = subprocess.run([bin_, "cat", arc], capture_output=True, check=True).stdout
    return [json.loads(x) for x in out.decode().split("\n")[:-1]]


# ---- audit by brute force -------------------------------------------------------------------

def expected_audit(recs):
    found = {c: set() for c in CODES}
    present = {"message": set(), "run": set(), "thread": set()}
    ref = {"message": set(), "run": set(), "thread": set()}
    steps_per_run, msgs_per_thread = {}, {}
    for r in recs:
        k, rid, st = kind_of(r), s(r.get("id")), r.get("status")
        c, done = i64(r.get("created_at")), i64(r.get("completed_at"))
        flag = (lambda code: found[code].add(rid)) if rid is not None else (lambda code: None)
        if c is not None and done is not None and done < c:
            flag("completed_before_created")
        if k in ("step", "message") and st == "in_progress" or k == "run" and st in RUN_OPEN:
            flag("not_terminal")
        if k in present and rid is not None:
            present[k].add(rid)
        if k in ("step", "message", "run") and s(r.get("thread_id")):
            ref["thread"].add(r["thread_id"])
        if k in ("step", "message") and s(r.get("run_id")):
            ref["run"].add(r["run_id"])
        if k == "message" and s(r.get("thread_id")):
            msgs_per_thread[r["thread_id"]] = msgs_per_thread.get(r["thread_id"], 0) + 1
        if k != "step":
            continue
        if s(r.get("run_id")):
            steps_per_run[r["run_id"]] = steps_per_run.get(r["run_id"], 0) + 1
        mid = s(d(r, "step_details", "message_creation", "message_id"))
        if mid:
            ref["message"].add(mid)
        for call in arr(d(r, "step_details", "tool_calls")):
            for res in arr(d(call, "file_search", "results")):
                if isinstance(res, dict) and res.get("content") is None:
                    flag("file_search_without_content")
            fn = d(call, "function")
            if st in STEP_TERMINAL and isinstance(fn, dict) and fn.get("output") is None:
                flag("function_without_output")
    for k in ("message", "run", "thread"):
        found["missing_" + k] = ref[k] - present[k]
    found["run_without_steps"] = {x for x in present["run"] if x not in steps_per_run}
    found["steps_page_full"] = {x for x, n in steps_per_run.items() if n == 20}
    found["messages_page_full"] = {x for x, n in msgs_per_thread.items() if n in (20, 100)}
    return found


def audit_json(bin_, arc, *opts):
    rc, out, err = run(bin_, ["audit", arc, "--json"] + list(opts))
    try:
        return rc, json.loads(out)
    except ValueError:
        return rc, {"error": err.decode(errors="replace")}


def schema_ok(doc, nrec):
    if list(doc) != ["archive", "records", "findings", "not_known"] or doc["records"] != nrec:
        return "top level %r" % list(doc)
    codes = [f.get("code") for f in doc["findings"]]
    if any(c not in CODES for c in codes) or codes != sorted(codes, key=CODES.index):
        return "codes %r not in the fixed order" % codes
    for f in doc["findings"]:
        if list(f) != FINDING_KEYS or f["severity"] not in ("warning", "info") or f["count"] < 1:
            return "finding %r" % f
        if not all(isinstance(x, str) for x in f["ids"]) or not f["advice"].endswith("."):
            return "finding %r" % f
    if [u.get("code") for u in doc["not_known"]] != ["duplicates_merged", "stream_errors"]:
        return "not_known %r" % doc["not_known"]
    return None


def by_code(doc):
    return {f["code"]: f for f in doc["findings"]}


def check_audit(bin_, tag, arc, truth, recs, holes):
    rc, doc = audit_json(bin_, arc, "--ids", "0")
    why = schema_ok(doc, len(recs)) if rc == 0 and "findings" in doc else "exit %s %r" % (rc, doc)
    check("audit-%s-schema" % tag, why is None, why)
    if why:
        return
    got = {c: set(f["ids"]) for c, f in by_code(doc).items()}
    counts_ok = all(f["count"] == len(f["ids"]) == len(set(f["ids"])) for f in doc["findings"])
    check("audit-%s-counts" % tag, counts_ok, "count differs from the ids listed")
    exp = expected_audit(recs)
    bad = [c for c in CODES if got.get(c, set()) != exp[c]]
    check("audit-%s-brute-force" % tag, not bad,
          "; ".join("%s: got %s want %s" % (c, sorted(got.get(c, ()))[:4], sorted(exp[c])[:4])
                    for c in bad))
    fs = set(truth["fs_without_content"])
    check("audit-%s-fs-without-content" % tag, got.get("file_search_without_content", set()) == fs,
          "truth %d steps, audit %d" % (len(fs), len(got.get("file_search_without_content", ()))))
    want = {"deleted_message": ("missing_message", "id"), "run_missing": ("missing_run", "id"),
            "steps_page_cut": ("steps_page_full", "run_id"),
            "function_without_output": ("function_without_output", "step_id")}
    miss = [h for h in truth["holes"] if h["kind"] in want
            and h[want[h["kind"]][1]] not in got.get(want[h["kind"]][0], set())]
    if holes:
        kinds = {h["kind"] for h in truth["holes"]}
        check("audit-%s-holes" % tag, not miss and set(want) <= kinds,
              "holes not found: %r (truth kinds %r)" % (miss, sorted(kinds)))
    else:
        hole_codes = [c for c in ("missing_message", "missing_run", "missing_thread") if c in got]
        check("audit-%s-no-holes" % tag, not hole_codes and not truth["holes"],
              "a clean history gives %r" % hole_codes)
    rc2, doc2 = audit_json(bin_, arc, "--ids", "2")
    ok = rc2 == 0 and [(f["code"], f["count"]) for f in doc2["findings"]] == \
        [(f["code"], f["count"]) for f in doc["findings"]] and \
        all(f["ids"] == g["ids"][:2] for f, g in zip(doc2["findings"], doc["findings"]))
    check("audit-%s-ids-limit" % tag, ok, "--ids 2 changes more than the ids listed")
    rc3, _, _ = run(bin_, ["audit", "--strict", arc])
    check("audit-%s-strict" % tag, rc3 == (1 if doc["findings"] else 0), "--strict exit %s" % rc3)
    rc4, out4, _ = run(bin_, ["audit", arc])
    text = out4.decode()
    ok = rc4 == 0 and all(f["code"] in text and f["advice"] in text for f in doc["findings"])
    check("audit-%s-text" % tag, ok, "the human report lacks a finding (exit %s)" % rc4)


# ---- files by brute force -------------------------------------------------------------------

def expected_files(recs):
    files = {}

    def ref(kind, fid, r, name=None, from_file=False):
        if not isinstance(fid, str):
            return
        e = files.setdefault(fid, {"id": fid, "name": None, "by": {}, "threads": set(),
                                   "t": [], "from_file": False})
        e["by"][kind] = e["by"].get(kind, 0) + 1
        th = r.get("id") if kind_of(r) == "thread" else r.get("thread_id")
        if isinstance(th, str):
            e["threads"].add(th)
        t = i64(r.get("created_at"))
        if t is not None:
            e["t"].append(t)
        if isinstance(name, str) and name and (e["name"] is None or from_file and not e["from_file"]):
            e["name"], e["from_file"] = name, from_file

    for r in recs:
        k = kind_of(r)
        if k == "file":
            ref("file", r.get("id"), r, r.get("filename"), True)
        if k == "vector_store_file":
            ref("vector_store_file", r.get("id"), r)
        for x in arr(r.get("file_ids")):
            ref("file_ids", x, r)
        for x in arr(d(r, "tool_resources", "code_interpreter", "file_ids")):
            ref("tool_resources", x, r)
        for a in arr(r.get("attachments")):
            ref("attachment", d(a, "file_id"), r)
        for p in arr(r.get("content")):
            ref("image_file", d(p, "image_file", "file_id"), r)
            for an in arr(d(p, "text", "annotations")):
                ref("file_citation", d(an, "file_citation", "file_id"), r)
                ref("file_path", d(an, "file_path", "file_id"), r)
        for c in arr(d(r, "step_details", "tool_calls")):
            for o in arr(d(c, "code_interpreter", "outputs")):
                ref("code_interpreter_image", d(o, "image", "file_id"), r)
            for res in arr(d(c, "file_search", "results")):
                ref("file_search_result", d(res, "file_id"), r, d(res, "file_name"))
    out = []
    for fid in sorted(files):
        e = files[fid]
        out.append({"id": fid, "name": e["name"], "references": sum(e["by"].values()),
                    "by_kind": {k: e["by"][k] for k in REF_KINDS if k in e["by"]},
                    "threads": sorted(e["threads"]),
                    "first_seen": min(e["t"]) if e["t"] else None,
                    "last_seen": max(e["t"]) if e["t"] else None})
    return out


def check_files(bin_, tag, arc, recs, truth):
    rc, out, err = run(bin_, ["files", arc, "--json"])
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    ok = rc == 0 and isinstance(doc, dict) and list(doc) == ["archive", "records", "files"]
    check("files-%s-schema" % tag, ok and doc["records"] == len(recs), "exit %s %s" % (rc, err[:200]))
    if not ok:
        return
    exp = expected_files(recs)
    got = doc["files"]
    diff = [(g, e) for g, e in zip(got, exp) if g != e]
    check("files-%s-brute-force" % tag, len(got) == len(exp) and not diff,
          "%d files, want %d; first difference %r" % (len(got), len(exp), diff[:1]))
    if truth is not None:
        ids = {f["id"] for f in got}
        # --nasty: records the converter cannot hold (--skip-invalid) are not in the archive
        kept = {r.get("id") for r in recs if kind_of(r) == "file"}
        tfiles = [v["record"] for v in truth["objects"].values()
                  if v["kind"] == "file" and v["record"]["id"] in kept]
        want = {f["id"] for f in tfiles}
        lost = [h["id"] for h in truth["holes"] if h["kind"] == "file_missing"]
        names = {f["id"]: f["name"] for f in got}
        named = all(names.get(f["id"]) == (f.get("filename") or None) for f in tfiles)
        check("files-%s-truth" % tag, want <= ids and set(lost) <= ids and named,
              "file objects or the lost file not listed, or names differ")
    rc, out, _ = run(bin_, ["files", arc, "--csv"])
    rows = list(csv.reader(io.StringIO(out.decode(), newline="")))
    head = ["file_id", "name", "references"] + REF_KINDS + ["threads", "first_seen", "last_seen"]

    def row(f):
        return [f["id"], f["name"] or "", str(f["references"])] + \
            [str(f["by_kind"].get(k, 0)) for k in REF_KINDS] + \
            [" ".join(f["threads"]), "" if f["first_seen"] is None else str(f["first_seen"]),
             "" if f["last_seen"] is None else str(f["last_seen"])]
    check("files-%s-csv" % tag, rc == 0 and rows and rows[0] == head and rows[1:] == [row(f) for f in got],
          "the CSV differs from the JSON (%d rows)" % len(rows))


# ---- driver ---------------------------------------------------------------------------------

def history(bin_, work, tag, *opts):
    out, truth = os.path.join(work, tag + ".jsonl"), os.path.join(work, tag + ".truth.json")
    with open(out, "wb") as fh:
        subprocess.run([sys.executable, os.path.join(HERE, "gen_history.py"), "--shape", "jsonl",
                        "--truth", truth] + list(opts), stdout=fh, check=True)
    arc = os.path.join(work, tag + ".steparc")
    rc, _, err = run(bin_, ["convert", "-q", "--skip-invalid", out, "-o", arc])
    if rc != 0:
        raise SystemExit("convert %s: %s" % (tag, err.decode(errors="replace")))
    with open(truth, encoding="utf-8") as fh:
        return arc, json.load(fh)


def clean_small(bin_, work):
    """A history where nothing is missing: audit --strict exits 0."""
    t = 1720000000
    recs = [{"id": "thread_a", "object": "thread", "created_at": t, "metadata": {}},
            {"id": "msg_u", "object": "thread.message", "created_at": t, "thread_id": "thread_a",
             "status": "completed", "role": "user", "content": [], "run_id": None},
            {"id": "run_a", "object": "thread.run", "created_at": t + 1, "thread_id": "thread_a",
             "status": "completed", "completed_at": t + 5},
            {"id": "msg_a", "object": "thread.message", "created_at": t + 2, "thread_id": "thread_a",
             "status": "completed", "role": "assistant", "content": [], "run_id": "run_a"},
            {"id": "step_a", "object": "thread.run.step", "created_at": t + 2, "run_id": "run_a",
             "thread_id": "thread_a", "type": "message_creation", "status": "completed",
             "completed_at": t + 3,
             "step_details": {"type": "message_creation", "message_creation": {"message_id": "msg_a"}}}]
    src, arc = os.path.join(work, "clean.jsonl"), os.path.join(work, "clean.steparc")
    with open(src, "w", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in recs))
    run(bin_, ["convert", "-q", src, "-o", arc])
    rc, doc = audit_json(bin_, arc, "--strict")
    check("audit-clean-strict", rc == 0 and doc.get("findings") == [], "exit %s %r" % (rc, doc))
    rc, out, _ = run(bin_, ["files", arc, "--csv"])
    check("files-none", rc == 0 and out.count(b"\r\n") == 1, "exit %s, %r" % (rc, out[:200]))


def usage(bin_, work):
    arc = os.path.join(work, "clean.steparc")
    cases = [(["audit"], 2), (["audit", arc, arc], 2), (["audit", arc, "--ids", "x"], 2),
             (["files", arc, "--json", "--csv"], 2), (["audit", os.path.join(work, "nope")], 1),
             (["files", os.path.join(work, "nope")], 1), (["audit", "--help"], 0)]
    bad = [(a, rc) for a, want in cases for rc in [run(bin_, a)[0]] if rc != want]
    check("audit-files-usage", not bad, repr(bad))


def main(argv):
    bin_, work = argv[0], argv[1]
    for tag, opts in (("holes", ["--seed", "7", "--threads", "14", "--holes"]),
                      ("clean", ["--seed", "7", "--threads", "14"]),
                      ("v1", ["--seed", "3", "--threads", "10", "--v1", "--holes"]),
                      ("nasty", ["--seed", "5", "--threads", "8", "--nasty", "--holes"])):
        arc, truth = history(bin_, work, tag, *opts)
        recs = records(bin_, arc)
        check_audit(bin_, tag, arc, truth, recs, "--holes" in opts)
        check_files(bin_, tag, arc, recs, truth)
    clean_small(bin_, work)
    usage(bin_, work)
    return 0
