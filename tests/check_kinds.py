"""check_kinds.py - `steparc find --kind`, `cat --kind`, the own-id rule of
--thread/--run/--assistant and `info --json` kinds, on an archive of every
kind, against a brute-force scan of the records (tests/cli/test_kinds.sh).

    python3 tests/checks.py kinds BIN LIBDIR WORKDIR

The records are hand-written JSONL (tests/gen_history.py-like, small and
fixed). The archive is written through the Python binding's writer, which
takes any object; when `steparc convert` archives every kind too (issue 13),
the converted archive is checked the same way, else that part is a SKIP."""

import os
import sys

from testlib import Problems, dumps, lines_of, run

KINDS = ("other", "step", "message", "run", "thread", "assistant", "file", "vector_store",
         "vector_store_file")
OBJECTS = {"thread.run.step": "step", "thread.message": "message", "thread.run": "run",
           "thread": "thread", "assistant": "assistant", "file": "file",
           "vector_store": "vector_store", "vector_store.file": "vector_store_file"}


def kind_of(r):
    o = r.get("object")
    return OBJECTS.get(o, "other") if isinstance(o, str) else "other"


def history():
    """Every kind, ids shared across kinds (a file and its vector_store.file),
    steps with tool calls, runs of several statuses, records of no kind."""
    recs = [{"id": "asst_%d" % a, "object": "assistant", "created_at": 1700000000 + a,
             "model": "gpt-4o"} for a in range(3)]
    recs += [{"id": "file-%d" % f, "object": "file", "created_at": 1700000100 + f,
              "purpose": "assistants"} for f in range(4)]
    recs.append({"id": "vs_1", "object": "vector_store", "created_at": 1700000200,
                 "status": "completed"})
    recs += [{"id": "file-%d" % f, "object": "vector_store.file", "vector_store_id": "vs_1",
              "created_at": 1700000300 + f, "status": "completed"} for f in range(3)]
    t0 = 1700001000
    for t in range(8):
        th, asst = "thread_%d" % t, "asst_%d" % (t % 3)
        tt = t0 + 1000 * t
        recs.append({"id": th, "object": "thread", "created_at": tt, "metadata": {}})
        for r in range(1 + t % 3):
            run_id = "run_%d_%d" % (t, r)
            recs.append({"id": "msg_%d_%d" % (t, r), "object": "thread.message",
                         "created_at": tt + 10 * r, "thread_id": th, "role": "user",
                         "status": "completed", "assistant_id": None, "run_id": None})
            recs.append({"id": run_id, "object": "thread.run", "created_at": tt + 10 * r + 1,
                         "thread_id": th, "assistant_id": asst,
                         "status": ("completed", "failed", "requires_action")[(t + r) % 3],
                         "usage": {"prompt_tokens": 10 + t, "completion_tokens": r,
                                   "total_tokens": 10 + t + r}})
            for k in range(3):
                tools = [] if k == 0 else [{"id": "call_%d" % k, "type": ("function",
                                                                           "code_interpreter")[k % 2]}]
                recs.append({"id": "step_%d_%d_%d" % (t, r, k), "object": "thread.run.step",
                             "created_at": tt + 10 * r + 2, "run_id": run_id, "thread_id": th,
                             "assistant_id": asst,
                             "type": "tool_calls" if tools else "message_creation",
                             "status": "failed" if k == 2 and t % 2 else "completed",
                             "step_details": {"type": "tool_calls", "tool_calls": tools}
                             if tools else {"type": "message_creation"}})
            recs.append({"id": "msg_%d_%d_r" % (t, r), "object": "thread.message",
                         "created_at": tt + 10 * r + 3, "thread_id": th, "role": "assistant",
                         "status": "completed", "assistant_id": asst, "run_id": run_id})
    recs += [{"id": "batch_1", "object": "batch", "created_at": 1700009000},
             {"id": "noobj_1", "status": "completed"}]
    return recs


