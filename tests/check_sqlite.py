#!/usr/bin/env python3
"""The SQL extension (build/steparc_sqlite.so) and `steparc export --sqlite`,
through Python's sqlite3 module (tests/cli/test_sqlite.sh).

    check_sqlite.py prep OUT.steparc SEED THREADS   a generated history (every kind),
                                                    written through the binding's writer
    check_sqlite.py main EXT ARCHIVE BIN WORKDIR   the checks

Every table's rows (count, columns, json) are compared with a brute-force
computation over the archive's records read through the Python binding
(Archive.get_json, then json.loads): the column rules of docs/SQL.md written
again in Python. Each pushed-down constraint (id, thread_id, run_id,
assistant_id =, IN, created_at ranges) gives the rows of the same query with
the pushdown defeated (+col), and EXPLAIN QUERY PLAN names the index used.
The export's tables equal the extension's and carry the indexes."""

import json
import os
import random
import sqlite3
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "bindings", "python"))
from testlib import Problems, check  # noqa: E402

KINDS = {"thread.run.step": "step", "assistant.run.step": "step", "thread.message": "message",
         "thread.run": "run", "thread": "thread", "assistant": "assistant", "file": "file",
         "vector_store": "vector_store", "vector_store.file": "vector_store_file"}
I64 = (-2**63, 2**63 - 1)


def s(v):
    return v if isinstance(v, str) else None


def i(v):
    return v if isinstance(v, int) and not isinstance(v, bool) and I64[0] <= v <= I64[1] else None


def r(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, float):
        return v
    return float(v) if i(v) is not None else None


def d(v):
    return v if isinstance(v, dict) else {}


def objs(v):
    """An array of objects (else the view has it as OTHER: None)."""
    return v if isinstance(v, list) and all(isinstance(x, dict) for x in v) else None


def count(v):
    a = objs(v)
    return None if a is None else len(a)


def duration(o):
    a, b = i(o.get("created_at")), i(o.get("completed_at"))
    if a is None or b is None or not (I64[0] <= b - a <= I64[1]):
        return None
    return b - a


def err(o):
    e = d(o.get("last_error"))
    return s(e.get("code")), s(e.get("message"))


def sub(o, *path):
    for k in path:
        o = d(o).get(k)
    return o


def join(parts):
    return "\n".join(parts) if parts else None


def step_row(o):
    u = d(o.get("usage"))
    det = d(o.get("step_details"))
    tcs = count(det.get("tool_calls")) if "step_details" in o and isinstance(o["step_details"], dict) else None
    return (s(o.get("id")), i(o.get("created_at")), s(o.get("run_id")), s(o.get("assistant_id")),
            s(o.get("thread_id")), s(o.get("type")), s(o.get("status")), i(o.get("cancelled_at")),
            i(o.get("completed_at")), i(o.get("expires_at")), i(o.get("expired_at")),
            i(o.get("failed_at"))) + err(o) + (
            s(sub(det, "message_creation", "message_id")), tcs,
            i(u.get("prompt_tokens")), i(u.get("completion_tokens")), i(u.get("total_tokens")),
            i(sub(u, "prompt_tokens_details", "cached_tokens")),
            i(sub(u, "completion_tokens_details", "reasoning_tokens")), duration(o))


def message_row(o):
    content = objs(o.get("content"))
    texts = [p["text"]["value"] for p in content or []
             if isinstance(p.get("text"), dict) and isinstance(p["text"].get("value"), str)]
    return (s(o.get("id")), i(o.get("created_at")), s(o.get("thread_id")), s(o.get("status")),
            s(sub(o, "incomplete_details", "reason")), i(o.get("completed_at")),
            i(o.get("incomplete_at")), s(o.get("role")), join(texts), s(o.get("assistant_id")),
            s(o.get("run_id")), count(o.get("content")), count(o.get("attachments")), duration(o))


