"""Checks of `steparc transcript` (run by tests/cli/test_transcript.sh).

    check_transcript.py order CAT.jsonl THREAD FILE text|html
        FILE (a transcript, or a browser's DOM dump) holds every message and
        every tool call of THREAD exactly once, in the order a brute force over
        the records (`steparc cat` output) demands: messages by (created_at,
        ordinal); a run's tool calls by (step created_at, ordinal), after the
        user message that started the run and before the message a later
        message_creation step of the run creates; each message's text.
Prints nothing and exits 0 when it holds, else says what broke (exit 1)."""

import html
import json
import sys


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def records(cat, thread):
    out = []
    with open(cat, encoding="utf-8") as f:
        for ordinal, line in enumerate(f.read().split("\n")):
            if not line:
                continue
            r = json.loads(line)
            if r.get("thread_id") == thread or (r.get("object") == "thread" and r.get("id") == thread):
                out.append((ordinal, r))
    return out


def positions(doc, needle):
    found, i = [], doc.find(needle)
    while i >= 0:
        found.append(i)
        i = doc.find(needle, i + 1)
    return found


def order(cat, thread, path, fmt):
    doc = open(path, encoding="utf-8").read()
    recs = records(cat, thread)
    msgs = sorted([(r.get("created_at", 0), o, r) for o, r in recs if r.get("object") == "thread.message"],
                  key=lambda t: (t[0], t[1]))
    steps = sorted([(r.get("created_at", 0), o, r) for o, r in recs
                    if r.get("object") in ("thread.run.step", "assistant.run.step")],
                   key=lambda t: (t[0], t[1]))
    runs = {r["id"]: r for o, r in recs if r.get("object") == "thread.run"}

    def marker(ident):
        return 'data-id="%s"' % html.escape(ident).replace("&#x27;", "&#39;") if fmt == "html" else "· " + ident

    def where(ident, what):
        p = [i for i in positions(doc, marker(ident))
             if fmt == "html" or doc[i + len(marker(ident)):i + len(marker(ident)) + 1] in ("\n", " ")]
        if len(p) != 1:
            fail("%s %s appears %d times (want 1)" % (what, ident, len(p)))
        return p[0]

    mpos = {}
    last = -1
    for t, o, m in msgs:
        p = where(m["id"], "message")
        if p < last:
            fail("message %s out of order" % m["id"])
        last = mpos[m["id"]] = p
        for part in m.get("content") or []:
            v = (part.get("text") or {}).get("value") if isinstance(part, dict) else None
            if v:
                head = v.split("\n")[0][:30].split("【")[0]
                if fmt == "html":
                    head = html.escape(head).replace("&#x27;", "&#39;")
                if head and doc.find(head, p) < 0:
                    fail("text of message %s missing: %r" % (m["id"], head))
    calls = 0
    for run_id in {s[2].get("run_id") for s in steps}:
        rsteps = [s for s in steps if s[2].get("run_id") == run_id]
        run = runs.get(run_id, {})
        rt = run.get("created_at", rsteps[0][0])
        starters = [m for m in msgs if m[2].get("role") == "user" and m[0] <= rt]
        lo = mpos[starters[-1][2]["id"]] if starters else -1
        prev = -1
        for k, (t, o, s) in enumerate(rsteps):
            det = s.get("step_details") or {}
            for tc in det.get("tool_calls") or []:
                p = where(tc["id"], "tool call")
                calls += 1
                if p < prev or p < lo:
                    fail("tool call %s out of order" % tc["id"])
                prev = p
                for later in rsteps[k + 1:]:
                    mid = ((later[2].get("step_details") or {}).get("message_creation") or {}).get("message_id")
                    if mid in mpos and p > mpos[mid]:
                        fail("tool call %s after message %s its run wrote later" % (tc["id"], mid))
    if not msgs:
        fail("no messages for thread %s" % thread)
    return calls


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "order":
        order(*sys.argv[2:])
    else:
        fail(__doc__)