def matches(r, kinds, flt):
    k = kind_of(r)
    if kinds and k not in kinds:
        return False
    for opt, field, own in (("--run", "run_id", "run"), ("--thread", "thread_id", "thread"),
                            ("--assistant", "assistant_id", "assistant")):
        v = flt.get(opt)
        if v is not None and r.get(field) != v and not (k == own and r.get("id") == v):
            return False
    for opt, field in (("--status", "status"), ("--type", "type")):
        if opt in flt and r.get(field) != flt[opt]:
            return False
    if "--tool" in flt:
        sd = r.get("step_details")
        tc = sd.get("tool_calls") if isinstance(sd, dict) else None
        if not (isinstance(tc, list) and any(isinstance(c, dict) and c.get("type") == flt["--tool"]
                                             for c in tc)):
            return False
    t = r.get("created_at")
    if "--since" in flt and not (isinstance(t, int) and t >= int(flt["--since"])):
        return False
    if "--until" in flt and not (isinstance(t, int) and t <= int(flt["--until"])):
        return False
    if "--id" in flt and r.get("id") != flt["--id"]:
        return False
    return True


FILTERS = [{}, {"--thread": "thread_4"}, {"--run": "run_5_2"}, {"--assistant": "asst_1"},
           {"--status": "completed"}, {"--type": "tool_calls"}, {"--tool": "function"},
           {"--since": "1700004000"}, {"--until": "1700003005"},
           {"--thread": "thread_7", "--status": "completed"},
           {"--run": "run_2_2", "--assistant": "asst_2"}, {"--id": "thread_3"}]
KIND_ARGS = [["step"], ["message"], ["run"], ["thread"], ["assistant"], ["file"],
             ["vector_store"], ["vector_store_file"], ["other"], ["thread.run.step"],
             ["vector_store.file"], ["message,run"], ["thread", "message"],
             ["step,message,run,thread,assistant,file,vector_store,vector_store_file,other"]]


def norm(k):
    return OBJECTS.get(k, k)


def check_archive(p, bin_, arc, recs, label):
    name = "kinds_%s_find" % label
    for kargs in KIND_ARGS + [[]]:
        kinds = {norm(k) for a in kargs for k in a.split(",")}
        for flt in FILTERS:
            if not kargs and not flt:
                continue
            args = ["find", arc]
            for a in kargs:
                args += ["--kind", a]
            for o, v in flt.items():
                args += [o, v]
            want = [dumps(r) for r in recs if matches(r, kinds, flt)]
            if "--id" in flt:  # the id index gives the first record of that id
                want = want[:1] if [dumps(r) for r in recs if r.get("id") == flt["--id"]][:1] == want[:1] else []
            rc, out, err = run(bin_, args)
            got = [l.decode() for l in lines_of(out)]
            p.note(name, rc == 0 and got == want,
                   lambda: "%s: exit %s, %d lines, want %d (%s)" % (" ".join(args[2:]), rc,
                                                                    len(got), len(want), err[:200]))
    # --thread T: the thread itself first, then its messages, runs and steps
    rc, out, _ = run(bin_, ["find", arc, "--thread", "thread_2"])
    got = [l.decode() for l in lines_of(out)]
    kinds = [kind_of(r) for r in recs if matches(r, set(), {"--thread": "thread_2"})]
    p.note("kinds_%s_thread_itself" % label,
           rc == 0 and got and got[0] == dumps(recs[[r.get("id") for r in recs].index("thread_2")])
           and set(kinds) == {"thread", "message", "run", "step"} and len(got) == len(kinds),
           "find --thread thread_2: %d lines, want %d" % (len(got), len(kinds)))
    # cat --kind, JSONL (parallel export) and --format json / --order desc
    for kargs in KIND_ARGS:
        kinds = {norm(k) for a in kargs for k in a.split(",")}
        want = [dumps(r) for r in recs if kind_of(r) in kinds]
        for extra in ([], ["-j", "1"], ["-j", "3"], ["--order", "desc"]):
            args = ["cat", arc] + extra
            for a in kargs:
                args += ["--kind", a]
            rc, out, err = run(bin_, args)
            got = [l.decode() for l in lines_of(out)]
            w = want[::-1] if "desc" in extra else want
            p.note("kinds_%s_cat" % label, rc == 0 and got == w,
                   lambda: "%s: exit %s, %d lines, want %d" % (" ".join(args[2:]), rc, len(got),
                                                               len(w)))
    # an unknown kind is a usage error
    for cmd in (["find", arc, "--kind", "bogus"], ["cat", arc, "--kind", "step,bogus"],
                ["find", arc, "--kind", ""]):
        rc, out, err = run(bin_, cmd)
        p.note("kinds_%s_unknown_kind" % label, rc == 2 and out == b"" and b"unknown kind" in err,
               "%s: exit %s" % (" ".join(cmd), rc))


