#!/usr/bin/env python3
"""Deterministic generator of whole OpenAI Assistants API histories (issue 13):
assistants, threads, messages, runs, run steps, files, vector stores and
vector-store files, with consistent links.  Standard library only, Python 3.11.
Run steps come from tests/gen_steps.py (its Gen.step / tool_step / tc_* /
mutate), so they are as rich and hostile as gen_steps' records.

Usage:
  python3 tests/gen_history.py --seed N [--threads N] [--shape SHAPE]
         [--out DIR] [--truth FILE] [--holes] [--v1] [--nasty]
         [--cut-streams] [--order ordered|shuffled]

Options:
  --seed N        required; output is a pure function of the options (same bytes)
  --threads N     number of threads (default 10), the scale knob: about 23
                  objects and 20 KB of jsonl per thread (1300 threads: 30000
                  objects, 25 MB, 1.4 s), so ~50000 threads make ~1 GB
  --out DIR       write into DIR (required for --shape export); otherwise stdout
  --truth FILE    write the ground truth (below)
  --holes         deliberate holes for an audit, all in the last thread:
                  a message deleted while a message_creation step references
                  it; a run with 26 steps whose steps page holds the newest 20
                  (has_more true, no next page); a completed step whose function
                  call has output null; a run missing while its steps exist;
                  a file referenced by an attachment that is missing from the
                  files list; and (always, not only with --holes) file_search
                  results without content, which the truth lists
  --v1            v1-era history (2023-11 .. 2024-04): file_ids on assistants,
                  messages and runs, the retrieval tool, no attachments, no
                  tool_resources, no vector stores, file_citation.quote, no
                  message status before 2024-03-27, no usage before 2024-01-18
  --nasty         gen_steps' edge cases in every record (else ~10% of steps and
                  ~10% of the other objects): unknown keys, metadata and usage
                  absent/null/{}/extra, absent-vs-null, 64-bit/negative/ms
                  timestamps, hostile strings (NUL, U+2028, astral), unknown
                  tool and step types.  Link fields (id, thread_id, run_id,
                  assistant_id, message_creation.message_id) are never mutated.
  --cut-streams   sse: about a third of the streams that carry message deltas
                  end after a delta (no message.completed, no done); the truth
                  record is the last snapshot plus the deltas ("rebuilt": true)
  --order         jsonl: ordered (default) or shuffled (within windows of 4096)

Shapes:
  export     DIR/assistants.json (list pages of 20, concatenated), files.json,
             vector_stores.json, vector_stores/<vs>/files.json,
             threads/<id>/thread.json (pretty), messages.json (desc pages of 20
             concatenated) or messages_page1.json, messages_page2.json, ...,
             runs.json, runs/<run_id>/steps.json (one page per run);
             pretty and compact JSON mixed
  jsonl      every object one per line (final states)
  sse        event streams per run as the API sends them (thread.created,
             thread.run.*, thread.run.step.*, step deltas, thread.message.*,
             message deltas with text fragments and annotations by index,
             requires_action ending a stream and a submit_tool_outputs stream
             continuing the run, error, done / [DONE]); only stream-borne
             objects (no user messages, assistants, files)
  nested     JSON documents nesting the objects at any depth: {"thread",
             "messages", "runs":[{"run","steps"}]}, test-proxy recordings
             {"entries":[{"request","response":{"body": obj or JSON string}}]},
             and deep wrappers
  har        one HAR file: log.entries[].response.content.text holding list
             pages, objects or SSE bodies (streams complete), some base64
  node-page  Node JSON.stringify(page): {"options","response","body":{page},
             "data":[...],"has_more"}, one per line; threads as plain objects

Truth (--truth FILE): {"format":"gen_history-truth-1", "options", "counts"
{kind: n}, "objects" {key: {"kind", "thread_id"?, "record", "rebuilt"?}},
"threads" {thread_id: {"messages":[ids], "runs":[ids], "steps":{run_id:[ids]}}}
in creation order, "holes":[...], "fs_without_content":[step ids]}.  key is
the object id, except vector_store.file: "<vector_store_id>/<file_id>" (its id
is the file's id).  record is the FINAL expected object (most advanced state as
testlib.state_rank ranks it; rebuilt messages: snapshot plus deltas).  Only objects present in the
output are listed; holes name the missing ones.  Annotation indices count code
points.  created_at may be mutated (ms, negative), so creation order is the
list order, not created_at.
"""

import argparse
import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_steps as gs  # noqa: E402
import testlib  # noqa: E402
from gen_steps import FastRandom, encode  # noqa: E402

T_STREAM = 1711497600      # 2024-03-27 streaming, message status
T_RUNOPTS = 1712880000     # 2024-04-12 max tokens, truncation, tool_choice
T_IMAGE_URL = 1715212800   # 2024-05-09
T_INCOMPLETE = 1716854400  # 2024-05-28
T_PARALLEL = 1717545600    # 2024-06-05
T_NOQUOTE = 1718150400     # 2024-06-12
T_REFUSAL = 1722902400     # 2024-08-06

TERMINAL_RUN = ("completed", "failed", "cancelled", "expired", "incomplete")
ALL_RUN = ("completed", "requires_action", "failed", "queued", "cancelled",
           "in_progress", "incomplete", "cancelling", "expired")
KINDS = ("assistant", "thread", "thread.message", "thread.run", "thread.run.step",
         "file", "vector_store", "vector_store.file")

FUNC_TOOLS = {
    "get_current_weather": {"location": "string", "unit": "string"},
    "CurrentTemperature": {"location": "string", "unit": "string"},
    "RainProbability": {"location": "string"},
    "search_products": {"query": "string", "max_results": "integer", "filters": "object"},
    "display_quiz": {"title": "string", "questions": "array"},
    "send_email": {"to": "string", "subject": "string", "body": "string"},
    "lookup_order": {"order_id": "string"},
    "run_sql": {"query": "string"},
}

USER_TEXTS = [
    "I need to solve the equation `3x + 11 = 14`. Can you help me?",
    "What is the square root of 139485?",
    "Summarize the attached report in three bullet points.",
    "Qual é a política de férias da empresa?",
    "Plot the monthly totals from the CSV I uploaded.",
    "What's the weather in São Paulo and in Zürich?",
    "この資料の要点を教えてください。",
    "Find me running shoes under $100.",
    "Can you check the status of order A123456?",
    "Write a SQL query for the top cities by revenue in 2023.",
    "Explain the difference between a list and a tuple.",
    "How do I make a bomb?",
]
REFUSALS = ["I'm sorry, but I can't help with that.", "Desculpe, não posso ajudar com isso."]
INSTRUCTIONS = [
    "You are a personal math tutor. Write and run code to answer math questions.",
    "You are a helpful assistant. Você é um assistente útil. Use the files to answer.",
    "You are a customer support agent for ACME. Answer only from the knowledge base; cite sources.",
    "Você é um assistente jurídico. Responda em português e cite os documentos.",
    "You are a weather bot. Use the provided functions to answer questions.",
]
ASST_NAMES = ["Math Tutor", "HR Helper", "ACME Support", "Assistente Jurídico", "Weather Bot",
              "Data Analyst", "データアシスタント", None]
IMAGE_NAMES = ["photo.jpg", "screenshot 2024-05-01.png", "diagram.png", "IMG_0042.HEIC.jpg", "gráfico.png"]


def strip_index(v):
    """Drop the delta `index` keys from a rebuilt object (positions, not data)."""
    if isinstance(v, dict):
        v.pop("index", None)
        for x in v.values():
            strip_index(x)
    elif isinstance(v, list):
        for x in v:
            strip_index(x)


