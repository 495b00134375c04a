#!/usr/bin/env python3
"""Checks a tests/gen_history.py output against its --truth file, independently
of the generator's own code: parses every shape (JSON documents, concatenated
pages, JSON-in-strings, SSE framing, HAR with base64 bodies), extracts the
objects at any depth, keeps the most advanced version of each id (terminal
beats non-terminal, else capture order; in SSE the last full snapshot plus the
deltas after it), and compares with the truth; then checks the truth itself:
counts, every kind and run status present, links resolve except the holes,
and every hole is real.

Usage: check_history.py --shape SHAPE --truth FILE [--threads N] PATH
PATH is the generator's stdout file or its --out directory.  Prints one line
per problem and exits 1 if any; prints "ok N objects" otherwise.
"""

import argparse
import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402

KINDS = {"assistant", "thread", "thread.message", "thread.run", "thread.run.step", "assistant.run.step",
         "file", "vector_store", "vector_store.file"}
TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}
RUN_STATUSES = {"queued", "in_progress", "requires_action", "cancelling", "cancelled", "failed",
                "completed", "incomplete", "expired"}
problems = []


def bad(msg):
    problems.append(msg)


def docs(text, where):
    """Concatenated JSON documents in text."""
    dec = json.JSONDecoder()
    i, n, out = 0, len(text), []
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return out
        try:
            v, i = dec.raw_decode(text, i)
        except ValueError as e:
            bad("%s: bad JSON at %d: %s" % (where, i, e))
            return out
        out.append(v)


class Collector:
    def __init__(self):
        self.versions = {}    # key -> [record...] in capture order
        self.kind = {}
        self.rebuilt = set()
        self.pages = []

    def key(self, rec):
        if rec.get("object") == "vector_store.file":
            return "%s/%s" % (rec.get("vector_store_id"), rec.get("id"))
        return rec["id"]

    def add(self, rec):
        k = self.key(rec)
        kind = "thread.run.step" if rec["object"] == "assistant.run.step" else rec["object"]
        self.versions.setdefault(k, []).append(rec)
        self.kind[k] = kind
        self.rebuilt.discard(k)

    def walk(self, v):
        if isinstance(v, dict):
            if v.get("object") in KINDS and isinstance(v.get("id"), str):
                self.add(v)
                return
            if v.get("object") == "list" and "has_more" in v:
                self.pages.append(v)
            for x in v.values():
                self.walk(x)
        elif isinstance(v, list):
            for x in v:
                self.walk(x)
        elif isinstance(v, str) and v[:1] in "{[" and len(v) > 1:
            try:
                self.walk(json.loads(v))
            except ValueError:
                pass

    # ---------------------------------------------------------------- sse
    def sse(self, text, where, cut_ok):
        if not text.endswith("\n\n"):
            if not cut_ok:
                bad("%s: stream does not end with a blank line" % where)
        blocks = [b for b in text.split("\n\n") if b]
        events = []
        for b in blocks:
            name, data = None, []
            for line in b.split("\n"):
                if line.startswith(":"):
                    continue
                if line.startswith("event:"):
                    name = line[6:].lstrip(" ")
                elif line.startswith("data:"):
                    data.append(line[5:][1:] if line[5:6] == " " else line[5:])
                else:
                    bad("%s: bad SSE line %r" % (where, line[:60]))
            if name is None and not data:
                continue
            if name is None or not data:
                bad("%s: event without name or data" % where)
                continue
            events.append((name, "\n".join(data)))
        # one file may hold several streams, each ended by done
        done_seen = False
        for name, data in events:
            done_seen = False
            if name == "done":
                if data != "[DONE]":
                    bad("%s: done data %r" % (where, data))
                done_seen = True
                continue
            try:
                d = json.loads(data)
            except ValueError:
                bad("%s: event %s data is not JSON" % (where, name))
                continue
            if name == "error":
                e = d.get("error", d)
                if "message" not in e:
                    bad("%s: error event without message" % where)
                continue
            if name.endswith(".delta"):
                k = d.get("id")
                if k not in self.versions:
                    bad("%s: delta for %s before its snapshot" % (where, k))
                    continue
                merge(self.versions[k][-1], d.get("delta", {}))
                self.rebuilt.add(k)
            elif name.startswith("thread."):
                obj = d.get("object")
                want = name.rsplit(".", 1)[0] if name != "thread.created" else "thread"
                if want == "thread.run.step" and obj == "assistant.run.step":
                    obj = want
                if obj != want:
                    bad("%s: event %s carries object %r" % (where, name, obj))
                self.add(d)
            else:
                bad("%s: unknown event %s" % (where, name))
        if events and not done_seen and not cut_ok:
            bad("%s: stream not ended by done" % where)

    def final(self):
        out = {}
        for k, vs in self.versions.items():
            if k in self.rebuilt:
                r = vs[-1]
                unindex(r)
                out[k] = r
                continue
            best = None
            for v in vs:  # the most advanced state, the last among equals
                if best is None or testlib.state_rank(v) >= testlib.state_rank(best):
                    best = v
            out[k] = best
        return out


