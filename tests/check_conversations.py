"""check_conversations.py - `steparc export --conversations` against a brute-force
reading of the history it was converted from (tests/cli/test_conversations.sh).

    python3 tests/check_conversations.py BIN HISTORY.jsonl ARCHIVE WORKDIR NAME

Checks, printing PASS/FAIL lines named NAME_*:
  shapes    every request line and body against the item shapes of
            /work/shared/reference/assistants-history.md section 5 (required
            fields, types, enums), at most 20 items per body, metadata on the
            first body only, within 16 keys / 64 / 512 characters
  content   every message text and tool call of every thread appears once, in
            the thread's order (recomputed here from the JSONL: the latest
            state per id, unreferenced messages by created_at, runs by their
            earliest time, steps by created_at then ordinal)
  losses    the loss report's counts equal a count made here from the JSONL
            with the rules of docs/CONVERSATIONS.md, per thread and in total
  determinism   two runs (and -o vs stdout) give the same bytes
  select    --thread T2 --thread T1 gives those threads' lines, in that order
"""

import json
import os
import subprocess
import sys

INT64 = (-(2**63), 2**63 - 1)
STEP_OBJECTS = ("thread.run.step", "assistant.run.step")
MSG_KNOWN = {"id", "object", "created_at", "thread_id", "status", "incomplete_details",
             "completed_at", "incomplete_at", "role", "content", "assistant_id", "run_id",
             "attachments", "file_ids", "metadata"}
MSG_LOST = ("id", "created_at", "incomplete_details", "completed_at", "incomplete_at",
            "assistant_id", "run_id", "attachments", "file_ids", "metadata")
STEP_KNOWN = {"id", "object", "created_at", "run_id", "assistant_id", "thread_id", "type",
              "status", "cancelled_at", "completed_at", "expires_at", "expired_at", "failed_at",
              "last_error", "step_details", "usage", "metadata"}
STEP_LOST = ("id", "created_at", "status", "cancelled_at", "completed_at", "expires_at",
             "expired_at", "failed_at", "last_error", "usage", "metadata")
RUN_LOST = ("id", "created_at", "status", "required_action", "last_error", "expires_at",
            "started_at", "cancelled_at", "failed_at", "completed_at", "incomplete_details",
            "model", "instructions", "tools", "tool_resources", "usage", "temperature", "top_p",
            "max_prompt_tokens", "max_completion_tokens", "truncation_strategy",
            "parallel_tool_calls", "file_ids", "metadata", "response_format", "tool_choice")
RUN_KNOWN = set(RUN_LOST) | {"object", "thread_id", "assistant_id"}
THREAD_KNOWN = {"id", "object", "created_at", "tool_resources", "metadata"}

FAILS = []


def result(name, problems):
    if problems:
        print("FAIL " + name)
        for p in problems[:8]:
            print("  %s: %s" % (name, p), file=sys.stderr)
        FAILS.append(name)
    else:
        print("PASS " + name)


def is_i64(v):
    return isinstance(v, int) and not isinstance(v, bool) and INT64[0] <= v <= INT64[1]


def t_of(r):
    v = r.get("created_at")
    return v if is_i64(v) else 0


def present(r, k):
    return k in r and r[k] is not None


def kind(r):
    o = r.get("object")
    if o in STEP_OBJECTS:
        return "step"
    return {"thread.message": "message", "thread.run": "run", "thread": "thread"}.get(o)


def bkey(s):
    return s.encode("utf-8", "surrogatepass")


# ---- the history, per thread ------------------------------------------------------------------

class Thread:
    def __init__(self):
        self.thread = None
        self.msgs, self.steps, self.runs = {}, {}, {}  # id -> (ord, rec); later replaces
        self.anon = []  # records without a string id: (kind, ord, rec)
        self.times = []
        self.superseded = 0


FIRST_BY_ID = {}


