"""The read side against a Python brute force (tests/cli/test_read.sh says
what is checked). Usage: checks.py read BIN WORKDIR TESTS_DIR; prints the
PASS/FAIL lines itself."""
import collections, json, os, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

import testlib
from testlib import dumps, short

BIN = W = TESTS = None   # set by main()
SEED = int(os.environ.get("STEPARC_SEED", "7"))
COUNT = 2500
BLOCK = 16384
I64 = (-2 ** 63, 2 ** 63 - 1)

problems = testlib.Problems()   # check name -> list of messages
note = problems.note


def run(args):
    return testlib.run(BIN, args, timeout=60)


def pretty(v):
    return json.dumps(v, ensure_ascii=False, indent=2)


def is_i64(v):
    return isinstance(v, int) and not isinstance(v, bool) and I64[0] <= v <= I64[1]


def first_diff(a, b):
    n = min(len(a), len(b))
    lo, hi = 0, n          # a[:lo] == b[:lo]; bisect on prefixes (bytes compare in C)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def describe_diff(got, want):
    i = first_diff(got, want)
    return "%d bytes, want %d; first difference at byte %d: got %r, want %r" % (
        len(got), len(want), i, got[max(0, i - 30):i + 40], want[max(0, i - 30):i + 40])


# ---- data ------------------------------------------------------------------------------

def prepare(label, nasty):
    """Generates records, drops those steparc rejects by design (integers
    outside [-2^63, 2^64-1], which --nasty emits), converts them keeping
    duplicates (so the archive holds exactly the input records, in order) and
    returns (archive, canonical lines as bytes, parsed records)."""
    raw = os.path.join(W, label + ".gen.jsonl")
    src = os.path.join(W, label + ".jsonl")
    arc = os.path.join(W, label + ".steparc")
    args = ["python3", os.path.join(TESTS, "gen_steps.py"), "--seed", str(SEED), "--count", str(COUNT)]
    if nasty:
        args.append("--nasty")
    with open(raw, "wb") as f:
        subprocess.run(args, stdout=f, check=True)

    class Bad(Exception):
        pass

    def pint(s):
        v = int(s)
        if not -2 ** 63 <= v <= 2 ** 64 - 1:
            raise Bad()
        return v

    dec = json.JSONDecoder(parse_int=pint)
    with open(raw, "rb") as f, open(src, "wb") as g:
        for line in f:
            try:
                dec.decode(line.decode("utf-8"))
            except Bad:
                continue
            g.write(line)
    canon = subprocess.run(["python3", os.path.join(TESTS, "canon.py"), "--jsonl", src],
                           stdout=subprocess.PIPE, check=True).stdout
    lines = canon.split(b"\n")[:-1]
    recs = [json.loads(l) for l in lines]
    rc, _, err = run(["convert", "-q", "--keep-duplicates", "--block-size", str(BLOCK), "-j", "2",
                      src, "-o", arc])
    if rc != 0:
        return None, "convert exited %s: %s" % (rc, short(err, 300))
    rc, out, err = run(["cat", arc])
    if rc != 0 or out != canon:
        return None, "cat exited %s; output %s" % (rc, describe_diff(out, canon))
    rc, out, _ = run(["info", arc, "--json"])
    try:
        info = json.loads(out)
    except ValueError:
        return None, "info --json printed %r" % short(out)
    if info.get("records") != len(lines) or info.get("blocks", 0) < 40:
        return None, "info --json: %s records, %s blocks (want %d records, many blocks)" % (
            info.get("records"), info.get("blocks"), len(lines))
    return (arc, lines, recs), None


# ---- expected outputs ------------------------------------------------------------------

def rid(rec):
    v = rec.get("id")
    return v if isinstance(v, str) else None


def expect_jsonl(sel, lines, recs, pretty_=False):
    if pretty_:
        return b"".join((pretty(recs[i]) + "\n").encode() for i in sel)
    return b"".join(lines[i] + b"\n" for i in sel)


def expect_json(sel, lines, recs, pretty_=False):
    if pretty_:
        return (pretty([recs[i] for i in sel]) + "\n").encode()
    return b"[" + b",".join(lines[i] for i in sel) + b"]\n"


def expect_pages(sel, recs, limit):
    """The list pages, as Python objects, for an ordered selection."""
    chunks = [sel[k:k + limit] for k in range(0, len(sel), limit)] or [[]]
    pages = []
    for n, ch in enumerate(chunks):
        pages.append(collections.OrderedDict([
            ("object", "list"),
            ("data", [recs[i] for i in ch]),
            ("first_id", rid(recs[ch[0]]) if ch else None),
            ("last_id", rid(recs[ch[-1]]) if ch else None),
            ("has_more", n < len(chunks) - 1)]))
    return pages