def merge(dst, src):
    for k, v in src.items():
        if k not in dst or dst[k] is None:
            dst[k] = v
        elif k in ("value", "refusal", "arguments", "input", "logs") and isinstance(dst[k], str) and isinstance(v, str):
            dst[k] += v
        elif isinstance(dst[k], dict) and isinstance(v, dict):
            merge(dst[k], v)
        elif isinstance(dst[k], list) and isinstance(v, list):
            for e in v:
                hit = None
                if isinstance(e, dict) and "index" in e:
                    hit = next((c for c in dst[k] if isinstance(c, dict) and c.get("index") == e["index"]), None)
                if hit is None:
                    dst[k].append(e)
                else:
                    merge(hit, e)
        else:
            dst[k] = v


def unindex(v):
    if isinstance(v, dict):
        v.pop("index", None)
        for x in v.values():
            unindex(x)
    elif isinstance(v, list):
        for x in v:
            unindex(x)


def files_under(p):
    if os.path.isfile(p):
        return [p]
    out = []
    for root, dirs, fs in os.walk(p):
        dirs.sort()
        for f in sorted(fs):
            out.append(os.path.join(root, f))
    return out


def collect(shape, path, cut_ok):
    c = Collector()
    for fp in files_under(path):
        text = open(fp, encoding="utf-8").read()
        if shape == "sse":
            c.sse(text, fp, cut_ok)
        elif shape == "har":
            for d in docs(text, fp):
                for n, e in enumerate(d["log"]["entries"]):
                    ct = e["response"]["content"]
                    body = ct["text"]
                    if ct.get("encoding") == "base64":
                        body = base64.b64decode(body).decode("utf-8")
                    if ct["mimeType"] == "text/event-stream":
                        c.sse(body, "%s entry %d" % (fp, n), False)
                    else:
                        for x in docs(body, "%s entry %d" % (fp, n)):
                            c.walk(x)
        else:
            for d in docs(text, fp):
                c.walk(d)
    return c