def run_row(o):
    u = d(o.get("usage"))
    p = o.get("parallel_tool_calls")
    return (s(o.get("id")), i(o.get("created_at")), s(o.get("thread_id")),
            s(o.get("assistant_id")), s(o.get("status")), s(sub(o, "required_action", "type"))) + \
        err(o) + (i(o.get("expires_at")), i(o.get("started_at")), i(o.get("cancelled_at")),
                  i(o.get("failed_at")), i(o.get("completed_at")),
                  s(sub(o, "incomplete_details", "reason")), s(o.get("model")),
                  s(o.get("instructions")), count(o.get("tools")), r(o.get("temperature")),
                  r(o.get("top_p")), i(o.get("max_prompt_tokens")),
                  i(o.get("max_completion_tokens")), s(sub(o, "truncation_strategy", "type")),
                  int(p) if isinstance(p, bool) else None,
                  i(u.get("prompt_tokens")), i(u.get("completion_tokens")), i(u.get("total_tokens")),
                  i(sub(u, "prompt_tokens_details", "cached_tokens")),
                  i(sub(u, "completion_tokens_details", "reasoning_tokens")), duration(o))


def thread_row(o):
    return (s(o.get("id")), i(o.get("created_at")))


def assistant_row(o):
    return (s(o.get("id")), i(o.get("created_at")), s(o.get("name")), s(o.get("description")),
            s(o.get("model")), s(o.get("instructions")), count(o.get("tools")),
            r(o.get("temperature")), r(o.get("top_p")))


def tool_call_rows(o):
    det = o.get("step_details")
    calls = objs(det.get("tool_calls")) if isinstance(det, dict) else None
    out = []
    for k, tc in enumerate(calls or []):
        fn = tc.get("function") if isinstance(tc.get("function"), dict) else None
        ci = tc.get("code_interpreter") if isinstance(tc.get("code_interpreter"), dict) else None
        fs = tc.get("file_search") if isinstance(tc.get("file_search"), dict) else None
        logs = None
        if ci is not None:
            outs = objs(ci.get("outputs"))
            logs = join([x["logs"] for x in outs or [] if isinstance(x.get("logs"), str)])
        out.append((s(o.get("id")), i(o.get("created_at")), s(o.get("thread_id")),
                    s(o.get("run_id")), s(o.get("assistant_id")), s(o.get("status")), k,
                    s(tc.get("id")), s(tc.get("type")),
                    s(fn.get("name")) if fn else None, s(fn.get("arguments")) if fn else None,
                    s(fn.get("output")) if fn else None, s(ci.get("input")) if ci else None, logs,
                    count(fs.get("results")) if fs else None))
    return out


def record_row(o):
    return (KINDS.get(o.get("object"), "other") if isinstance(o.get("object"), str) else "other",
            s(o.get("id")), i(o.get("created_at")), s(o.get("thread_id")), s(o.get("run_id")),
            s(o.get("assistant_id")))


TABLES = {  # function -> (kind, rows of one record)
    "steps": ("step", lambda o: [step_row(o)]),
    "messages": ("message", lambda o: [message_row(o)]),
    "runs": ("run", lambda o: [run_row(o)]),
    "threads": ("thread", lambda o: [thread_row(o)]),
    "assistants": ("assistant", lambda o: [assistant_row(o)]),
    "tool_calls": ("step", tool_call_rows),
    "records": (None, lambda o: [record_row(o)]),
}


def expected(records):
    """records: [(kind, json text, object)] -> {table: [row + (json,)]}"""
    out = {}
    for name, (kind, fn) in TABLES.items():
        out[name] = [row + (js,) for k, js, o in records if kind is None or k == kind
                     for row in fn(o)]
    return out