def check_info(p, bin_, arc, recs, label):
    import json
    rc, out, err = run(bin_, ["info", "--json", arc])
    doc = json.loads(out) if rc == 0 else {}
    ks = doc.get("kinds", "missing")
    want = {k: 0 for k in KINDS}
    for r in recs:
        want[kind_of(r)] += 1
    if ks is None:  # no by_kind in the statistics: only before format 1.3
        p.note("kinds_%s_info" % label, doc.get("format", "1.3") < "1.3",
               "kinds null in a %s archive" % doc.get("format"))
    else:
        p.note("kinds_%s_info" % label, ks == want, "info kinds %r, want %r" % (ks, want))
    rc, out, err = run(bin_, ["info", arc])
    p.note("kinds_%s_info" % label, rc == 0 and b"kinds:" in out, "info text: no kinds line")
    rc, out, err = run(bin_, ["stats", "--json", arc])
    doc = json.loads(out) if rc == 0 else {}
    by_kind = dict(doc.get("by_kind", {}))
    p.note("kinds_%s_stats" % label, by_kind == {k: v for k, v in want.items() if v},
           "stats by_kind %r" % by_kind)
    runs = [r for r in recs if kind_of(r) == "run"]
    rs = doc.get("runs", {})
    st = {}
    for r in runs:
        st[r["status"]] = st.get(r["status"], 0) + 1
    tok = sum(r["usage"]["total_tokens"] for r in runs)
    p.note("kinds_%s_stats" % label,
           rs.get("records") == len(runs) and rs.get("by_status") == st and
           rs.get("tokens", {}).get("total_tokens") == tok and
           sum(dict(doc.get("by_type", {})).values()) == want["step"],
           "stats runs %r" % rs)


def main(argv):
    bin_, libdir, work = argv[:3]
    os.environ["STEPARC_LIB"] = libdir
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "bindings", "python"))
    import steparc
    recs = history()
    jsonl = os.path.join(work, "history.jsonl")
    with open(jsonl, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(dumps(r) + "\n")
    arc = os.path.join(work, "kinds.steparc")
    with steparc.create(arc, block_size=1024, fsync=False) as w:
        for r in recs:
            w.add(r)
    p = Problems()
    check_archive(p, bin_, arc, recs, "written")
    check_info(p, bin_, arc, recs, "written")
    p.report()
    # the converter's archive, once it keeps every kind (issue 13)
    conv = os.path.join(work, "conv.steparc")
    rc, out, err = run(bin_, ["convert", jsonl, "-o", conv, "--block-size", "1024", "-q"])
    n = None
    if rc == 0:
        with steparc.open(conv) as a:
            n = len(a)
    if n != len(recs) - 2:  # every kind, the two without one skipped
        print("SKIP kinds_converted the converter archives %s of %d records (steps only?)"
              % (n, len(recs) - 2))
        return 0
    known = [r for r in recs if kind_of(r) != "other"]
    p2 = Problems()
    check_archive(p2, bin_, conv, known, "converted")
    check_info(p2, bin_, conv, known, "converted")
    p2.report()
    return 0