def load(path):
    threads = {}
    with open(path, encoding="utf-8") as f:
        lines = [l for l in f.read().split("\n") if l]
    for ord_, line in enumerate(lines):
        r = json.loads(line)
        if isinstance(r.get("id"), str):
            FIRST_BY_ID.setdefault(r["id"], r)
        k = kind(r)
        if k is None:
            continue
        tid = r.get("id") if k == "thread" else r.get("thread_id")
        if not isinstance(tid, str) or not tid:
            continue
        th = threads.setdefault(tid, Thread())
        if is_i64(r.get("created_at")):
            th.times.append(r["created_at"])
        if k == "thread":
            if th.thread is not None:
                th.superseded += 1
            th.thread = r
            continue
        table = {"message": th.msgs, "step": th.steps, "run": th.runs}[k]
        rid = r.get("id")
        if not isinstance(rid, str):
            th.anon.append((k, ord_, r))
            continue
        if rid in table:
            th.superseded += 1
            table[rid] = (table[rid][0], r) if False else (ord_, r)
        else:
            table[rid] = (ord_, r)
    return threads


def listed(th, k):
    d = {"message": th.msgs, "step": th.steps, "run": th.runs}[k]
    out = list(d.values()) + [(o, r) for kk, o, r in th.anon if kk == k]
    return sorted(out, key=lambda x: x[0])


# ---- the expected walk: the items' tokens and the losses -----------------------------------------