def check_pages(name, what, out, sel, lines, recs, limit, pretty_):
    """Compares list pages field by field, then byte for byte."""
    want = expect_pages(sel, recs, limit)
    if pretty_:
        want_bytes = b"".join((pretty(p) + "\n").encode() for p in want)
    else:
        # json.dumps of each page, assembled from the canonical lines (which are
        # json.dumps of each record) to save time
        want_bytes = b"".join(
            b'{"object":"list","data":[' + b",".join(lines[i] for i in sel[k:k + limit]) + b"]," +
            dumps(collections.OrderedDict(list(p.items())[2:])).encode()[1:] + b"\n"
            for k, p in zip(range(0, max(len(sel), 1), limit), want))
    if out == want_bytes:
        return note(name, True)
    # say what is wrong
    try:
        if pretty_:
            dec = json.JSONDecoder(object_pairs_hook=collections.OrderedDict)
            got, pos = [], 0
            text = out.decode("utf-8")
            while pos < len(text):
                while pos < len(text) and text[pos] in " \n":
                    pos += 1
                if pos >= len(text):
                    break
                v, pos = dec.raw_decode(text, pos)
                got.append(v)
        else:
            got = [json.loads(l, object_pairs_hook=collections.OrderedDict) for l in out.split(b"\n")[:-1]]
    except ValueError as e:
        return note(name, False, "%s: output is not JSON pages (%s): %s" % (what, e, short(out)))
    if len(got) != len(want):
        return note(name, False, "%s: %d pages, want %d" % (what, len(got), len(want)))
    pos = 0
    for n, (g, w) in enumerate(zip(got, want)):
        if list(g.keys()) != list(w.keys()):
            return note(name, False, "%s: page %d keys %s, want %s" % (what, n, list(g.keys()), list(w.keys())))
        if g["object"] != "list":
            return note(name, False, "%s: page %d object %r" % (what, n, g["object"]))
        want_data = [lines[i] for i in sel[pos:pos + limit]]
        got_data = [dumps(x).encode() for x in g["data"]] if isinstance(g["data"], list) else None
        if got_data != want_data:
            k = first_diff(got_data or [], want_data)
            return note(name, False, "%s: page %d data: %s records, want %d; first difference at item %d" % (
                what, n, len(got_data) if got_data is not None else "no", len(want_data), k))
        for key in ("first_id", "last_id", "has_more"):
            if g[key] != w[key] or type(g[key]) is not type(w[key]):
                return note(name, False, "%s: page %d %s = %r, want %r" % (what, n, key, g[key], w[key]))
        pos += limit
    return note(name, False, "%s: pages equal field by field but the bytes differ: %s" % (
        what, describe_diff(out, want_bytes)))


def check_output(name, what, args, sel, lines, recs, fmt, pretty_, limit=20, via=True, want_rc=0):
    """Runs one read command and compares it with the Python selection `sel`
    (ordered record indexes); with via, also the same with --via-struct."""
    rc, out, err = run(args)
    if not note(name, rc == want_rc, "%s: exit %s, want %s: %s" % (what, rc, want_rc, short(err))):
        return
    if fmt == "list":
        check_pages(name, what, out, sel, lines, recs, limit, pretty_)
    else:
        want = (expect_json if fmt == "json" else expect_jsonl)(sel, lines, recs, pretty_)
        note(name, out == want, lambda: "%s: %s" % (what, describe_diff(out, want)))
        if fmt == "json" and not pretty_ and out == want:
            note(name, json.loads(out) == [recs[i] for i in sel],
                 "%s: the array differs from json.loads of the lines" % what)
    if via:
        rc2, out2, err2 = run(args + ["--via-struct"])
        note(name + "_via_struct", rc2 == rc and out2 == out,
             lambda: "%s --via-struct: exit %s (plain %s); %s" % (what, rc2, rc, describe_diff(out2, out)))


# ---- find: the Python selection --------------------------------------------------------

FIELDS = {"--run": "run_id", "--thread": "thread_id", "--assistant": "assistant_id",
          "--status": "status", "--type": "type"}


def has_tool(rec, tool):
    sd = rec.get("step_details")
    if not isinstance(sd, dict) or not isinstance(sd.get("tool_calls"), list):
        return False
    return any(isinstance(tc, dict) and tc.get("type") == tool for tc in sd["tool_calls"])