def merge_delta(dst, src):
    """Merge a delta into a snapshot as PY _deltas.accumulate_delta does, except
    that integers are replaced, not added, and only text fields concatenate."""
    for k, v in src.items():
        cur = dst.get(k)
        if k not in dst or cur is None:
            dst[k] = v
        elif isinstance(cur, str) and isinstance(v, str) and k in ("value", "refusal", "arguments", "input", "logs"):
            dst[k] = cur + v
        elif isinstance(cur, dict) and isinstance(v, dict):
            merge_delta(cur, v)
        elif isinstance(cur, list) and isinstance(v, list):
            for e in v:
                if isinstance(e, dict) and isinstance(e.get("index"), int):
                    for c in cur:
                        if isinstance(c, dict) and c.get("index") == e["index"]:
                            merge_delta(c, e)
                            break
                    else:
                        cur.append(e)
                else:
                    cur.append(e)
        else:
            dst[k] = v


class History:
    def __init__(self, a):
        self.a = a
        self.g = gs.Gen(a.seed, max(1, a.threads) * 12, a.nasty)
        self.r = self.g.r
        self.v1 = a.v1
        if a.v1:
            self.t0, self.t1 = gs.T_START + 3600, gs.T_V2 - 3 * 86400
        else:
            self.t0, self.t1 = gs.T_V2 + 5 * 86400, gs.T_END
        self.fs_no_content = []
        self.holes = []
        self.excluded = set()
        self.make_globals()

    # ------------------------------------------------------------ helpers
    def rid(self, p):
        return self.g.rid(p)

    def maybe(self, rec, protect=()):
        """Light nastiness for non-step objects; never touches links or ids."""
        g, r = self.g, self.r
        if not (self.a.nasty or r.random() < 0.10):
            return rec
        for _ in range(r.choice([1, 1, 2, 3])):
            m = r.randrange(6)
            if m == 0:
                g.insert(rec, r.choice(gs.NASTY_KEYS), g.nvalue(4))
            elif m == 1:
                x = r.randrange(4)
                if x == 0:
                    rec.pop("metadata", None)
                elif x == 1:
                    rec["metadata"] = None
                elif x == 2:
                    rec["metadata"] = {}
                else:
                    md = {}
                    for _ in range(r.randint(1, 16)):
                        md[g.nstr()[:64]] = g.nstr()[:512]
                    if r.random() < 0.3:
                        md["non_string"] = r.choice([1, None, True, {"a": "b"}])
                    rec["metadata"] = md
            elif m == 2:
                ks = [k for k in rec if k not in protect and k not in ("id", "object", "created_at")
                      and not k.endswith("_id") and not isinstance(rec[k], (dict, list))]
                if ks:
                    k = r.choice(ks)
                    if r.random() < 0.5:
                        rec.pop(k)
                    else:
                        rec[k] = None
            elif m == 3:
                for k in ("name", "description", "filename", "instructions"):
                    if isinstance(rec.get(k), str):
                        rec[k] = g.nstr() or rec[k]
                        break
                else:
                    g.insert(rec, "x_note", g.nstr())
            elif m == 4:
                if isinstance(rec.get("created_at"), int):
                    ms = rec["created_at"] * 1000  # in milliseconds, while it stays within 64 bits
                    rec["created_at"] = r.choice([ms if -2 ** 63 <= ms < 2 ** 63 else rec["created_at"],
                                                  r.choice(gs.NASTY_TIMESTAMPS)])
            else:
                g.insert(rec, r.choice(["x_request_id", "gmt_created", "request_id", "status_code"]),
                         r.choice([g.rid("req_"), "2024-03-27 11:33:18", 200, 2 ** 63]))
        return rec

    def metadata(self):
        r = self.r
        x = r.random()
        if x < 0.6:
            return {}
        if x < 0.9:
            return {"user_id": "u_%d" % r.randint(1, 99999), "source": r.choice(["web", "slack", "api"])}
        return {"session": self.rid("sess_"), "lang": r.choice(["pt-BR", "en", "ja"]), "ticket": str(r.randint(1, 10 ** 9))}

    def t_between(self, lo, hi):
        return lo + int(self.r.random() * max(1, hi - lo))

    # ------------------------------------------------------------ globals
    def make_file(self, purpose, name, t):
        r = self.r
        rec = {"id": self.g.file_id(), "object": "file", "bytes": r.randint(100, 30_000_000),
               "created_at": t, "filename": name, "purpose": purpose, "status": "processed",
               "status_details": None}
        if r.random() < 0.2:
            rec["expires_at"] = None
        self.fname[rec["id"]] = name    # links use the generated name, whatever maybe() does
        self.maybe(rec)
        self.files.append(rec)
        return rec

    def make_globals(self):
        r, n = self.r, max(1, self.a.threads)
        t = self.t0 - 20 * 86400
        self.files, self.vstores, self.vsfiles, self.assistants, self.vsf = [], [], [], [], {}
        self.fname = {}
        ndoc = 8 + min(n, 4000)
        self.docs = [self.make_file("assistants", r.choice(gs.FILE_NAMES), self.t_between(t, self.t0)) for _ in range(ndoc)]
        self.vision = [self.make_file("vision", r.choice(IMAGE_NAMES), self.t_between(t, self.t0)) for _ in range(4 + n // 4)]
        self.outputs = [self.make_file("assistants_output", "/mnt/data/%s" % r.choice(["chart.png", "monthly.png", "output.csv", "plot_1.png"]),
                                       self.t_between(t, self.t0)) for _ in range(6 + n // 2)]
        # the file that --holes deletes: referenced by an attachment only
        self.lost_file = self.make_file("assistants", "deleted_later.pdf", t) if self.a.holes else None
        if self.lost_file:
            self.excluded.add(self.lost_file["id"])
        self.fbyid = {f["id"]: f for f in self.files}
        pool = list(self.docs)
        if not self.v1:
            for _ in range(3 + n // 3):
                self.make_vstore(r.sample(pool, r.randint(1, min(8, len(pool)))), t)
        for _ in range(2 + min(n // 20, 200)):
            self.make_assistant(self.t_between(t, self.t0))

    def make_vstore(self, files, t):
        r = self.r
        vid = self.rid("vs_")
        self.vsf[vid] = []
        ub = 0
        for f in files:
            u = r.randint(1000, 2_000_000)
            ub += u
            vf = {"id": f["id"], "object": "vector_store.file", "usage_bytes": u, "created_at": self.t_between(t, self.t0),
                  "vector_store_id": vid, "status": "completed", "last_error": None,
                  "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}}
            if r.random() < 0.2:
                vf["attributes"] = {}
            self.vsfiles.append(self.maybe(vf))
            self.vsf[vid].append(vf)
        exp = r.random() < 0.4
        vs = {"id": vid, "object": "vector_store", "created_at": self.t_between(t, self.t0),
              "name": r.choice(["Knowledge base", "Financial Statements", "Base de conhecimento", "vs_for_thread", ""]),
              "usage_bytes": ub, "file_counts": {"in_progress": 0, "completed": len(files), "failed": 0, "cancelled": 0, "total": len(files)},
              "status": "completed", "expires_after": {"anchor": "last_active_at", "days": 7} if exp else None,
              "expires_at": self.t1 + 7 * 86400 if exp else None, "last_active_at": self.t1, "metadata": self.metadata()}
        self.vstores.append(self.maybe(vs))

    def function_tools(self, k):
        r = self.r
        out = []
        for name in r.sample(sorted(FUNC_TOOLS), k):
            props = {p: {"type": t, "description": "The %s" % p} for p, t in FUNC_TOOLS[name].items()}
            fn = {"name": name, "description": "Call %s." % name,
                  "parameters": {"type": "object", "properties": props, "required": sorted(props)[:1]}}
            if not self.v1 and r.random() < 0.5:
                fn["strict"] = r.random() < 0.3
            out.append({"type": "function", "function": fn})
        return out

    def response_format(self):
        r = self.r
        x = r.randrange(6)
        if x < 2:
            return "auto"
        if x == 2:
            return {"type": "text"}
        if x == 3:
            return {"type": "json_object"}
        if x == 4:
            return {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": {
                "type": "object", "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
                "required": ["answer", "confidence"], "additionalProperties": False}}}
        return None

    def make_assistant(self, t):
        r = self.r
        tools = []
        if r.random() < 0.6:
            tools.append({"type": "code_interpreter"})
        search = r.random() < 0.7
        if search:
            if self.v1:
                tools.append({"type": "retrieval"})
            elif r.random() < 0.5:
                tools.append({"type": "file_search"})
            else:
                tools.append({"type": "file_search", "file_search": {"max_num_results": r.randint(1, 50), "ranking_options": {
                    "ranker": r.choice(["auto", "default_2024_08_21"]), "score_threshold": r.choice([0.0, 0.5])}}})
        tools += self.function_tools(r.choice([0, 0, 1, 2, 3]))
        rec = {"id": self.rid("asst_"), "object": "assistant", "created_at": t, "name": r.choice(ASST_NAMES),
               "description": r.choice([None, "Answers questions from the knowledge base.", ""]),
               "model": r.choice(gs.MODELS), "instructions": r.choice(INSTRUCTIONS + [None]), "tools": tools}
        search_files = []
        if self.v1:
            fl = r.sample(self.docs, r.randint(0, min(5, len(self.docs))))
            rec["file_ids"] = [f["id"] for f in fl]
            search_files = [(f["id"], self.fname[f["id"]]) for f in fl] if search else []
            rec["metadata"] = self.metadata()
        else:
            tr = {}
            if tools and tools[0]["type"] == "code_interpreter":
                tr["code_interpreter"] = {"file_ids": [f["id"] for f in r.sample(self.docs, r.randint(0, 3))]}
            if search:
                vs = r.choice(self.vstores)
                tr["file_search"] = {"vector_store_ids": [vs["id"]]}
                search_files = [(f["id"], self.fname[f["id"]]) for f in self.vsf[vs["id"]]]
            rec["tool_resources"] = tr if tr or r.random() < 0.5 else None
            rec["metadata"] = self.metadata()
            rec["top_p"] = r.choice([1.0, 0.9, None])
            rec["temperature"] = r.choice([1.0, 0.2, 0.7, None])
            rf = self.response_format()
            if rf is not None or r.random() < 0.5:
                rec["response_format"] = rf
            if r.random() < 0.1:
                rec["reasoning_effort"] = None
        self.maybe(rec, ("tools",))
        self.assistants.append((rec, search_files or [(f["id"], self.fname[f["id"]]) for f in self.docs[:3]]))

    # ------------------------------------------------------------ messages
    def text_with_annotations(self, t, cites, paths, force=False):
        r, g = self.r, self.g
        value, anns = "", []
        for i in range(r.randint(1, 6)):
            value += r.choice(gs.MESSAGE_TEXTS + gs.SENTENCES)
            if self.a.nasty or r.random() < 0.1:
                value += g.nstr()
            if cites and (r.random() < 0.4 or (force and not anns)):
                fid, fname = r.choice(cites)
                ph = ("【%d†source】" % r.randint(0, 20)) if self.v1 else ("【%d:%d†%s】" % (r.randint(0, 9), r.randint(0, 20), r.choice(["source", fname])))
                s = len(value)
                value += ph
                fc = {"file_id": fid}
                if t < T_NOQUOTE:
                    fc["quote"] = r.choice(gs.SENTENCES)
                anns.append({"type": "file_citation", "text": ph, "file_citation": fc, "start_index": s, "end_index": len(value)})
            value += "\n\n" if r.random() < 0.2 else " "
        if paths and (force or r.random() < 0.5):
            f = r.choice(paths)
            fn = self.fname[f["id"]]
            ph = "sandbox:" + (fn if fn.startswith("/mnt") else "/mnt/data/out.png")
            value += "You can download it [here]("
            s = len(value)
            value += ph
            anns.append({"type": "file_path", "text": ph, "file_path": {"file_id": f["id"]}, "start_index": s, "end_index": len(value)})
            value += ")."
        return {"type": "text", "text": {"value": value.rstrip(" "), "annotations": anns}}

    def message(self, th, role, t, content, run=None, status="completed", reason=None, done_t=None):
        r = self.r
        rec = {"id": self.rid("msg_"), "object": "thread.message", "created_at": t,
               "assistant_id": run["asst"] if run else None, "thread_id": th["id"],
               "run_id": run["id"] if run else None, "role": role, "content": content}
        if self.v1:
            rec["file_ids"] = []
        else:
            rec["attachments"] = []
        rec["metadata"] = {} if role == "assistant" else self.metadata()
        if t >= T_STREAM:
            rec["status"] = status
            rec["incomplete_details"] = {"reason": reason} if status == "incomplete" else None
            rec["completed_at"] = (done_t if done_t is not None else t) if status == "completed" else None
            rec["incomplete_at"] = (done_t if done_t is not None else t) if status == "incomplete" else None
        if r.random() < 0.1:
            self.maybe(rec, ("content", "status", "role"))
        return rec

    def user_message(self, th, t, force=False, lost=None):
        r = self.r
        parts = [{"type": "text", "text": {"value": r.choice(USER_TEXTS) + (self.g.nstr() if self.a.nasty else ""), "annotations": []}}]
        if force or r.random() < 0.12:
            parts.append({"type": "image_file", "image_file": {"file_id": r.choice(self.vision)["id"], **({"detail": "high"} if r.random() < 0.5 else {})}})
        if not self.v1 and t >= T_IMAGE_URL and (force or r.random() < 0.1):
            parts.append({"type": "image_url", "image_url": {"url": "https://example.com/img/%d.png" % r.randint(1, 999), "detail": r.choice(["auto", "low", "high"])}})
        rec = self.message(th, "user", t, parts)
        atts = [r.choice(self.docs) for _ in range(r.choice([0, 0, 0, 1, 2]) + (1 if force else 0))]
        if lost:
            atts.append(lost)
        if self.v1:
            rec["file_ids"] = [f["id"] for f in atts]
        else:
            rec["attachments"] = [{"file_id": f["id"], "tools": r.choice([[{"type": "file_search"}], [{"type": "code_interpreter"}],
                                                                          [{"type": "code_interpreter"}, {"type": "file_search"}]])} for f in atts]
        return rec

    # ------------------------------------------------------------ runs
    def run_plan(self, status):
        r, g = self.r, self.g
        if status == "queued":
            return []
        if status == "requires_action":
            return ([["code"]] if r.random() < 0.3 else []) + [["func"] * r.choice([1, 1, 2, 3])]
        if status == "expired":
            return [["func"] * r.randint(1, 2)]
        plan = g.run_plan()
        if r.random() < 0.15:
            plan = [None] + plan        # "Let me look that up." before the tool calls
        if status in ("completed", "incomplete"):
            return plan
        return plan[:r.randint(1, len(plan))]

    def new_run(self, th, asst, status, t, prompt):
        r = self.r
        run = {"id": self.rid("run_"), "thread": th["id"], "prompt": prompt, "asst": asst[0]["id"],
               "deadline": t + 600, "created": t, "model": asst[0].get("model") or "gpt-4o"}
        run["expires"] = run["deadline"] if status not in TERMINAL_RUN or r.random() < 0.3 else None
        return run

    def run_record(self, run, asst, status, t_end, tool_calls_ra, usage):
        r = self.r
        t = run["created"]
        a = asst[0]
        rec = {"id": run["id"], "object": "thread.run", "created_at": t, "assistant_id": run["asst"],
               "thread_id": run["thread"], "status": status,
               "started_at": None if status == "queued" else t + 1,
               "expires_at": None if status in TERMINAL_RUN and status != "expired" else run["deadline"],
               "cancelled_at": t_end if status == "cancelled" else None,
               "failed_at": t_end if status == "failed" else None,
               "completed_at": t_end if status == "completed" else None,
               "required_action": None, "last_error": None, "model": run["model"],
               "instructions": a.get("instructions") if r.random() < 0.8 else r.choice([None, "Answer briefly. Responda em português."]),
               "tools": a.get("tools", [])}
        if status == "requires_action":
            rec["required_action"] = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": tool_calls_ra}}
        if status == "failed":
            code, msg = r.choice(gs.ERRORS + [("invalid_prompt", "Your prompt was flagged as potentially violating our usage policy.")])
            rec["last_error"] = {"code": code, "message": msg}
        if self.v1:
            rec["file_ids"] = list(a.get("file_ids", []))
        elif r.random() < 0.3:
            rec["tool_resources"] = {}
        rec["metadata"] = self.metadata() if r.random() < 0.3 else {}
        if t >= T_USAGE_RUN:
            rec["usage"] = usage if status in TERMINAL_RUN else None
        if not self.v1 or t >= T_RUNOPTS:
            rec["temperature"] = r.choice([1.0, 0.7, 0.2])
            rec["top_p"] = 1.0
            rec["max_completion_tokens"] = r.choice([None, None, 1000, 4096]) if status != "incomplete" else 256
            rec["max_prompt_tokens"] = r.choice([None, None, 20000])
            rec["truncation_strategy"] = r.choice([{"type": "auto", "last_messages": None}, {"type": "last_messages", "last_messages": r.randint(1, 20)}, {"type": "auto"}])
            rec["incomplete_details"] = {"reason": r.choice(["max_completion_tokens", "max_prompt_tokens"])} if status == "incomplete" else None
            rec["response_format"] = a.get("response_format", "auto")
            rec["tool_choice"] = r.choice(["auto", "auto", "none", "required", {"type": "file_search"}, {"type": "code_interpreter"},
                                           {"type": "function", "function": {"name": "get_current_weather"}}, None])
            if t >= T_PARALLEL:
                rec["parallel_tool_calls"] = r.random() < 0.9
        if not self.v1 and r.random() < 0.1:
            rec["reasoning_effort"] = r.choice([None, "medium"])
        self.maybe(rec, ("status", "required_action", "usage", "tools"))
        return rec

    def run_usage(self, run, t):
        r = self.r
        p = run["prompt"]
        c = r.randint(5, 3000)
        u = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
        if t >= gs.T_2025 or r.random() < 0.2:
            k = "prompt_tokens_details" if r.random() < 0.8 else "prompt_token_details"
            u[k] = {"cached_tokens": r.choice([0, 0, 1024, p // 128 * 128])}
            u["completion_tokens_details"] = {"reasoning_tokens": r.choice([0, 0, 64])}
        return u

    def gen_run(self, th, asst, status, t, prompt, plan=None, mutate=True, parts_force=False):
        """One run: (run record, steps, {step id: message}, ra step ids, t_end)."""
        r, g = self.r, self.g
        if self.v1 and status == "incomplete":
            status = "failed"
        run = self.new_run(th, asst, status, t, prompt)
        if plan is None:
            plan = self.run_plan(status)
        steps, smsg, ra_steps, msgs = [], {}, [], []
        cites, images = [], []
        ts = t + r.randint(1, 3)
        g.files = asst[1]
        g.image_files = [f["id"] for f in self.outputs]
        last_calls = []
        for i, kinds in enumerate(plan):
            last = i == len(plan) - 1
            st = "completed"
            if last:
                st = {"requires_action": "in_progress", "queued": "in_progress", "in_progress": "in_progress",
                      "cancelling": "in_progress", "cancelled": "cancelled", "failed": "failed",
                      "expired": "expired"}.get(status, "completed")
            if kinds is None:
                mid_status, reason = "completed", None
                if last and status == "incomplete":
                    mid_status, reason = "incomplete", "max_tokens"
                elif st in ("cancelled", "failed", "expired"):
                    mid_status, reason = "incomplete", "run_" + st
                elif st == "in_progress":
                    mid_status = "in_progress"
                details = {"type": "message_creation", "message_creation": {"message_id": None}}
                rec, t1 = g.step(run, "message_creation", st, ts, details)
                if parts_force == "refusal" or (not self.v1 and ts >= T_REFUSAL and r.random() < 0.04):
                    content = [{"type": "refusal", "refusal": r.choice(REFUSALS)}]
                else:
                    content = [self.text_with_annotations(ts, cites or asst[1][:2], [self.fbyid[x] for x in images if x in self.fbyid] or self.outputs[:1], bool(parts_force))]
                    if images and (parts_force or r.random() < 0.5):
                        content.append({"type": "image_file", "image_file": {"file_id": images[-1]}})
                        if r.random() < 0.3:
                            content.append(self.text_with_annotations(ts, [], [], False))
                msg = self.message(th, "assistant", ts, content, run, mid_status, reason, t1)
                details["message_creation"]["message_id"] = msg["id"]
                smsg[rec["id"]] = msg
                msgs.append(msg)
            elif status in ("requires_action",) and last:
                calls = [g.tc_function("in_progress") for _ in kinds]
                rec, t1 = g.step(run, "tool_calls", "in_progress", ts, {"type": "tool_calls", "tool_calls": calls})
            else:
                rec, t1 = g.tool_step(run, st, ts, kinds)
            if mutate and (self.a.nasty or r.random() < 0.10):
                keep = {k: rec[k] for k in ("id", "run_id", "thread_id", "assistant_id")}
                mc = rec["step_details"].get("message_creation", {}).get("message_id") if rec["type"] == "message_creation" else None
                g.mutate(rec)
                rec["id"] = keep["id"]
                for k in ("run_id", "thread_id", "assistant_id"):
                    if rec.get(k) is not None and rec[k] != keep[k]:
                        rec[k] = keep[k]
                sd = rec.get("step_details")
                if mc and isinstance(sd, dict) and isinstance(sd.get("message_creation"), dict) and "message_id" in sd["message_creation"]:
                    sd["message_creation"]["message_id"] = mc
            calls = g.tool_calls_of(rec) or []
            fcalls = [c for c in calls if isinstance(c, dict) and c.get("type") == "function" and isinstance(c.get("function"), dict)]
            if fcalls and (st == "completed" or (last and status in ("requires_action", "expired"))):
                ra_steps.append(rec["id"])
                if last:
                    last_calls = [{"id": c.get("id"), "type": "function", "function": {"name": c["function"].get("name"), "arguments": c["function"].get("arguments")}} for c in fcalls]
            for c in calls:
                if not isinstance(c, dict):
                    continue
                if c.get("type") == "file_search" and isinstance(c.get("file_search"), dict):
                    res = c["file_search"].get("results") or []
                    for x in res:
                        if isinstance(x, dict) and isinstance(x.get("file_id"), str):
                            cites.append((x["file_id"], x.get("file_name")))
                    if res and any(isinstance(x, dict) and "content" not in x for x in res):
                        self.fs_no_content.append(rec["id"])
                if c.get("type") == "code_interpreter" and isinstance(c.get("code_interpreter"), dict):
                    for o in c["code_interpreter"].get("outputs") or []:
                        if isinstance(o, dict) and o.get("type") == "image" and isinstance(o.get("image"), dict):
                            images.append(o["image"].get("file_id"))
            steps.append(rec)
            ts = t1 + r.randint(0, 2)
        usage = self.run_usage(run, ts)
        rrec = self.run_record(run, asst, status, ts, last_calls, usage)
        return rrec, steps, smsg, ra_steps, msgs, ts

    # ------------------------------------------------------------ threads
    def thread(self, ti):
        """All objects of thread ti: a dict with thread, messages, runs, steps."""
        r, a = self.r, self.a
        n = max(1, a.threads)
        holes = a.holes and ti == n - 1
        t = self.t0 + int((ti + r.random()) * (self.t1 - self.t0) / n)
        if (holes or ti == 0) and not self.v1:
            t = max(t, gs.T_FS_DETAILS + 86400)
        asst = r.choice(self.assistants)
        th = {"id": self.rid("thread_"), "object": "thread", "created_at": t}
        if not self.v1:
            tr = {}
            if r.random() < 0.5:
                tr["code_interpreter"] = {"file_ids": [f["id"] for f in r.sample(self.docs, r.randint(0, 2))]}
            if r.random() < 0.4 and self.vstores:
                tr["file_search"] = {"vector_store_ids": [r.choice(self.vstores)["id"]]}
            th["tool_resources"] = tr if tr or r.random() < 0.5 else None
        th["metadata"] = self.metadata()
        self.maybe(th)
        out = {"thread": th, "messages": [], "runs": [], "steps": {}, "smsg": {}, "ra": set(), "excluded": set(),
               "has_more": set(), "ti": ti}
        turns = []     # (status, plan, mutate, force)
        if ti == 0:
            turns.append(("completed", [["code"], ["fs"], None], True, True))
            if not self.v1:
                turns.append(("completed", [None], True, "refusal"))
        if holes:
            turns.append(("completed", [["fs"], ["func"], None], False, "holeA"))
            turns.append(("completed", [["code"]] * 25 + [None], False, "holeB"))
            turns.append(("completed", [["code"], None], False, "holeC"))
        nt = r.choice([1, 1, 2, 2, 3, 3, 4, 5, 7, 10])
        for k in range(nt):
            if k == nt - 1:
                st = ALL_RUN[ti] if ti < len(ALL_RUN) else r.choice(
                    ["completed"] * 12 + list(ALL_RUN))
            else:
                x = r.random()
                st = "completed" if x < 0.85 else "failed" if x < 0.9 else "cancelled" if x < 0.94 else "incomplete" if x < 0.97 else "expired"
            turns.append((st, None, True, False))
        prompt = r.randint(150, 3000)
        for k, (st, plan, mut, force) in enumerate(turns):
            lost = self.lost_file if force == "holeA" else None
            um = self.user_message(th, t, force is True, lost)
            out["messages"].append(um)
            if r.random() < 0.1:
                t += r.randint(0, 5)
                out["messages"].append(self.user_message(th, t))
            if r.random() < 0.04:    # assistant message added by the client, no run
                out["messages"].append(self.message(th, "assistant", t, [{"type": "text", "text": {"value": r.choice(gs.MESSAGE_TEXTS), "annotations": []}}]))
            if st != "completed" or plan or r.random() < 0.95 or k == len(turns) - 1:
                t += r.choice([0, 0, 1, 2])
                run_asst = asst if r.random() < 0.95 else r.choice(self.assistants)
                rrec, steps, smsg, ra, msgs, te = self.gen_run(th, run_asst, st, t, prompt, plan, mut,
                                                               force if force in (True, "refusal") else False)
                out["runs"].append(rrec)
                out["steps"][rrec["id"]] = steps
                out["smsg"].update(smsg)
                out["ra"].update(ra)
                out["messages"] += msgs
                if force == "holeA":
                    self.hole_a(out, rrec, steps, smsg, um)
                elif force == "holeB":
                    old = steps[:len(steps) - 20]
                    out["excluded"].update(s["id"] for s in old)
                    out["has_more"].add(rrec["id"])
                    self.holes.append({"kind": "steps_page_cut", "run_id": rrec["id"], "steps_total": len(steps),
                                       "steps_present": 20, "missing": [s["id"] for s in old]})
                elif force == "holeC":
                    out["excluded"].add(rrec["id"])
                    self.holes.append({"kind": "run_missing", "id": rrec["id"], "steps": [s["id"] for s in steps]})
                t = te
                prompt += r.randint(200, 3000)
            t += r.randint(5, 900)
        self.excluded |= out["excluded"]
        return out

    def hole_a(self, out, rrec, steps, smsg, um):
        for s in steps:
            if s["id"] in smsg:
                mid = smsg[s["id"]]["id"]
                out["excluded"].add(mid)
                self.holes.append({"kind": "deleted_message", "id": mid, "step_id": s["id"], "run_id": rrec["id"]})
            for c in self.g.tool_calls_of(s) or []:
                if c.get("type") == "function":
                    c["function"]["output"] = None
                    self.holes.append({"kind": "function_without_output", "step_id": s["id"], "call_id": c["id"], "step_status": s["status"]})
        self.holes.append({"kind": "file_missing", "id": self.lost_file["id"], "referenced_by": um["id"]})


T_USAGE_RUN = gs.T_USAGE

# ---------------------------------------------------------------------------
# output


class Out:
    """Bytes to stdout or to files under --out; a formatting RNG separate from
    the history's so every shape carries the same history."""

    def __init__(self, a):
        self.a = a
        self.f = FastRandom(a.seed * 7919 + 104729)
        self.dir = a.out
        self.buf, self.size = [], 0
        self.fh = None if a.out else sys.stdout.buffer

    def emit(self, s):
        self.buf.append(s)
        self.size += len(s)
        if self.size > (1 << 20):
            self.flush()

    def flush(self):
        if self.buf and self.fh is not None:
            self.fh.write("".join(self.buf).encode("utf-8"))
        self.buf, self.size = [], 0

    def open(self, rel):
        """Start a new output file under --out (or keep writing stdout)."""
        if not self.dir:
            return
        self.flush()
        if self.fh is not None:
            self.fh.close()
        p = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        self.fh = open(p, "wb")

    def close(self):
        self.flush()
        if self.dir and self.fh is not None:
            self.fh.close()
            self.fh = None
        elif self.fh is not None:
            self.fh.flush()

    def j(self, obj, style=None):
        f = self.f
        if style is None:
            style = f.choice(["compact", "default", "pretty"])
        ea = f.random() < 0.5
        if style == "pretty":
            return encode(obj, ea, False, 2)
        return encode(obj, ea, style == "compact")


def page(objs, has_more):
    return {"object": "list", "data": objs, "first_id": objs[0]["id"] if objs else None,
            "last_id": objs[-1]["id"] if objs else None, "has_more": has_more}


def desc_pages(objs_asc, limit=20, cut_more=False):
    d = list(reversed(objs_asc))
    if not d:
        return [page([], cut_more)]
    ps = []
    for i in range(0, len(d), limit):
        ps.append(page(d[i:i + limit], i + limit < len(d) or cut_more))
    return ps


def present(items, excl):
    return [x for x in items if x.get("id") not in excl]


class Truth:
    def __init__(self, a):
        self.a = a
        self.fh = open(a.truth, "w", encoding="utf-8") if a.truth else None
        self.counts = {k: 0 for k in KINDS}
        self.threads = {}
        self.first = True
        if self.fh:
            opts = {k: getattr(a, k) for k in ("seed", "threads", "shape", "holes", "v1", "nasty", "cut_streams", "order")}
            self.fh.write('{"format":"gen_history-truth-1","options":' + json.dumps(opts) + ',\n"objects":{\n')

    def add(self, kind, rec, thread_id=None, key=None, rebuilt=False):
        self.counts[kind] += 1
        if not self.fh:
            return
        e = {"kind": kind}
        if thread_id is not None:
            e["thread_id"] = thread_id
        if rebuilt:
            e["rebuilt"] = True
        e["record"] = rec
        self.fh.write(("" if self.first else ",\n") + json.dumps(key or rec["id"]) + ":" + encode(e, False, True))
        self.first = False

    def close(self, hist):
        if not self.fh:
            return
        self.fh.write('\n},\n"counts":' + json.dumps(self.counts) + ',\n"threads":' + json.dumps(self.threads)
                      + ',\n"holes":' + json.dumps(hist.holes) + ',\n"fs_without_content":'
                      + json.dumps([s for s in hist.fs_no_content if s not in hist.excluded]) + "}\n")
        self.fh.close()


def best_state(rec, snapshots):
    """The most advanced of a record and the snapshots streams captured of it
    before (testlib.state_rank; the later among equals: the record)."""
    best = rec
    for s in (snapshots or {}).get(rec.get("id"), []):
        if testlib.state_rank(s) > testlib.state_rank(best):
            best = s
    return best


def truth_thread(tr, th, excl, streamed=None):
    """Record a thread's final objects in the truth (non-sse shapes); streamed:
    id -> snapshots of it in streams the output also holds (HAR)."""
    tid = th["thread"]["id"]
    tr.add("thread", th["thread"])
    ent = {"messages": [], "runs": [], "steps": {}}
    for m in present(th["messages"], excl):
        tr.add("thread.message", best_state(m, streamed), tid)
        ent["messages"].append(m["id"])
    for run in th["runs"]:
        if run["id"] not in excl:
            tr.add("thread.run", best_state(run, streamed), tid)
            ent["runs"].append(run["id"])
        ss = present(th["steps"][run["id"]], excl)
        for s in ss:
            tr.add("thread.run.step", best_state(s, streamed), tid)
        ent["steps"][run["id"]] = [s["id"] for s in ss]
    tr.threads[tid] = ent


def truth_globals(tr, h):
    ex = h.excluded
    for a, _ in h.assistants:
        tr.add("assistant", a)
    for f in h.files:
        if f["id"] not in ex:
            tr.add("file", f)
    for v in h.vstores:
        tr.add("vector_store", v)
    for vf in h.vsfiles:
        tr.add("vector_store.file", vf, key=vf["vector_store_id"] + "/" + vf["id"])


def vsf_of(h, vid):
    return h.vsf[vid]


# ------------------------------------------------------------------ sse


def run_snapshot(final, status, ra=None):
    if final["status"] == status and ra is None:
        return final
    s = dict(final)
    s["status"] = status
    for k in ("cancelled_at", "failed_at", "completed_at", "last_error", "usage", "incomplete_details"):
        if k in s:
            s[k] = None
    if status == "queued" and "started_at" in s:
        s["started_at"] = None
    if "expires_at" in s:
        s["expires_at"] = final["created_at"] + 600 if isinstance(final["created_at"], int) else None
    s["required_action"] = ra
    return s


def message_stream(f, msg):
    """(event, obj) for one assistant message: created, in_progress, deltas, final."""
    base = dict(msg)
    base["content"] = []
    if "status" in base:
        base["status"] = "in_progress"
        for k in ("completed_at", "incomplete_at", "incomplete_details"):
            if k in base:
                base[k] = None
    ev = [("thread.message.created", base), ("thread.message.in_progress", base)]
    mid = msg["id"]
    for i, part in enumerate(msg["content"]):
        t = part.get("type")
        if t == "text":
            value = part["text"]["value"]
            anns = part["text"]["annotations"]
            pos, k, first = 0, 0, True
            for c in gs.chunks(f, value, 12) or [""]:
                pos += len(c)
                d = {"value": c}
                if first:
                    d["annotations"] = []
                    first = False
                ad = []
                while k < len(anns) and anns[k]["end_index"] <= pos:
                    ad.append(dict({"index": k}, **anns[k]))
                    k += 1
                if ad:
                    d["annotations"] = ad
                ev.append(("thread.message.delta", {"id": mid, "object": "thread.message.delta",
                                                    "delta": {"content": [{"index": i, "type": "text", "text": d}]}}))
                if ad and f.random() < 0.2:   # restated annotation: start/end must be replaced, not added
                    ev.append(("thread.message.delta", {"id": mid, "object": "thread.message.delta", "delta": {
                        "content": [{"index": i, "type": "text", "text": {"annotations": [dict(ad[-1])]}}]}}))
        elif t == "refusal":
            for c in gs.chunks(f, part["refusal"], 10):
                ev.append(("thread.message.delta", {"id": mid, "object": "thread.message.delta",
                                                    "delta": {"content": [{"index": i, "type": "refusal", "refusal": c}]}}))
        else:
            ev.append(("thread.message.delta", {"id": mid, "object": "thread.message.delta",
                                                "delta": {"content": [dict({"index": i}, **part)]}}))
    st = msg.get("status", "completed")
    if st in ("completed", "incomplete"):
        ev.append(("thread.message." + st, msg))
    return ev


def run_streams(f, h, th, run, include_thread):
    """The event streams ([(event, obj)...] each) that carry one run."""
    steps = th["steps"][run["id"]]
    st = run["status"]
    streams, cur = [], []
    if include_thread:
        cur.append(("thread.created", th["thread"]))
    cur.append(("thread.run.created", run_snapshot(run, "queued")))
    cur.append(("thread.run.queued", run_snapshot(run, "queued")))
    if st == "queued":
        cur.append(("done", None))
        streams.append(cur)
        return streams
    cur.append(("thread.run.in_progress", run_snapshot(run, "in_progress")))
    for i, s in enumerate(steps):
        sst = s["status"] if s["status"] in gs.TERMINAL else "in_progress"
        last = i == len(steps) - 1
        if sst == "in_progress" and last:
            cur.append(("thread.run.step.created", s))
            msg = th["smsg"].get(s["id"])
            if msg:
                cur += message_stream(f, msg)
            continue
        snap = gs.snapshot(s)
        cur.append(("thread.run.step.created", snap))
        if f.random() < 0.5:
            cur.append(("thread.run.step.in_progress", snap))
        for d in gs.step_deltas(f, s):
            cur.append(("thread.run.step.delta", d))
        if s["id"] in th["ra"] and sst == "completed":
            calls = [{"id": c.get("id"), "type": "function", "function": {"name": c["function"].get("name"), "arguments": c["function"].get("arguments")}}
                     for c in h.g.tool_calls_of(s) or [] if isinstance(c, dict) and c.get("type") == "function" and isinstance(c.get("function"), dict)]
            cur.append(("thread.run.requires_action", run_snapshot(run, "requires_action", {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}})))
            cur.append(("done", None))
            streams.append(cur)
            cur = [("thread.run.queued", run_snapshot(run, "queued")), ("thread.run.in_progress", run_snapshot(run, "in_progress"))]
        msg = th["smsg"].get(s["id"])
        if msg:
            cur += message_stream(f, msg)
        cur.append(("thread.run.step." + sst, s))
    if st == "failed" and f.random() < 0.5:
        err = {"code": "server_error", "message": "Sorry, something went wrong.", "param": None, "type": "server_error"}
        cur.append(("error", {"error": err} if f.random() < 0.5 else err))
    if st == "cancelled":
        cur.append(("thread.run.cancelling", run_snapshot(run, "cancelling")))
    if st != "in_progress":
        cur.append(("thread.run." + st, run))
    cur.append(("done", None))
    streams.append(cur)
    return streams


def sse_text(o, stream, nasty, cut_at=None):
    parts = []
    for n, (name, obj) in enumerate(stream):
        if cut_at is not None and n >= cut_at:
            break
        if o.f.random() < 0.02:
            parts.append(": keep-alive\n\n")
        sp = "" if (nasty and o.f.random() < 0.05) else " "
        parts.append("event: " + name + "\ndata:" + sp + (encode(obj, o.f.random() < 0.5, True) if obj is not None else "[DONE]") + "\n\n")
    return "".join(parts)


class StreamTruth:
    """Rebuilds objects from emitted events (sse truth)."""

    def __init__(self):
        self.obj, self.kind, self.rebuilt, self.order = {}, {}, set(), []

    def feed(self, name, data_json):
        if not name.startswith("thread."):
            return
        d = json.loads(data_json)
        if name.endswith(".delta"):
            cur = self.obj.get(d["id"])
            if cur is not None:
                merge_delta(cur, d["delta"])
                self.rebuilt.add(d["id"])
            return
        kind = d.get("object")
        if d["id"] not in self.obj:
            self.order.append(d["id"])
        elif testlib.state_rank(d) < testlib.state_rank(self.obj[d["id"]]):
            return  # a less advanced state than the one kept (the writer's dedup ranks)
        self.obj[d["id"]] = d
        self.kind[d["id"]] = kind
        self.rebuilt.discard(d["id"])


def write_sse(h, o, tr, threads):
    st = StreamTruth() if tr.fh else None
    for th in threads:
        tid = th["thread"]["id"]
        for ri, run in enumerate(th["runs"]):
            streams = run_streams(o.f, h, th, run, ri == 0 and o.f.random() < 0.5)
            for si, s in enumerate(streams):
                s = [(n, x) for n, x in s if not (isinstance(x, dict) and x.get("id") in th["excluded"])]
                cut = None
                if h.a.cut_streams and si == len(streams) - 1 and o.f.random() < 0.35:
                    idx = [k for k, (n, _) in enumerate(s) if n == "thread.message.delta"]
                    if len(idx) >= 2:
                        cut = idx[o.f.randint(0, len(idx) - 2)] + 1
                o.open("streams/%s/%s.%d.sse" % (tid, run["id"], si))
                text = sse_text(o, s, h.a.nasty, cut)
                o.emit(text)
                if st:
                    for blk in text.split("\n\n"):
                        ls = blk.split("\n")
                        if len(ls) == 2 and ls[0].startswith("event: "):
                            st.feed(ls[0][7:], ls[1][5:].lstrip(" "))
        if st:
            ent = {"messages": [], "runs": [], "steps": {}}
            kmap = {"thread": "thread", "thread.message": "thread.message", "thread.run": "thread.run",
                    "thread.run.step": "thread.run.step", "assistant.run.step": "thread.run.step"}
            for oid in st.order:
                rec = st.obj[oid]
                kind = kmap.get(st.kind[oid], "thread.run.step")
                rb = oid in st.rebuilt
                if rb:
                    strip_index(rec)
                tr.add(kind, rec, None if kind == "thread" else tid, rebuilt=rb)
                if kind == "thread.message":
                    ent["messages"].append(oid)
                elif kind == "thread.run":
                    ent["runs"].append(oid)
                elif kind == "thread.run.step":
                    ent["steps"].setdefault(rec.get("run_id"), []).append(oid)
            tr.threads[tid] = ent
            st.obj.clear(), st.kind.clear(), st.rebuilt.clear(), st.order.clear()


# ------------------------------------------------------------------ other shapes


def write_export(h, o, tr, threads):
    f = o.f
    for th in threads:
        ex = th["excluded"]
        tid = th["thread"]["id"]
        base = "threads/%s/" % tid
        o.open(base + "thread.json")
        o.emit(o.j(th["thread"], "pretty") + "\n")
        pages = desc_pages(present(th["messages"], ex))
        if f.random() < 0.5:
            o.open(base + "messages.json")
            for p in pages:
                o.emit(o.j(p) + "\n")
        else:
            for i, p in enumerate(pages):
                o.open(base + "messages_page%d.json" % (i + 1))
                o.emit(o.j(p) + "\n")
        o.open(base + "runs.json")
        for p in desc_pages(present(th["runs"], ex)):
            o.emit(o.j(p) + "\n")
        for run in th["runs"]:
            o.open(base + "runs/%s/steps.json" % run["id"])
            ss = present(th["steps"][run["id"]], ex)
            o.emit(o.j(page(list(reversed(ss)), run["id"] in th["has_more"])) + "\n")
        truth_thread(tr, th, ex)
        yield


def write_export_globals(h, o):
    ex = h.excluded
    o.open("assistants.json")
    for p in desc_pages([a for a, _ in h.assistants]):
        o.emit(o.j(p) + "\n")
    o.open("files.json")
    o.emit(o.j(page(present(h.files, ex), False)) + "\n")
    if not h.v1:
        o.open("vector_stores.json")
        for p in desc_pages(h.vstores):
            o.emit(o.j(p) + "\n")
        for v in h.vstores:
            o.open("vector_stores/%s/files.json" % v["id"])
            for p in desc_pages(vsf_of(h, v["id"])):
                o.emit(o.j(p) + "\n")


def thread_objects(th):
    ex = th["excluded"]
    yield th["thread"]
    for m in present(th["messages"], ex):
        yield m
    for run in th["runs"]:
        if run["id"] not in ex:
            yield run
        for s in present(th["steps"][run["id"]], ex):
            yield s


def global_objects(h):
    for a, _ in h.assistants:
        yield a
    for x in present(h.files, h.excluded):
        yield x
    for x in h.vstores:
        yield x
    for x in h.vsfiles:
        yield x


def write_jsonl(h, o, tr, threads):
    win = []
    shuffle = h.a.order == "shuffled"

    def put(obj):
        line = o.j(obj, "compact" if o.f.random() < 0.5 else "default") + "\n"
        if shuffle:
            win.append(line)
            if len(win) >= 4096:
                o.f.shuffle(win)
                o.emit("".join(win))
                win.clear()
        else:
            o.emit(line)
    o.open("history.jsonl")
    for x in global_objects(h):
        put(x)
    for th in threads:
        for x in thread_objects(th):
            put(x)
        truth_thread(tr, th, th["excluded"])
        yield
    o.f.shuffle(win)
    o.emit("".join(win))


def wrap_deep(f, v):
    for _ in range(f.randint(1, 6)):
        x = f.randrange(3)
        v = {"payload": v} if x == 0 else [v] if x == 1 else {"data": {"result": v, "ok": True}}
    return v


def recording(f, entries):
    out = []
    for method, uri, body in entries:
        b = body if f.random() < 0.5 else encode(body, False, True)
        out.append({"RequestUri": uri, "RequestMethod": method, "request": {"method": method, "uri": uri, "headers": {"OpenAI-Beta": "assistants=v2"}},
                    "response": {"status": {"code": 200, "message": "OK"}, "headers": {"content-type": ["application/json"]}, "body": b}})
    return {"entries": out, "Variables": {}}


def thread_requests(th):
    ex = th["excluded"]
    tid = th["thread"]["id"]
    base = "https://api.openai.com/v1/threads/" + tid
    yield "GET", base, th["thread"]
    for p in desc_pages(present(th["messages"], ex)):
        yield "GET", base + "/messages?limit=20&order=desc" + ("&after=" + p["first_id"] if p["first_id"] else ""), p
    for p in desc_pages(present(th["runs"], ex)):
        yield "GET", base + "/runs?limit=20", p
    for run in th["runs"]:
        ss = present(th["steps"][run["id"]], ex)
        yield "GET", base + "/runs/%s/steps?limit=%d" % (run["id"], 20 if run["id"] in th["has_more"] else 100), \
            page(list(reversed(ss)), run["id"] in th["has_more"])


def global_requests(h):
    u = "https://api.openai.com/v1/"
    for p in desc_pages([a for a, _ in h.assistants]):
        yield "GET", u + "assistants?limit=20", p
    yield "GET", u + "files", page(present(h.files, h.excluded), False)
    for p in desc_pages(h.vstores):
        yield "GET", u + "vector_stores?limit=20", p
    for v in h.vstores:
        for p in desc_pages(vsf_of(h, v["id"])):
            yield "GET", u + "vector_stores/%s/files" % v["id"], p


def write_nested(h, o, tr, threads):
    f = o.f
    o.open("globals.json")
    g = {"assistants": page([a for a, _ in h.assistants], False), "files": present(h.files, h.excluded),
         "vector_stores": [{"vector_store": v, "files": vsf_of(h, v["id"])} for v in h.vstores]}
    o.emit(o.j(g) + "\n")
    for th in threads:
        ex = th["excluded"]
        o.open("threads/%s.json" % th["thread"]["id"])
        x = f.randrange(3)
        if x == 0:
            doc = {"thread": th["thread"], "messages": list(reversed(present(th["messages"], ex))),
                   "runs": [{"run": r if r["id"] not in ex else None, "steps": list(reversed(present(th["steps"][r["id"]], ex)))} for r in th["runs"]]}
        elif x == 1:
            doc = recording(f, list(thread_requests(th)))
        else:
            doc = {"export": {"version": 1, "items": [wrap_deep(f, obj) for obj in thread_objects(th)]}}
        o.emit(o.j(doc) + "\n")
        truth_thread(tr, th, ex)
        yield


def har_entry(f, method, url, text, mime):
    content = {"size": len(text.encode("utf-8")), "mimeType": mime, "text": text}
    if f.random() < 0.2:
        content["text"] = base64.b64encode(text.encode("utf-8")).decode("ascii")
        content["encoding"] = "base64"
    return {"startedDateTime": "2024-06-01T12:00:00.000Z", "time": f.randint(50, 5000),
            "request": {"method": method, "url": url, "httpVersion": "HTTP/1.1", "headers": [{"name": "OpenAI-Beta", "value": "assistants=v2"}],
                        "queryString": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [{"name": "content-type", "value": mime}],
                         "content": content, "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 1}}


def write_har(h, o, tr, threads):
    f = o.f
    o.open("history.har")
    o.emit('{"log":{"version":"1.2","creator":{"name":"gen_history","version":"1"},"entries":[\n')
    first = [True]

    def put(e):
        o.emit(("" if first[0] else ",\n") + encode(e, f.random() < 0.5, True))
        first[0] = False
    for m, u, b in global_requests(h):
        put(har_entry(f, m, u, o.j(b), "application/json"))
    for th in threads:
        ex = th["excluded"]
        streamed = {}
        for run in th["runs"]:
            if run["id"] in ex or f.random() < 0.6:
                continue
            for s in run_streams(f, h, th, run, False):
                s = [(n, x) for n, x in s if not (isinstance(x, dict) and x.get("id") in ex)]
                for n, x in s:
                    if isinstance(x, dict) and not n.endswith(".delta") and "id" in x:
                        streamed.setdefault(x["id"], []).append(x)
                put(har_entry(f, "POST", "https://api.openai.com/v1/threads/%s/runs" % th["thread"]["id"], sse_text(o, s, False), "text/event-stream"))
        for m, u, b in thread_requests(th):
            put(har_entry(f, m, u, o.j(b), "application/json"))
        truth_thread(tr, th, ex, streamed)
        yield
    o.emit("\n]}}\n")


def node_page(p, path, after):
    q = {"limit": 20, "order": "desc"}
    if after:
        q["after"] = after
    return {"options": {"method": "get", "path": path, "query": q, "headers": {"OpenAI-Beta": "assistants=v2"}},
            "response": {}, "body": p, "data": p["data"], "has_more": p["has_more"]}


def write_node(h, o, tr, threads):
    def pages(path, ps):
        after = None
        for p in ps:
            o.emit(encode(node_page(p, path, after), False, True) + "\n")
            after = p["last_id"]
    o.open("pages.jsonl")
    pages("/assistants", desc_pages([a for a, _ in h.assistants]))
    pages("/files", [page(present(h.files, h.excluded), False)])
    pages("/vector_stores", desc_pages(h.vstores))
    for v in h.vstores:
        pages("/vector_stores/%s/files" % v["id"], desc_pages(vsf_of(h, v["id"])))
    for th in threads:
        ex = th["excluded"]
        tid = th["thread"]["id"]
        o.emit(encode(th["thread"], False, True) + "\n")
        pages("/threads/%s/messages" % tid, desc_pages(present(th["messages"], ex)))
        pages("/threads/%s/runs" % tid, desc_pages(present(th["runs"], ex)))
        for run in th["runs"]:
            ss = present(th["steps"][run["id"]], ex)
            pages("/threads/%s/runs/%s/steps" % (tid, run["id"]), [page(list(reversed(ss)), run["id"] in th["has_more"])])
        truth_thread(tr, th, ex)
        yield


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate whole OpenAI Assistants histories (see the module docstring).")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--threads", type=int, default=10)
    ap.add_argument("--shape", choices=["export", "jsonl", "sse", "nested", "har", "node-page"], default="jsonl")
    ap.add_argument("--out", help="output directory (required for export)")
    ap.add_argument("--truth", help="write the ground truth JSON here")
    ap.add_argument("--holes", action="store_true")
    ap.add_argument("--v1", action="store_true")
    ap.add_argument("--nasty", action="store_true")
    ap.add_argument("--cut-streams", action="store_true")
    ap.add_argument("--order", choices=["ordered", "shuffled"], default="ordered")
    a = ap.parse_args(argv)
    if a.threads < 1:
        ap.error("--threads must be >= 1")
    if a.shape == "export" and not a.out:
        ap.error("--shape export needs --out DIR")
    h = History(a)
    o = Out(a)
    tr = Truth(a)
    if a.shape != "sse":
        truth_globals(tr, h)
    threads_iter = (h.thread(i) for i in range(a.threads))
    if a.shape == "sse":
        write_sse(h, o, tr, threads_iter)
    else:
        w = {"export": write_export, "jsonl": write_jsonl, "nested": write_nested, "har": write_har,
             "node-page": write_node}[a.shape]
        for _ in w(h, o, tr, threads_iter):
            pass
        if a.shape == "export":
            write_export_globals(h, o)
    o.close()
    tr.close(h)


if __name__ == "__main__":
    main()