class Walk:
    def __init__(self, th):
        self.th = th
        self.loss = {}
        self.tokens = []
        self.msgs = listed(th, "message")
        self.steps = listed(th, "step")
        self.runs = listed(th, "run")
        self.emitted = set()

    def lose(self, name, n=1):
        if n:
            self.loss[name] = self.loss.get(name, 0) + n

    def file_name(self, fid):
        for _, s in self.steps:
            d = s.get("step_details")
            if not isinstance(d, dict) or not isinstance(d.get("tool_calls"), list):
                continue
            for tc in d["tool_calls"]:
                fs = tc.get("file_search") if isinstance(tc, dict) else None
                if not isinstance(fs, dict) or not isinstance(fs.get("results"), list):
                    continue
                for res in fs["results"]:
                    if (isinstance(res, dict) and isinstance(res.get("file_id"), str)
                            and isinstance(res.get("file_name"), str) and res["file_id"] == fid):
                        return res["file_name"]
        f = FIRST_BY_ID.get(fid)  # the archive's id index: the first record with the id
        if f is not None and f.get("object") == "file" and isinstance(f.get("filename"), str):
            return f["filename"]
        return None

    def annotations(self, anns):
        for a in anns:
            t = a.get("type")
            fc, fp = a.get("file_citation"), a.get("file_path")
            if t == "file_citation" and isinstance(fc, dict) and isinstance(fc.get("file_id"), str):
                if self.file_name(fc["file_id"]) is None:
                    self.lose("annotation.no_filename")
                    continue
                self.lose("annotation.span")
                if isinstance(fc.get("quote"), str):
                    self.lose("annotation.quote")
            elif t == "file_path" and isinstance(fp, dict) and isinstance(fp.get("file_id"), str):
                self.lose("annotation.span")
            else:
                self.lose("annotation.other")

    def message(self, ordm):
        self.emitted.add(ordm[0])
        m = ordm[1]
        role = m.get("role")
        if not isinstance(role, str):
            self.lose("message.role")
            role = "user"
        assistant = role == "assistant"
        for f in MSG_LOST:
            if present(m, f):
                self.lose("message." + f)
        st = m.get("status")
        if st is not None and st not in ("in_progress", "incomplete", "completed"):
            self.lose("message.status")
        c = m.get("content")
        if c is not None and not isinstance(c, list):
            self.lose("message.content")
        self.lose("message.unknown_keys", len(set(m) - MSG_KNOWN))
        texts = []
        for p in c if isinstance(c, list) else []:
            t = p.get("type")
            if t == "text":
                tx = p.get("text")
                if isinstance(tx, dict) and isinstance(tx.get("value"), str):
                    texts.append(tx["value"])
                    anns = tx.get("annotations")
                    if isinstance(anns, list):
                        if assistant:
                            self.annotations(anns)
                        else:
                            self.lose("annotation.user_side", len(anns))
                else:
                    self.lose("part.other")
            elif t == "image_file":
                im = p.get("image_file")
                if assistant or not isinstance(im, dict) or not isinstance(im.get("file_id"), str):
                    self.lose("part.image_file")
            elif t == "image_url":
                im = p.get("image_url")
                if assistant or not isinstance(im, dict) or not isinstance(im.get("url"), str):
                    self.lose("part.image_url")
            elif t == "refusal":
                if not assistant or not isinstance(p.get("refusal"), str):
                    self.lose("part.refusal")
            else:
                self.lose("part.other")
        self.tokens.append(("message", role, tuple(texts)))

    def call_status(self, s, has_failed):
        st = s.get("status")
        if not isinstance(st, str) or st in ("completed", "in_progress"):
            return
        if st == "failed" and has_failed:
            return
        self.lose("call.status_narrowed")

    def step(self, s):
        for f in STEP_LOST:
            if present(s, f):
                self.lose("step." + f)
        self.lose("step.unknown_keys", len(set(s) - STEP_KNOWN))
        d = s.get("step_details")
        mc = d.get("message_creation") if isinstance(d, dict) else None
        if isinstance(mc, dict) and isinstance(mc.get("message_id"), str):
            mid = mc["message_id"]
            hit = [x for x in self.msgs if x[1].get("id") == mid]
            if not hit:
                self.lose("message.missing")
            elif hit[0][0] not in self.emitted:
                self.message(hit[0])
            return
        if not isinstance(d, dict) or not isinstance(d.get("tool_calls"), list):
            self.lose("step.other_type")
            return
        for tc in d["tool_calls"]:
            t = tc.get("type")
            cid = tc.get("id") if isinstance(tc.get("id"), str) else ""
            if t == "function" and isinstance(tc.get("function"), dict):
                f = tc["function"]
                self.call_status(s, False)
                self.tokens.append(("function_call", cid, f.get("name") if isinstance(f.get("name"), str) else "",
                                    f.get("arguments") if isinstance(f.get("arguments"), str) else ""))
                if len(cid) > 64:
                    self.lose("function_call.call_id_over_64")
                if isinstance(f.get("output"), str):
                    if len(f["output"]) > 10485760:
                        self.lose("function_call_output.truncated")
                    self.tokens.append(("function_call_output", cid, f["output"][:10485760]))
                else:
                    self.lose("function_call.no_output")
            elif t == "code_interpreter" and isinstance(tc.get("code_interpreter"), dict):
                ci = tc["code_interpreter"]
                self.call_status(s, True)
                logs = []
                outs = ci.get("outputs")
                for o in outs if isinstance(outs, list) else []:
                    if o.get("type") == "logs" and isinstance(o.get("logs"), str):
                        logs.append(o["logs"])
                    elif o.get("type") == "image":
                        self.lose("code_interpreter.image_file")
                    else:
                        self.lose("code_interpreter.output_other")
                code = ci.get("input") if isinstance(ci.get("input"), str) else None
                self.tokens.append(("code_interpreter_call", cid, code, tuple(logs)))
            elif t == "file_search":
                fs = tc.get("file_search")
                self.call_status(s, True)
                if isinstance(fs, dict) and isinstance(fs.get("ranking_options"), dict):
                    self.lose("file_search.ranking_options")
                if not (isinstance(fs, dict) and isinstance(fs.get("results"), list)):
                    self.lose("file_search.no_results")
                self.tokens.append(("file_search_call", cid))
            elif t == "retrieval":
                self.lose("tool_call.retrieval")
            else:
                self.lose("tool_call.other")

    def run(self):
        th = self.th
        if th.thread is None:
            self.lose("thread.missing")
        else:
            for f in ("created_at", "tool_resources"):
                if present(th.thread, f):
                    self.lose("thread." + f)
            self.lose("thread.unknown_keys", len(set(th.thread) - THREAD_KNOWN))
        self.lose("snapshot.superseded", th.superseded)
        runid = lambda s: s.get("run_id") if isinstance(s.get("run_id"), str) else ""
        steps = sorted(self.steps, key=lambda x: (bkey(runid(x[1])), t_of(x[1]), x[0]))
        refs = set()
        for _, s in steps:
            d = s.get("step_details")
            mc = d.get("message_creation") if isinstance(d, dict) else None
            if isinstance(mc, dict) and isinstance(mc.get("message_id"), str):
                refs.add(mc["message_id"])
        ev = []
        for o, m in self.msgs:
            if not isinstance(m.get("id"), str) or m["id"] not in refs:
                ev.append((t_of(m), 0, o, ("m", (o, m))))
        groups = {}
        for o, s in steps:
            groups.setdefault(runid(s), []).append((o, s))
        for rid, ss in groups.items():
            t = min(t_of(s) for _, s in ss)
            o = min(o for o, _ in ss)
            for ro, r in self.runs:
                if r.get("id") == rid:
                    if is_i64(r.get("created_at")) and r["created_at"] < t:
                        t = r["created_at"]
                    o = min(o, ro)
            ev.append((t, 1, o, ("r", ss)))
        ev.sort(key=lambda e: e[:3])
        for e in ev:
            if e[3][0] == "m":
                self.message(e[3][1])
            else:
                for _, s in e[3][1]:
                    self.step(s)
        for _, r in self.runs:
            for f in RUN_LOST:
                if present(r, f):
                    self.lose("run." + f)
            self.lose("run.unknown_keys", len(set(r) - RUN_KNOWN))
        self.metadata()
        return self

    def metadata(self):
        md = {}

        def add(k, v):
            if len(k) > 64:
                self.lose("metadata.key_truncated")
                k = k[:64]
            if k in md or len(md) == 16:
                self.lose("metadata.key_dropped")
                return
            if len(v) > 512:
                self.lose("metadata.value_truncated")
                v = v[:512]
            md[k] = v

        th = self.th
        add("source_thread_id", self.tid)
        ids = set()
        for _, r in self.runs + self.steps + self.msgs:
            a = r.get("assistant_id")
            if isinstance(a, str) and a:
                ids.add(a)
        if ids:
            add("source_assistant_id", ",".join(sorted(ids, key=bkey)))
        if th.times:
            add("source_time_span", "%d/%d" % (min(th.times), max(th.times)))
        meta = th.thread.get("metadata") if th.thread else None
        if isinstance(meta, dict):
            for k, v in meta.items():
                if isinstance(v, str):
                    add(k, v)
                else:
                    self.lose("metadata.value_not_string")
        elif meta is not None:
            self.lose("metadata.not_object")
        self.meta = md