def matches(rec, flt):
    for opt, val in flt:
        if opt in FIELDS:
            v = rec.get(FIELDS[opt])
            if not isinstance(v, str) or v != val:
                return False
        elif opt == "--tool":
            if not has_tool(rec, val):
                return False
        elif opt in ("--since", "--until"):
            t = rec.get("created_at")
            if not is_i64(t):
                return False
            if opt == "--since" and t < int(val):
                return False
            if opt == "--until" and t > int(val):
                return False
    return True


def select(recs, flt):
    ids = [v for o, v in flt if o == "--id"]
    rest = [(o, v) for o, v in flt if o != "--id"]
    if ids:
        # the id index answers with the first record of that id (docs/FORMAT.md 8.2);
        # the other filters must then hold for it
        first = next((i for i, r in enumerate(recs) if rid(r) == ids[0]), None)
        if first is None:
            return None
        return [first] if matches(recs[first], rest) else []
    return [i for i, r in enumerate(recs) if matches(r, rest)]


def common(recs, field, k):
    c = collections.Counter(r.get(field) for r in recs if isinstance(r.get(field), str) and "\0" not in r.get(field))
    return [v for v, _ in c.most_common()][:k]


def filters_for(recs):
    n = len(recs)
    ids = [rid(recs[i]) for i in (0, 1, n // 3, n // 2, n - 2, n - 1)]
    uniq = collections.Counter(rid(r) for r in recs)
    ids = [i for i in ids if i and "\0" not in i and uniq[i] == 1][:4]
    runs, threads, assts = common(recs, "run_id", 400), common(recs, "thread_id", 400), common(recs, "assistant_id", 10)
    times = sorted(r["created_at"] for r in recs if is_i64(r.get("created_at")))
    t = lambda q: str(times[min(len(times) - 1, int(q * len(times)))])
    F = []
    for i in ids:
        F.append([("--id", i)])
    F.append([("--id", "step_not_there")])
    if uniq.get("", 0):
        F.append([("--id", "")])
    for v in runs[:2] + runs[-1:]:
        F.append([("--run", v)])
    for v in threads[:2] + threads[-1:]:
        F.append([("--thread", v)])
    for v in assts[:3]:
        F.append([("--assistant", v)])
    for opt, vals in (("--run", ["run_not_there", ""]), ("--thread", ["thread_not_there", ""]),
                      ("--assistant", ["asst_not_there", ""])):
        for v in vals:
            F.append([(opt, v)])
    for v in ("completed", "in_progress", "failed", "cancelled", "expired", "COMPLETED", "", "no_such_status"):
        F.append([("--status", v)])
    for v in ("tool_calls", "message_creation", "reasoning", "", "no_such_type"):
        F.append([("--type", v)])
    for v in ("function", "code_interpreter", "file_search", "retrieval", "browser", "x", "", "no_such_tool"):
        F.append([("--tool", v)])
    F += [[("--since", t(0.5))], [("--until", t(0.5))], [("--since", t(0.2)), ("--until", t(0.3))],
          [("--since", times[0]), ("--until", times[0])], [("--since", str(times[-1]))],
          [("--until", str(max(times[0] - 1, I64[0])))], [("--since", t(0.8)), ("--until", t(0.1))],
          [("--since", "-1"), ("--until", "0")], [("--until", "-1")],
          [("--since", "-9223372036854775808")], [("--until", "9223372036854775807")]]
    F = [[(o, str(v)) for o, v in f] for f in F]
    # combined
    r0 = recs[n // 2]
    F += [
        [("--thread", threads[0]), ("--status", "completed")],
        [("--assistant", assts[0]), ("--type", "tool_calls"), ("--since", t(0.3))],
        [("--run", runs[0]), ("--tool", "function")],
        [("--assistant", assts[1]), ("--thread", threads[1])],
        [("--status", "completed"), ("--type", "tool_calls"), ("--tool", "code_interpreter"),
         ("--since", t(0.1)), ("--until", t(0.9))],
        [("--type", "message_creation"), ("--tool", "function")],
        [("--assistant", assts[0]), ("--run", runs[0]), ("--thread", threads[0]), ("--status", "completed")],
        [("--tool", "file_search"), ("--until", t(0.5)), ("--status", "completed")],
    ]
    if ids:
        j = next(k for k, r in enumerate(recs) if rid(r) == ids[0])
        r = recs[j]
        good = [(o, r[f]) for o, f in FIELDS.items() if isinstance(r.get(f), str) and "\0" not in r[f]]
        F.append([("--id", ids[0])] + good)
        F.append([("--id", ids[0]), ("--status", "no_such_status")])
        if is_i64(r.get("created_at")):
            F.append([("--id", ids[0]), ("--since", str(r["created_at"])), ("--until", str(r["created_at"]))])
            F.append([("--id", ids[0]), ("--since", str(r["created_at"] + 1))])
    return F


def flat(flt):
    return [x for pair in flt for x in pair]


# ---- stats: the Python computation -----------------------------------------------------
# The rules, as the stats implementation applies them (cli/steparc.c, cmd_stats):
# a field counts under its exact string value (every byte, NUL included); a null
# value under "(null)", an absent key under "(absent)", any other JSON type under
# "(other type)". Tool calls are counted when step_details is an object and its
# tool_calls a list (of objects). Tokens: steps_with_usage counts the records whose
# usage is an object; each of prompt_tokens, completion_tokens, total_tokens is
# summed over those records where it is an integer in the int64 range (floats,
# strings, booleans, null and integers above 2^63-1 are left out), and printed as
# an exact integer; "overflow": true when a running sum leaves int64 (its value is
# then not checked). Days: created_at an integer in the int64 range, as the UTC
# date YYYY-MM-DD; a date whose year does not fit a C int (gmtime fails) is
# "(out of range)"; any other created_at is "(no created_at)". Members are sorted
# by count (descending), then by name (bytes); days by name.

def label(d, key):
    if key not in d:
        return "(absent)"
    v = d[key]
    if v is None:
        return "(null)"
    if isinstance(v, str):
        return v
    return "(other type)"


def civil(days):
    """(year, month, day) of a day number since 1970-01-01 (proleptic Gregorian)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


def day_of(rec):
    t = rec.get("created_at")
    if not is_i64(t):
        return "(no created_at)"
    y, m, d = civil(t // 86400)
    if not -2 ** 31 <= y - 1900 <= 2 ** 31 - 1:
        return "(out of range)"
    return "%d-%02d-%02d" % (y, m, d)


def expect_stats(recs):
    by = {k: collections.Counter() for k in ("by_type", "by_status", "by_tool", "by_assistant", "by_day")}
    tok = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    over = {k: False for k in tok}
    with_usage = 0
    for r in recs:
        by["by_type"][label(r, "type")] += 1
        by["by_status"][label(r, "status")] += 1
        by["by_assistant"][label(r, "assistant_id")] += 1
        by["by_day"][day_of(r)] += 1
        sd = r.get("step_details")
        if isinstance(sd, dict) and isinstance(sd.get("tool_calls"), list):
            for tc in sd["tool_calls"]:
                if isinstance(tc, dict):
                    by["by_tool"][label(tc, "type")] += 1
        u = r.get("usage")
        if isinstance(u, dict):
            with_usage += 1
            for k in tok:
                if is_i64(u.get(k)):
                    tok[k] += u[k]
                    if not I64[0] <= tok[k] <= I64[1]:
                        over[k] = True
    return len(recs), by, with_usage, tok, over


class Num:
    """A JSON number as written: int, or the text of a float."""
    def __init__(self, s):
        self.s = s


def check_stats(label_, arc, recs):
    name = "read_%s_stats" % label_
    rc, out, err = run(["stats", arc, "--json"])
    if not note(name, rc == 0, "stats --json exited %s: %s" % (rc, short(err))):
        return
    try:
        got = json.loads(out, object_pairs_hook=lambda p: p, parse_float=Num)
    except ValueError as e:
        note(name, False, "stats --json is not JSON (%s): %s" % (e, short(out)))
        return
    top = dict(got)
    n, by, with_usage, tok, over = expect_stats(recs)
    note(name, top.get("records") == n, "records %r, want %d" % (top.get("records"), n))
    for k, want in by.items():
        pairs = top.get(k)
        if not isinstance(pairs, list):
            note(name, False, "%s missing" % k)
            continue
        gc = collections.Counter()
        for key, v in pairs:
            gc[key] += v if isinstance(v, int) else 0
        if gc != want:
            diff = sorted(set(gc) | set(want), key=lambda x: x.encode())
            bad = ["%r: %s want %s" % (x, gc.get(x, 0), want.get(x, 0)) for x in diff if gc.get(x, 0) != want.get(x, 0)]
            note(name, False, "%s differs: %s" % (k, "; ".join(bad[:6])))
        # one JSON member per key (keys cut at a NUL byte must not collide)
        keys = [key for key, _ in pairs]
        dup = [x for x, c in collections.Counter(keys).items() if c > 1]
        note("read_%s_stats_unique_keys" % label_, not dup,
             "%s has %d duplicate member names, e.g. %s" % (k, len(dup), [x for x in dup[:4]]))
        # order: by count (descending) then name; days by name
        if k == "by_day":
            order = sorted(pairs, key=lambda p: p[0].encode())
        else:
            order = sorted(pairs, key=lambda p: (-p[1], p[0].encode()))
        note("read_%s_stats_order" % label_, pairs == order, "%s is not in the documented order" % k)
    t = dict(top.get("tokens") or [])
    note(name, t.get("steps_with_usage") == with_usage,
         "tokens.steps_with_usage %r, want %d" % (t.get("steps_with_usage"), with_usage))
    note(name, bool(t.get("overflow", False)) == any(over.values()),
         "tokens.overflow %r, want %s" % (t.get("overflow"), any(over.values())))
    for k, v in tok.items():
        g = t.get(k)
        if over[k]:
            continue  # the sum left int64: only the overflow flag is defined
        note("read_%s_stats_tokens_exact" % label_, isinstance(g, int) and g == v,
             "tokens.%s printed as %s, want the integer %d" % (k, g.s if isinstance(g, Num) else g, v))


# ---- the checks ------------------------------------------------------------------------

def dataset(label_, nasty):
    got, why = prepare(label_, nasty)
    if not note("read_%s_setup" % label_, got is not None, why):
        return []
    arc, lines, recs = got
    n = len(lines)
    allsel = list(range(n))
    rev = allsel[::-1]
    jobs = []   # (name, what, args, sel, fmt, pretty, limit, via, rc)
    P = "read_%s_" % label_
    # cat: every format, both orders, pretty, several page sizes
    for order, sel in (("asc", allsel), ("desc", rev)):
        for pr in (False, True):
            pa = ["--pretty"] if pr else []
            oa = ["--order", order] if order == "desc" else []
            tag = ("_desc" if order == "desc" else "") + ("_pretty" if pr else "")
            if not (pr and order == "desc"):
                jobs.append((P + "cat_jsonl" + tag, "cat %s" % " ".join(oa + pa), ["cat", arc] + oa + pa,
                             sel, "jsonl", pr, 20, True, 0))
            jobs.append((P + "cat_json" + tag, "cat --format json %s" % " ".join(oa + pa),
                         ["cat", arc, "--format", "json"] + oa + pa, sel, "json", pr, 20, True, 0))
            if pr and order == "desc":
                limits = (333,)
            elif pr:
                limits = (None,)
            elif order == "desc":
                limits = (None, 7, n)
            else:
                limits = (None, 1, 7, 1000, n, n + 5)
            for lim in limits:
                la = ["--limit", str(lim)] if lim else []
                jobs.append((P + "cat_list" + tag, "cat --format list %s" % " ".join(la + oa + pa),
                             ["cat", arc, "--format", "list"] + la + oa + pa, sel, "list", pr,
                             lim or 20, lim in (None, 7), 0))
    # cat -j N (when the command has it): the same output for every N
    if b"--threads" in run(["cat", "--help"])[1]:
        for j in ("1", "2", "3"):
            jobs.append((P + "cat_threads", "cat -j " + j, ["cat", arc, "-j", j], allsel, "jsonl", False, 20,
                         j == "2", 0))
            jobs.append((P + "cat_threads", "cat --pretty --threads " + j, ["cat", arc, "--pretty", "--threads", j],
                         allsel, "jsonl", True, 20, False, 0))
        jobs.append((P + "cat_threads", "cat --format list --order desc -j 2",
                     ["cat", arc, "--format", "list", "--order", "desc", "-j", "2"], rev, "list", False, 20, True, 0))
    jobs.append((P + "cat_order_asc", "cat --order asc", ["cat", arc, "--order", "asc"], allsel, "jsonl",
                 False, 20, False, 0))
    # find: every filter, alone and combined
    for flt in filters_for(recs):
        sel = select(recs, flt)
        what = "find " + " ".join(repr(x) if x == "" else x for x in flat(flt))
        base = ["find", arc] + flat(flt)
        nm = P + "find_" + ("combined" if len(flt) > 1 else flt[0][0].lstrip("-"))
        if sel is None:   # --id that finds nothing
            jobs.append((P + "find_id_not_found", what, base, [], "jsonl", False, 20, False, 1))
            continue
        jobs.append((nm, what, base, sel, "jsonl", False, 20, True, 0))
        jobs.append((nm + "_desc", what + " --order desc", base + ["--order", "desc"], sel[::-1], "jsonl",
                     False, 20, False, 0))
        jobs.append((nm + "_list", what + " --format list --limit 5 --order desc",
                     base + ["--format", "list", "--limit", "5", "--order", "desc"], sel[::-1], "list",
                     False, 5, True, 0))
        jobs.append((nm + "_list", what + " --format list", base + ["--format", "list"], sel, "list",
                     False, 20, False, 0))
        jobs.append((nm + "_json", what + " --format json", base + ["--format", "json"], sel, "json",
                     False, 20, True, 0))
        if len(sel) < 50:
            jobs.append((nm + "_pretty", what + " --format json --pretty",
                         base + ["--format", "json", "--pretty"], sel, "json", True, 20, True, 0))
            jobs.append((nm + "_pretty", what + " --format list --limit 3 --pretty",
                         base + ["--format", "list", "--limit", "3", "--pretty"], sel, "list", True, 3, False, 0))
    # an empty selection: one page, no data, null ids, has_more false
    for order in ("asc", "desc"):
        jobs.append((P + "find_empty_page", "find --status no_such_status --format list --order " + order,
                     ["find", arc, "--status", "no_such_status", "--format", "list", "--order", order],
                     [], "list", False, 20, True, 0))
        jobs.append((P + "find_empty_page", "find --tool no_such_tool --format list --limit 1 --pretty",
                     ["find", arc, "--tool", "no_such_tool", "--format", "list", "--limit", "1", "--pretty"],
                     [], "list", True, 1, True, 0))
    jobs.append((P + "find_empty_json", "find --type no_such_type --format json",
                 ["find", arc, "--type", "no_such_type", "--format", "json"], [], "json", False, 20, True, 0))
    jobs.append((P + "find_empty_json", "find --type no_such_type --format json --pretty",
                 ["find", arc, "--type", "no_such_type", "--format", "json", "--pretty"], [], "json", True, 20,
                 True, 0))
    # get: several positions at once, in the order given, repeats allowed
    pos = [0, n - 1, n // 2, 0, 1, n // 2 + 1, n - 2, 17, n // 3, n // 2]
    ga = ["get", arc] + [str(p) for p in pos]
    jobs.append((P + "get", "get " + " ".join(map(str, pos)), ga, pos, "jsonl", False, 20, True, 0))
    jobs.append((P + "get_pretty", "get ... --pretty", ga + ["--pretty"], pos, "jsonl", True, 20, True, 0))
    jobs.append((P + "get_out_of_range", "get %d" % n, ["get", arc, "0", str(n)], [], "none", False, 20, False, 1))
    return [(j, lines, recs) for j in jobs] + [("stats", label_, arc, recs)]


TIMES = []


def work(item):
    import time
    t0 = time.time()
    try:
        work1(item)
    finally:
        TIMES.append((time.time() - t0, item[0][1] if item[0] != "stats" else "stats"))


def work1(item):
    if item[0] == "stats":
        check_stats(item[1], item[2], item[3])
        return
    (name, what, args, sel, fmt, pr, lim, via, want_rc), lines, recs = item
    if fmt == "none":
        rc, out, err = run(args)
        note(name, rc == want_rc, "%s: exit %s, want %s" % (what, rc, want_rc))
        return
    check_output(name, what, args, sel, lines, recs, fmt, pr, lim, via, want_rc)


def main(argv):
    global BIN, W, TESTS
    BIN, W, TESTS = argv[:3]
    items = dataset("plain", False) + dataset("nasty", True)
    for it in items:   # report in a stable order
        if it[0] == "stats":
            for suffix in ("", "_tokens_exact", "_unique_keys", "_order"):
                problems.declare("read_%s_stats%s" % (it[1], suffix))
        else:
            problems.declare(it[0][0])
            if it[0][7]:
                problems.declare(it[0][0] + "_via_struct")
    with ThreadPoolExecutor(max_workers=2) as ex:
        list(ex.map(work, items))

    if os.environ.get("READ_PROFILE"):
        for t, w in sorted(TIMES)[-25:]:
            sys.stderr.write("%.2f %s\n" % (t, w))
    problems.report(first=5)
    return 0
