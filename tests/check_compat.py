"""Older formats stay readable and appendable (tests/cli/test_compat.sh says
what is checked). Usage: checks.py compat BIN WORKDIR TESTS_DIR."""
import json, os, shutil, struct, subprocess

from testlib import check, dumps

BIN = W = TESTS = OLD = INPUT = None   # set by main()


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True)


def layout(path):
    """(header minor, section types) by FORMAT.md 3, 9, 10."""
    b = open(path, "rb").read()
    minor = struct.unpack_from("<H", b, 10)[0]
    table, count = struct.unpack_from("<QI", b, len(b) - 64)
    types = [struct.unpack_from("<I", b, table + 32 * i)[0] for i in range(count)]
    return minor, types


def cat(path):
    r = run("cat", path)
    return r.stdout if r.returncode == 0 else None


def lookups(path, probes):
    out = []
    for flag, value in probes:
        r = run("find", path, flag, value)
        out.append((flag, value, r.returncode, r.stdout))
    return out


def main(argv):
    global BIN, W, TESTS, OLD, INPUT
    BIN, W, TESTS = argv[:3]
    OLD = os.path.join(TESTS, "data", "format-1.1.steparc")
    INPUT = os.path.join(TESTS, "data", "compat-input.jsonl.zst")
    new = os.path.join(W, "new.steparc")
    rows = os.path.join(W, "rows.steparc")
    r1 = run("convert", "-q", "--block-size", "16384", "-o", new, INPUT)
    r2 = run("convert", "-q", "--block-size", "16384", "--layout", "rows", "-o", rows, INPUT)
    if r1.returncode or r2.returncode:
        check("compat_convert", False, (r1.stderr + r2.stderr).decode(errors="replace"))
        return 0

    minor, types = layout(OLD)
    check("compat_golden_is_1_1", minor == 1 and {2, 3, 4, 5} <= set(types) and not set(types) & {8, 9, 10, 11},
          "minor %d types %s" % (minor, types))
    v = run("verify", OLD)
    check("compat_1_1_verifies", v.returncode == 0, v.stdout.decode() + v.stderr.decode())

    want = cat(new)
    check("compat_new_is_1_3", layout(new)[0] == 3 and {8, 9, 10, 11, 12} <= set(layout(new)[1])
          and not set(layout(new)[1]) & {2, 3, 4, 5}, str(layout(new)))
    check("compat_rows_is_1_0", layout(rows)[0] == 0 and {2, 3, 4, 5} <= set(layout(rows)[1])
          and not set(layout(rows)[1]) & {8, 9, 10, 11}, str(layout(rows)))
    check("compat_1_1_reads_as_new", want is not None and cat(OLD) == want and cat(rows) == want)

    # lookups: every id, run, thread and assistant of a sample of records
    recs = [json.loads(line) for line in want.split(b"\n") if line]  # not splitlines: U+2028
    probes = []
    for i, rec in enumerate(recs):
        if i % 23:
            continue
        for flag, key in (("--id", "id"), ("--run", "run_id"), ("--thread", "thread_id"),
                          ("--assistant", "assistant_id")):
            if isinstance(rec.get(key), str):
                probes.append((flag, rec[key]))
    probes += [("--id", "step_absent"), ("--run", "run_absent")]
    base = lookups(new, probes)
    hits = sum(1 for x in base if x[2] == 0 and x[3])
    check("compat_lookups_find", hits >= len(probes) - 2, "%d of %d probes found" % (hits, len(probes)))
    for name, path in (("1_1", OLD), ("1_0_rows", rows)):
        got = lookups(path, probes)
        bad = [p for p, q in zip(base, got) if p != q]
        check("compat_lookups_" + name, not bad, "first difference: %r" % (bad[:1],))

    # append to a copy of the 1.1 archive: it stays 1.1 (plain sections)
    app = os.path.join(W, "appended.steparc")
    shutil.copy(OLD, app)
    more = os.path.join(W, "more.jsonl")
    with open(more, "w") as f:
        for rec in recs[:50]:
            rec = dict(rec)
            rec["id"] = rec["id"] + "_again" if isinstance(rec.get("id"), str) else rec.get("id")
            f.write(dumps(rec) + "\n")
    a = run("append", app, more)
    minor, types = layout(app)
    check("compat_append_keeps_1_1",
          a.returncode == 0 and minor == 1 and {2, 3, 4, 5} <= set(types) and not set(types) & {8, 9, 10, 11},
          "rc %d minor %d types %s %s" % (a.returncode, minor, types, a.stderr.decode(errors="replace")))
    v = run("verify", app)
    check("compat_append_verifies", v.returncode == 0, v.stdout.decode() + v.stderr.decode())
    got = cat(app)
    check("compat_append_content", got is not None and got.startswith(want)
          and got.count(b"\n") == len(recs) + 50)
    f = run("find", app, "--id", recs[0]["id"] + "_again")
    check("compat_append_lookup", f.returncode == 0 and f.stdout.count(b"\n") == 1, f.stderr.decode())

    # append to a 1.3 archive keeps it 1.3 (packed key sets and block kinds rebuilt with the new entries)
    app2 = os.path.join(W, "appended2.steparc")
    shutil.copy(new, app2)
    a = run("append", app2, more)
    minor, types = layout(app2)
    check("compat_append_keeps_1_3", a.returncode == 0 and minor == 3 and {8, 9, 10, 11, 12} <= set(types)
          and not set(types) & {2, 3, 4, 5}, "minor %d types %s" % (minor, types))
    check("compat_append_1_3_same_as_1_1", cat(app2) == got and
          lookups(app2, probes[:40]) == lookups(app, probes[:40]))
    return 0