# ---- the output ---------------------------------------------------------------------------------

def s(v):
    return isinstance(v, str)


def check_item(it, p):
    t = it.get("type")
    if t == "message":
        if set(it) - {"type", "role", "content", "status"} or not s(it.get("role")) \
                or not isinstance(it.get("content"), list):
            return p.append("message keys/types: %r" % it)
        if "status" in it and it["status"] not in ("in_progress", "completed", "incomplete"):
            p.append("message status %r" % it["status"])
        for c in it["content"]:
            ct = c.get("type")
            if it["role"] == "assistant":
                if ct == "output_text":
                    if set(c) != {"type", "text", "annotations", "logprobs"} or not s(c["text"]) \
                            or c["logprobs"] != [] or not isinstance(c["annotations"], list):
                        p.append("output_text %r" % c)
                    for a in c.get("annotations", []):
                        if a.get("type") == "file_citation":
                            ok = set(a) == {"type", "file_id", "filename", "index"} and s(a["filename"])
                        elif a.get("type") == "file_path":
                            ok = set(a) == {"type", "file_id", "index"}
                        else:
                            ok = False
                        if not ok or not s(a.get("file_id")) or not isinstance(a.get("index"), int):
                            p.append("annotation %r" % a)
                elif ct == "refusal":
                    if set(c) != {"type", "refusal"} or not s(c["refusal"]):
                        p.append("refusal %r" % c)
                else:
                    p.append("assistant content %r" % c)
            else:
                if ct == "input_text":
                    if set(c) != {"type", "text"} or not s(c["text"]):
                        p.append("input_text %r" % c)
                elif ct == "input_image":
                    if c.get("detail") not in ("low", "high", "auto") or \
                            not (s(c.get("image_url")) or s(c.get("file_id"))):
                        p.append("input_image %r" % c)
                else:
                    p.append("user content %r" % c)
    elif t == "function_call":
        if set(it) - {"type", "call_id", "name", "arguments", "status"} or \
                not all(s(it.get(k)) for k in ("call_id", "name", "arguments")):
            p.append("function_call %r" % it)
        if it.get("status", "completed") not in ("in_progress", "completed", "incomplete"):
            p.append("function_call status %r" % it)
    elif t == "function_call_output":
        if set(it) != {"type", "call_id", "output"} or not s(it["call_id"]) or not s(it["output"]) \
                or len(it["output"]) > 10485760:
            p.append("function_call_output %r" % it)
    elif t == "code_interpreter_call":
        if not {"type", "id", "container_id", "code", "outputs"} <= set(it) or not s(it["id"]) \
                or not s(it["container_id"]) or not (it["code"] is None or s(it["code"])) \
                or not isinstance(it["outputs"], list):
            p.append("code_interpreter_call %r" % it)
        if it.get("status", "completed") not in ("in_progress", "completed", "incomplete",
                                                  "interpreting", "failed"):
            p.append("code_interpreter_call status %r" % it)
        for o in it.get("outputs", []):
            if not (o.get("type") == "logs" and set(o) == {"type", "logs"} and s(o["logs"])):
                p.append("code_interpreter output %r" % o)
    elif t == "file_search_call":
        if not {"type", "id", "queries", "results"} <= set(it) or not s(it["id"]) \
                or it["queries"] != [] or not (it["results"] is None or isinstance(it["results"], list)):
            p.append("file_search_call %r" % it)
        if it.get("status", "completed") not in ("in_progress", "searching", "completed",
                                                  "incomplete", "failed"):
            p.append("file_search_call status %r" % it)
        for r in it.get("results") or []:
            if set(r) - {"file_id", "filename", "score", "text"} or \
                    ("score" in r and not isinstance(r["score"], (int, float))):
                p.append("file_search result %r" % r)
    else:
        p.append("item type %r" % t)