def same_value(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and float(a) == float(b)
    return a == b and type(a) is type(b)


def connect(ext):
    con = sqlite3.connect(":memory:")
    con.enable_load_extension(True)
    con.load_extension(ext)
    con.enable_load_extension(False)
    return con


def prep_main(argv):
    out, seed, threads = argv[0], argv[1], argv[2]
    import steparc
    gen = subprocess.run([sys.executable, os.path.join(HERE, "gen_history.py"), "--seed", seed,
                          "--threads", threads, "--shape", "jsonl", "--nasty"],
                         capture_output=True, check=True).stdout
    n = 0
    with steparc.create(out, block_size=4096, fsync=False) as w:
        for line in gen.decode("utf-8").split("\n"):
            if line:
                w.add(line)
                n += 1
    print("prep: %d records" % n, file=sys.stderr)
    return 0


def main(argv):
    ext, arc, bin_, work = argv[:4]
    import steparc
    with steparc.Archive(arc) as a:
        records = []
        for n in range(len(a)):
            js = a.get_json(n)
            o = json.loads(js)
            obj = o.get("object")
            records.append((KINDS.get(obj, "other") if isinstance(obj, str) else "other", js, o))
    exp = expected(records)
    kinds = {k for k, _, _ in records}
    check("sqlite_history_has_every_kind",
          {"step", "message", "run", "thread", "assistant", "file"} <= kinds, sorted(kinds))
    try:
        con = connect(ext)
    except Exception as e:  # noqa: BLE001
        check("sqlite_load_extension_python", False, repr(e))
        return 1
    check("sqlite_load_extension_python", True)
    q = Problems()
    for name in TABLES:
        cols = [c[1] for c in con.execute("PRAGMA table_xinfo(steparc_%s)" % name)]
        got = con.execute("SELECT * FROM steparc_%s(?)" % name, (arc,)).fetchall()
        want = exp[name]
        q.note("sqlite_%s_row_count" % name, len(got) == len(want),
               lambda: "%d rows, %d expected" % (len(got), len(want)))
        q.note("sqlite_%s_json_column" % name, [g[-1] for g in got] == [w[-1] for w in want],
               "json column differs")
        bad = [(cols[c], g[c], w[c], g[0]) for g, w in zip(got, want)
               for c in range(len(w) - 1) if not same_value(g[c], w[c])]
        q.note("sqlite_%s_columns" % name, not bad, lambda: "%d values differ: %r" % (len(bad), bad[:3]))
        q.note("sqlite_%s_json_last" % name, cols[len(want[0]) - 1 if want else -2] == "json"
               if want else True, "json is not the last visible column: %r" % cols)
    q.report()
    pushdown(con, arc, records)
    named_table(con, arc)
    export(con, arc, bin_, work)
    return 0


def plan(con, sql, args):
    return " ".join(r[-1] for r in con.execute("EXPLAIN QUERY PLAN " + sql, args))


def pushdown(con, arc, records):
    rnd = random.Random(7)
    q = Problems()

    def values(col, kind=None):
        vals = sorted({o.get(col) for k, _, o in records
                       if isinstance(o.get(col), str) and (kind is None or k == kind)})
        return rnd.sample(vals, min(6, len(vals))) + ["no_such_" + col]

    def same(name, table, where, args, token):
        fast = "SELECT * FROM steparc_%s(?) WHERE %s" % (table, where)
        slow = fast.replace(" WHERE ", " WHERE +", 1) if " IN " not in where else \
            "SELECT * FROM steparc_%s(?) WHERE +%s" % (table, where)
        a = sorted(con.execute(fast, (arc,) + args).fetchall(), key=repr)
        b = sorted(con.execute(slow, (arc,) + args).fetchall(), key=repr)
        q.note("sqlite_pushdown_%s_same_rows" % name, a == b,
               lambda: "%s %r: %d rows, a scan gives %d" % (where, args, len(a), len(b)))
        p = plan(con, fast, (arc,) + args)
        q.note("sqlite_pushdown_%s_plan" % name, token in p, lambda: "%s: plan %r" % (where, p))
        p = plan(con, slow, (arc,) + args)
        q.note("sqlite_pushdown_defeated_%s_plan" % name, token not in p, lambda: p)
        return len(a)

    hits = 0
    for table, kind in (("steps", "step"), ("messages", "message"), ("runs", "run"),
                        ("threads", "thread"), ("assistants", "assistant")):
        for v in values("id", kind):
            hits += same("id", table, "id = ?", (v,), "id=")
        ids = values("id", kind)
        same("id_in", table, "id IN (?, ?, ?)", tuple(ids[:2]) + ("x",), "id:in")
    for table, cols in (("steps", ("thread_id", "run_id", "assistant_id")),
                        ("messages", ("thread_id", "run_id", "assistant_id")),
                        ("runs", ("thread_id", "assistant_id")),
                        ("tool_calls", ("thread_id", "run_id", "assistant_id")),
                        ("records", ("thread_id", "run_id", "assistant_id"))):
        for col in cols:
            for v in values(col):
                hits += same(col, table, "%s = ?" % col, (v,), col + "=")
            vs = values(col)
            same(col + "_in", table, "%s IN (?, ?, ?)" % col, tuple(vs[:3]), col + ":in")
    for v in values("id", "step"):
        same("tool_calls_step_id", "tool_calls", "step_id = ?", (v,), "id=")
    times = sorted(i(o.get("created_at")) for _, _, o in records if i(o.get("created_at")) is not None)
    for table in ("steps", "messages", "runs", "records"):
        for _ in range(4):
            t0, t1 = sorted(rnd.sample(times, 2))
            for op, args in ((">", (t0,)), (">=", (t0,)), ("<", (t1,)), ("<=", (t1,)),
                             ("=", (t0,)), (">", (t0 + 0.5,)), ("<=", (t1 - 0.5,))):
                same("created_at", table, "created_at %s ?" % op, args, "created_at" + op)
            same("created_at_range", table, "created_at BETWEEN ? AND ?", (t0, t1), "created_at>=")
        # not numbers: SQLite's comparison rules still hold
        same("created_at_text", table, "created_at > ?", ("abc",), "created_at>")
        same("created_at_null", table, "created_at < ?", (None,), "created_at<")
    same("combined", "steps", "thread_id = ? AND created_at >= ?",
         (values("thread_id", "step")[0], times[len(times) // 2]), "thread_id=")
    q.report()
    check("sqlite_pushdown_found_rows", hits > 20, "only %d rows found by the keys" % hits)


def named_table(con, arc):
    con.execute("CREATE VIRTUAL TABLE s USING steparc('%s', step)" % arc.replace("'", "''"))
    a = con.execute("SELECT * FROM s").fetchall()
    b = con.execute("SELECT * FROM steparc_steps(?)", (arc,)).fetchall()
    check("sqlite_named_table_rows", a == b and len(a) > 0, "%d rows vs %d" % (len(a), len(b)))
    one = b[len(b) // 2][0]
    p = plan(con, "SELECT * FROM s WHERE id = ?", (one,))
    check("sqlite_named_table_index", "id=" in p and
          con.execute("SELECT id FROM s WHERE id = ?", (one,)).fetchall() == [(one,)], p)
    try:
        con.execute("CREATE VIRTUAL TABLE bad USING steparc('%s', nosuchkind)" % arc)
        check("sqlite_named_table_bad_kind", False, "accepted")
    except sqlite3.Error as e:
        check("sqlite_named_table_bad_kind", "unknown kind" in str(e), str(e))
    try:
        con.execute("SELECT count(*) FROM steparc_steps(?)", (arc + ".missing",)).fetchall()
        check("sqlite_bad_path_error", False, "no error")
    except sqlite3.Error as e:
        check("sqlite_bad_path_error", "cannot open" in str(e), str(e))


def export(con, arc, bin_, work):
    out = os.path.join(work, "export.db")
    p = subprocess.run([bin_, "export", "--sqlite", out, arc], capture_output=True)
    if not check("sqlite_export_runs", p.returncode == 0, p.stderr.decode(errors="replace")):
        return
    check("sqlite_export_no_temp_left", sorted(os.listdir(work)).count("export.db") == 1 and
          not [f for f in os.listdir(work) if ".tmp." in f], os.listdir(work))
    con.execute("ATTACH ? AS ex", (out,))
    q = Problems()
    for name in TABLES:
        a = con.execute("SELECT * FROM steparc_%s(?)" % name, (arc,)).fetchall()
        b = con.execute("SELECT * FROM ex.%s ORDER BY rowid" % name).fetchall()
        q.note("sqlite_export_%s_equals_extension" % name, a == b,
               lambda: "%d rows vs %d" % (len(a), len(b)))
        ta = [c[1:3] for c in con.execute("PRAGMA table_xinfo(steparc_%s)" % name) if not c[5]]
        tb = [c[1:3] for c in con.execute("PRAGMA ex.table_info(%s)" % name)]
        q.note("sqlite_export_%s_columns" % name, ta[:len(tb)] == tb, lambda: "%r vs %r" % (ta, tb))
    idx = {r[0] for r in con.execute("SELECT name FROM ex.sqlite_master WHERE type = 'index'")}
    want = {"steps_id", "steps_thread_id", "steps_run_id", "steps_assistant_id",
            "steps_created_at", "messages_id", "messages_thread_id", "runs_id", "runs_thread_id",
            "threads_id", "assistants_id", "tool_calls_step_id", "tool_calls_thread_id",
            "records_id", "records_thread_id", "records_created_at"}
    q.note("sqlite_export_indexes", want <= idx, lambda: "missing %r" % sorted(want - idx))
    one = a[0][1] if a else ""
    pl = plan(con, "SELECT * FROM ex.records WHERE id = ?", (one,))
    q.note("sqlite_export_index_used", "USING INDEX records_id" in pl, pl)
    q.report()


if __name__ == "__main__":
    sys.exit({"prep": prep_main, "main": main}[sys.argv[1]](sys.argv[2:]))