def links(rec, kind):
    """(field, target kind, target key) for every link of rec."""
    out = []

    def L(field, tk, v):
        if isinstance(v, str):
            out.append((field, tk, v))
    if kind in ("thread.message", "thread.run", "thread.run.step"):
        L("thread_id", "thread", rec.get("thread_id"))
        L("assistant_id", "assistant", rec.get("assistant_id"))
    if kind in ("thread.message", "thread.run.step"):
        L("run_id", "thread.run", rec.get("run_id"))
    for f in rec.get("file_ids") or [] if isinstance(rec.get("file_ids"), list) else []:
        L("file_ids", "file", f)
    tr = rec.get("tool_resources")
    if isinstance(tr, dict):
        for f in (tr.get("code_interpreter") or {}).get("file_ids") or []:
            L("tool_resources", "file", f)
        for v in (tr.get("file_search") or {}).get("vector_store_ids") or []:
            L("tool_resources", "vector_store", v)
    if kind == "thread.message":
        for a in rec.get("attachments") or []:
            L("attachments", "file", a.get("file_id"))
        for p in rec.get("content") or []:
            if p.get("type") == "image_file":
                L("image_file", "file", p["image_file"].get("file_id"))
            if p.get("type") == "text":
                for an in p["text"].get("annotations") or []:
                    L("annotation", "file", (an.get(an.get("type")) or {}).get("file_id"))
    if kind == "thread.run.step":
        sd = rec.get("step_details")
        if isinstance(sd, dict):
            mc = sd.get("message_creation")
            if isinstance(mc, dict):
                L("message_id", "thread.message", mc.get("message_id"))
            for tc in sd.get("tool_calls") or [] if isinstance(sd.get("tool_calls"), list) else []:
                if not isinstance(tc, dict):
                    continue
                ci = tc.get("code_interpreter") if tc.get("type") == "code_interpreter" else None
                if isinstance(ci, dict):
                    for o in ci.get("outputs") or []:
                        if isinstance(o, dict) and o.get("type") == "image" and isinstance(o.get("image"), dict):
                            L("image", "file", o["image"].get("file_id"))
                fs = tc.get("file_search") if tc.get("type") == "file_search" else None
                if isinstance(fs, dict):
                    for x in fs.get("results") or []:
                        if isinstance(x, dict):
                            L("results", "file", x.get("file_id"))
    if kind == "vector_store.file":
        L("id", "file", rec.get("id"))
        L("vector_store_id", "vector_store", rec.get("vector_store_id"))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("path")
    a = ap.parse_args()
    truth = json.load(open(a.truth, encoding="utf-8"))
    opt = truth["options"]
    objs = truth["objects"]
    c = collect(a.shape, a.path, opt.get("cut_streams"))
    got = c.final()
    # 1. the output holds exactly the truth's objects, with the truth's final records
    for k in objs.keys() - got.keys():
        bad("missing from output: %s %s" % (objs[k]["kind"], k))
    for k in got.keys() - objs.keys():
        bad("not in truth: %s %s" % (c.kind[k], k))
    for k in objs.keys() & got.keys():
        if objs[k]["kind"] != c.kind[k]:
            bad("%s: kind %s, truth %s" % (k, c.kind[k], objs[k]["kind"]))
        if objs[k]["record"] != got[k]:
            bad("%s: record differs from truth" % k)
        if bool(objs[k].get("rebuilt")) != (k in c.rebuilt):
            bad("%s: rebuilt flag differs" % k)
    # 2. counts, kinds, statuses
    cnt = {}
    for e in objs.values():
        cnt[e["kind"]] = cnt.get(e["kind"], 0) + 1
    for k, n in truth["counts"].items():
        if cnt.get(k, 0) != n:
            bad("counts[%s]=%d but %d objects" % (k, n, cnt.get(k, 0)))
    if a.shape == "sse":
        need = {"thread.message", "thread.run", "thread.run.step"}
    else:
        need = set(truth["counts"]) - ({"vector_store", "vector_store.file"} if opt["v1"] else set())
    for k in need:
        if not cnt.get(k):
            bad("no %s objects" % k)
    runst = {e["record"].get("status") for e in objs.values() if e["kind"] == "thread.run"}
    want = RUN_STATUSES - ({"incomplete"} if opt["v1"] else set())
    if a.shape != "sse" and opt["threads"] >= 9 and not opt["nasty"] and not want <= runst:
        bad("run statuses missing: %s" % sorted(want - runst))
    if a.shape != "sse" and not opt["v1"]:
        parts = {p.get("type") for e in objs.values() if e["kind"] == "thread.message" for p in e["record"].get("content") or []}
        anns = {an.get("type") for e in objs.values() if e["kind"] == "thread.message" for p in e["record"].get("content") or []
                if p.get("type") == "text" for an in p["text"].get("annotations") or []}
        for t in ("text", "image_file", "image_url", "refusal"):
            if t not in parts:
                bad("no %s content part" % t)
        for t in ("file_citation", "file_path"):
            if t not in anns:
                bad("no %s annotation" % t)
    # 3. links resolve, except the holes; every hole is real
    holes = truth["holes"]
    hole_ids = set()
    for h in holes:
        hole_ids.update([h.get("id")] + h.get("missing", []))
    by_kind = {}
    for k, e in objs.items():
        by_kind.setdefault(e["kind"], set()).add(k)
    dangling = set()
    stream_kinds = {"thread", "thread.message", "thread.run", "thread.run.step"}
    for k, e in objs.items():
        for field, tk, v in links(e["record"], e["kind"]):
            if a.shape == "sse" and (tk not in stream_kinds or (tk == "thread" and v not in by_kind.get("thread", ()))):
                continue
            if v not in by_kind.get(tk, ()):
                dangling.add(v)
                if v not in hole_ids:
                    bad("%s %s: %s -> %s %s does not resolve" % (e["kind"], k, field, tk, v))
    for h in holes:
        if h["kind"] in ("deleted_message", "file_missing", "run_missing") and h["id"] not in dangling \
                and not (a.shape == "sse" and h["kind"] == "file_missing"):
            bad("hole %s %s is not dangling" % (h["kind"], h["id"]))
        if h["kind"] == "function_without_output":
            s = objs.get(h["step_id"], {}).get("record", {})
            calls = [tc for tc in (s.get("step_details") or {}).get("tool_calls") or [] if tc.get("id") == h["call_id"]]
            if s.get("status") != "completed" or not calls or calls[0]["function"].get("output") is not None:
                bad("hole function_without_output %s not real" % h["step_id"])
        if h["kind"] == "steps_page_cut":
            if any(m in objs for m in h["missing"]):
                bad("hole steps_page_cut: missing steps present")
            if a.shape in ("export", "jsonl", "node-page"):
                present = [s for s in truth["threads"].values() for r, ss in s["steps"].items() if r == h["run_id"] for s in ss]
                if len(present) != 20:
                    bad("hole steps_page_cut: %d steps present" % len(present))
            if a.shape == "export" and not any(p["has_more"] and len(p["data"]) == 20 and p["data"][0].get("run_id") == h["run_id"] for p in c.pages):
                bad("hole steps_page_cut: no 20-step page with has_more")
    for sid in truth["fs_without_content"]:
        s = objs.get(sid)
        if s and not any(isinstance(x, dict) and "content" not in x for tc in s["record"]["step_details"].get("tool_calls") or []
                         if isinstance(tc, dict) and isinstance(tc.get("file_search"), dict) for x in tc["file_search"].get("results") or []):
            bad("fs_without_content %s has content everywhere" % sid)
    # 4. per-thread id lists name truth objects of that thread
    for tid, ent in truth["threads"].items():
        for k in ent["messages"] + ent["runs"] + [s for ss in ent["steps"].values() for s in ss]:
            if k not in objs or objs[k].get("thread_id") != tid:
                bad("thread %s lists %s" % (tid, k))
    for p in problems[:40]:
        print(p)
    if problems:
        print("%d problems" % len(problems))
        sys.exit(1)
    print("ok %d objects" % len(objs))


if __name__ == "__main__":
    main()