def token(it):
    t = it["type"]
    if t == "message":
        return ("message", it["role"], tuple(c["text"] for c in it["content"]
                                            if c["type"] in ("input_text", "output_text")))
    if t == "function_call":
        return ("function_call", it["call_id"], it["name"], it["arguments"])
    if t == "function_call_output":
        return ("function_call_output", it["call_id"], it["output"])
    if t == "code_interpreter_call":
        return (t, it["id"], it["code"], tuple(o["logs"] for o in it["outputs"]))
    return (t, it["id"])


def parse_requests(data, p):
    """{thread_id: (items, metadata)} in output order, checking the request shapes."""
    out = {}
    order = []
    for n, line in enumerate(data.split(b"\n")[:-1]):
        try:
            q = json.loads(line)
        except ValueError as e:
            p.append("line %d: %s" % (n + 1, e))
            continue
        if json.dumps(q, ensure_ascii=False, separators=(",", ":")).encode() != line:
            p.append("line %d is not canonical compact JSON" % (n + 1))
        if list(q) != ["thread_id", "method", "path", "body"] or q["method"] != "POST":
            p.append("line %d keys %r" % (n + 1, list(q)))
            continue
        tid, body = q["thread_id"], q["body"]
        first = tid not in out
        if first:
            out[tid] = ([], None)
            order.append(tid)
        want = "/v1/conversations" if first else "/v1/conversations/{conversation_id}/items"
        if q["path"] != want:
            p.append("line %d path %r, expected %r" % (n + 1, q["path"], want))
        if list(body) != (["items", "metadata"] if first else ["items"]):
            p.append("line %d body keys %r" % (n + 1, list(body)))
        items = body.get("items", [])
        if not isinstance(items, list) or len(items) > 20 or (not first and not items):
            p.append("line %d: %s items" % (n + 1, len(items)))
            continue
        for it in items:
            check_item(it, p)
        if first:
            md = body.get("metadata", {})
            if not isinstance(md, dict) or len(md) > 16 or any(
                    len(k) > 64 or not s(v) or len(v) > 512 for k, v in md.items()):
                p.append("line %d metadata out of limits" % (n + 1))
            out[tid] = (out[tid][0], md)
        out[tid][0].extend(items)
    return out, order


def run(args, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def main():
    bin_, hist, arc, work, name = sys.argv[1:6]
    out, rep = os.path.join(work, "conv.jsonl"), os.path.join(work, "report.json")
    r = run([bin_, "export", "--conversations", arc, "-o", out, "--report", rep])
    if r.returncode != 0:
        result(name + "_export", ["exit %d: %s" % (r.returncode, r.stderr.decode()[-300:])])
        return 1
    summary = r.stderr.decode()
    with open(out, "rb") as f:
        data = f.read()
    with open(rep, encoding="utf-8") as f:
        report = json.load(f)

    p = []
    got, order = parse_requests(data, p)
    threads = load(hist)
    if sorted(threads, key=bkey) != order:
        p.append("threads %d in output, %d in the history (or not sorted)" % (len(order), len(threads)))
    result(name + "_shapes", p)

    p, walks = [], {}
    for tid in sorted(threads, key=bkey):
        w = Walk(threads[tid])
        w.tid = tid
        walks[tid] = w.run()
        items, md = got.get(tid, ([], None))
        toks = [token(it) for it in items]
        if toks != w.tokens:
            i = next((i for i, (a, b) in enumerate(zip(toks, w.tokens)) if a != b),
                     min(len(toks), len(w.tokens)))
            p.append("%s: item %d: got %r, expected %r (%d vs %d items)" % (
                tid, i, toks[i] if i < len(toks) else None,
                w.tokens[i] if i < len(w.tokens) else None, len(toks), len(w.tokens)))
        if md is not None and md != w.meta:
            p.append("%s: metadata %r, expected %r" % (tid, md, w.meta))
    # every text and call of the history is in some item exactly once
    all_calls = [t[1] for w in walks.values() for t in w.tokens if t[0] != "message"]
    got_calls = [token(it)[1] for its, _ in got.values() for it in its if it["type"] != "message"]
    if sorted(all_calls) != sorted(got_calls):
        p.append("tool calls differ: %d expected, %d written" % (len(all_calls), len(got_calls)))
    result(name + "_content", p)

    p = []
    byid = {t["thread_id"]: t for t in report.get("threads", [])}
    total = {}
    for tid, w in walks.items():
        t = byid.get(tid)
        if t is None:
            p.append("%s: not in the report" % tid)
            continue
        if t["lost"] != w.loss:
            diff = {k: (t["lost"].get(k), w.loss.get(k)) for k in set(t["lost"]) | set(w.loss)
                    if t["lost"].get(k) != w.loss.get(k)}
            p.append("%s: lost differs (report, brute force): %r" % (tid, diff))
        if t["lost_total"] != sum(w.loss.values()) or t["items"] != len(got[tid][0]):
            p.append("%s: lost_total/items" % tid)
        for k, v in w.loss.items():
            total[k] = total.get(k, 0) + v
    tot = report.get("total", {})
    if tot.get("lost") != total or tot.get("threads") != len(walks) or \
            tot.get("requests") != len(data.split(b"\n")) - 1:
        p.append("total %r" % {k: v for k, v in tot.items() if k != "lost"})
    if ("%d losses" % sum(total.values())) not in summary:
        p.append("summary line %r" % summary)
    result(name + "_losses", p)

    p = []
    r2 = run([bin_, "export", "--conversations", arc])
    out2 = os.path.join(work, "conv2.jsonl")
    r3 = run([bin_, "export", "--conversations", arc, "--output", out2, "--report", rep + "2"])
    if r2.returncode or r2.stdout != data:
        p.append("stdout differs from -o")
    with open(out2, "rb") as f:
        if f.read() != data:
            p.append("a second run differs")
    with open(rep, "rb") as a, open(rep + "2", "rb") as b:
        if a.read() != b.read():
            p.append("the report differs")
    if r3.returncode:
        p.append("second run exit %d" % r3.returncode)
    result(name + "_determinism", p)

    p = []
    if len(order) >= 2:
        t1, t2 = order[0], order[-1]
        r = run([bin_, "export", "--conversations", arc, "--thread", t2, "--thread", t1])
        lines = data.split(b"\n")[:-1]
        want = [l for l in lines if json.loads(l)["thread_id"] == t2] + \
               [l for l in lines if json.loads(l)["thread_id"] == t1]
        if r.returncode or r.stdout.split(b"\n")[:-1] != want:
            p.append("--thread %s --thread %s: %d lines, expected %d" % (
                t2, t1, len(r.stdout.split(b"\n")) - 1, len(want)))
        r = run([bin_, "export", "--conversations", arc, "--thread", "thread_nosuch"])
        if r.returncode != 1 or r.stdout:
            p.append("an unknown thread: exit %d" % r.returncode)
    else:
        p.append("fewer than two threads")
    result(name + "_select", p)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
