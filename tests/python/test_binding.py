"""Tests of the Python binding (bindings/python/steparc.py) over libsteparc.so.

Run through tests/cli/test_python.sh (which sets STEPARC_LIB and STEPARC_BIN),
or directly: python3 -m unittest -v tests/python/test_binding.py
Test methods carry no docstrings: the wrapper parses `unittest -v` lines.
"""

import ctypes
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "bindings", "python"))

import steparc  # noqa: E402

SEED = int(os.environ.get("STEPARC_SEED", "7"))
COUNT = 500
BIN = os.path.abspath(os.environ.get("STEPARC_BIN") or os.path.join(REPO, "build", "steparc"))


def canonical(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def fd_count():
    return len(os.listdir("/proc/self/fd"))


def map_count():
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class Data:
    """Generated records, their canonical JSON, and archives written three ways."""

    tmp = None

    @classmethod
    def setup(cls):
        if cls.tmp is not None:
            return
        base = os.environ.get("STEPARC_TMP") or None
        cls.tmp = tempfile.mkdtemp(prefix="pybind.", dir=base)
        cls.jsonl = os.path.join(cls.tmp, "gen.jsonl")
        with open(cls.jsonl, "wb") as f:
            subprocess.run([sys.executable, os.path.join(REPO, "tests", "gen_steps.py"),
                            "--seed", str(SEED), "--count", str(COUNT)], stdout=f, check=True)
        with open(cls.jsonl, encoding="utf-8") as f:
            cls.lines = [line.rstrip("\n") for line in f if line.strip()]
        cls.records = [json.loads(line) for line in cls.lines]
        canon = subprocess.run([sys.executable, os.path.join(REPO, "tests", "canon.py"),
                                "--jsonl", cls.jsonl], stdout=subprocess.PIPE, check=True)
        cls.canon = canon.stdout.decode("utf-8").split("\n")[:-1]
        # small blocks, so that cursors, postings and zone maps span many blocks
        cls.from_dicts = os.path.join(cls.tmp, "dicts.steparc")
        with steparc.create(cls.from_dicts, block_size=4096, fsync=False) as w:
            for rec in cls.records:
                w.add(rec)
        cls.from_text = os.path.join(cls.tmp, "text.steparc")
        with steparc.create(cls.from_text, block_size=8192, level=1, fsync=False) as w:
            for line in cls.lines:
                w.add(line)
        cls.from_cli = cls.cli_dedup = None
        if os.access(BIN, os.X_OK):
            cls.from_cli = os.path.join(cls.tmp, "cli.steparc")
            helptext = subprocess.run([BIN, "convert", "--help"], stdout=subprocess.PIPE,
                                      check=True).stdout.decode()
            keep = ["--keep-duplicates"] if "--keep-duplicates" in helptext else []
            subprocess.run([BIN, "convert", "-q", "--block-size", "4096"] + keep +
                           [cls.jsonl, "-o", cls.from_cli], check=True)
            if keep:  # the default then keeps one record per step id
                cls.cli_dedup = os.path.join(cls.tmp, "cli-dedup.steparc")
                subprocess.run([BIN, "convert", "-q", cls.jsonl, "-o", cls.cli_dedup],
                               check=True)

    @classmethod
    def teardown(cls):
        if cls.tmp is not None:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            cls.tmp = None


def setUpModule():
    Data.setup()


def tearDownModule():
    Data.teardown()


class TestRoundTrip(unittest.TestCase):
    def check_archive(self, path):
        self.assertEqual(len(Data.canon), len(Data.records))
        with steparc.open(path) as a:
            self.assertEqual(len(a), len(Data.records))
            for i, rec in enumerate(Data.records):
                got = a[i]
                self.assertEqual(got, rec, "record %d" % i)
                # == treats 1 and 1.0 alike: compare the exact text as well
                self.assertEqual(canonical(got), Data.canon[i], "record %d" % i)
                self.assertEqual(a.get_json(i), Data.canon[i], "record %d" % i)
            self.assertEqual(list(a), Data.records)

    def test_written_from_dicts(self):
        self.check_archive(Data.from_dicts)

    def test_written_from_text(self):
        self.check_archive(Data.from_text)

    def test_converted_by_cli(self):
        if Data.from_cli is None:
            self.skipTest("no steparc command at %s" % BIN)
        self.check_archive(Data.from_cli)

    def test_dedup_like_cli(self):
        if Data.cli_dedup is None:
            self.skipTest("steparc convert has no --keep-duplicates")
        path = os.path.join(Data.tmp, "dedup.steparc")
        try:
            w = steparc.create(path, fsync=False, dedup=True)
        except steparc.Error as e:
            self.skipTest(str(e))
        with w:
            for line in Data.lines:
                w.add(line)
        with steparc.open(path) as a, steparc.open(Data.cli_dedup) as b:
            self.assertEqual(len(a), len(b))
            self.assertEqual(len(a), len(Data.records) - w.duplicates)
            self.assertEqual([a.get_json(i) for i in range(len(a))],
                             [b.get_json(i) for i in range(len(b))])
            # (whether "" counts as an id is the writer's business: not checked)
            ids = [r.get("id") for r in a if isinstance(r.get("id"), str) and r["id"]]
            self.assertEqual(len(ids), len(set(ids)))

    def test_numbers_exact(self):
        rec = {"id": "step_num", "object": "thread.run.step", "created_at": 1700000000,
               "metadata": {"f": [0.1, 1e-07, 5e-324, 1.7976931348623157e308, -0.0, 1.0,
                                  1e16, 2.5e-308, 123456789.125],
                            "i": [0, -1, 2**63 - 1, -2**63, 2**64 - 1],
                            "s": "nul\u0000 \u2028 \U0001F600 e\u0301 \x7f \"\\"}}
        path = os.path.join(Data.tmp, "num.steparc")
        with steparc.create(path, fsync=False) as w:
            w.add(rec)
            self.assertEqual(len(w), 1)
        with steparc.open(path) as a:
            got = a[0]
            self.assertEqual(canonical(got), canonical(rec))
            for x, y in zip(got["metadata"]["f"], rec["metadata"]["f"]):
                self.assertIs(type(x), float)
                self.assertEqual(repr(x), repr(y))
            for x in got["metadata"]["i"]:
                self.assertIs(type(x), int)

    def test_pretty(self):
        with steparc.open(Data.from_dicts) as a:
            self.assertEqual(a.get_json(3, pretty=True),
                             json.dumps(Data.records[3], ensure_ascii=False, indent=2))


class TestExport(unittest.TestCase):
    """Archive.export: the JSONL of `steparc cat`, for every thread count and sink."""

    def expected(self, lo=0, hi=None):
        return "".join(line + "\n" for line in Data.canon[lo:hi]).encode("utf-8")

    def test_to_path_every_thread_count(self):
        # 4096-byte blocks of 500 records: ranges of 2048 records cover many blocks
        for threads in (0, 1, 2, 4):
            path = os.path.join(Data.tmp, "export-%d.jsonl" % threads)
            with steparc.open(Data.from_dicts) as a:
                self.assertEqual(a.export(path, threads=threads), len(Data.records))
            with open(path, "rb") as f:
                self.assertEqual(f.read(), self.expected(), "threads=%d" % threads)

    def test_same_as_cat(self):
        if Data.from_cli is None:
            self.skipTest("no steparc command at %s" % BIN)
        for pretty in (False, True):
            cat = subprocess.run([BIN, "cat"] + (["--pretty"] if pretty else []) +
                                 [Data.from_cli], stdout=subprocess.PIPE, check=True).stdout
            path = os.path.join(Data.tmp, "export-cat.jsonl")
            with steparc.open(Data.from_cli) as a:
                a.export(path, threads=3, pretty=pretty)
            with open(path, "rb") as f:
                self.assertEqual(f.read(), cat, "pretty=%s" % pretty)

    def test_to_file_objects_and_ranges(self):
        import io
        with steparc.open(Data.from_text) as a:
            sink = io.BytesIO()  # no fileno: through the write callback
            self.assertEqual(a.export(sink, threads=2, start=10, stop=130), 120)
            self.assertEqual(sink.getvalue(), self.expected(10, 130))
            path = os.path.join(Data.tmp, "export-file.jsonl")
            with open(path, "wb") as f:  # a real file: its descriptor, after what f holds
                f.write(b"head\n")
                self.assertEqual(a.export(f, start=490), 10)
            with open(path, "rb") as f:
                self.assertEqual(f.read(), b"head\n" + self.expected(490))
            self.assertEqual(a.export(io.BytesIO(), start=600, stop=700), 0)

    def test_errors(self):
        with steparc.open(Data.from_dicts) as a:
            with self.assertRaises(steparc.Error) as cm:
                a.export(io_failing(), threads=2)
            self.assertEqual(str(cm.exception), "sink is full")
            with self.assertRaises(steparc.Error) as cm:
                a.export(os.path.join(Data.tmp, "x.jsonl"), threads=257)
            self.assertEqual(cm.exception.status, steparc.E_ARG)
        with self.assertRaises(steparc.Error) as cm:
            a.export(os.path.join(Data.tmp, "x.jsonl"))
        self.assertEqual(cm.exception.status, steparc.E_MISUSE)

    def test_damaged_block_keeps_records_before_it(self):
        src = os.path.join(Data.tmp, "damaged.steparc")
        shutil.copy(Data.from_dicts, src)
        with steparc.open(src) as a:
            n = a.info()["blocks"]
        with open(src, "r+b") as f:  # a byte in the middle of the data blocks
            data = f.read()
            at = len(data) // 3
            f.seek(at)
            f.write(bytes([data[at] ^ 0xFF]))
        for threads in (1, 2):
            import io
            sink = io.BytesIO()
            with steparc.open(src) as a:
                with self.assertRaises(steparc.Error) as cm:
                    a.export(sink, threads=threads)
            self.assertEqual(cm.exception.status, steparc.E_CORRUPT)
            got = sink.getvalue()
            self.assertTrue(self.expected().startswith(got) and len(got) < len(self.expected()),
                            "threads=%d, %d blocks" % (threads, n))


class io_failing:
    def write(self, data):
        raise steparc.Error("sink is full")


class TestAccess(unittest.TestCase):
    def setUp(self):
        self.a = steparc.open(Data.from_dicts)

    def tearDown(self):
        self.a.close()

    def test_negative_index_and_slices(self):
        a, recs = self.a, Data.records
        self.assertEqual(a[-1], recs[-1])
        self.assertEqual(a[-len(recs)], recs[0])
        self.assertEqual(a[10:20], recs[10:20])
        self.assertEqual(a[::-97], recs[::-97])
        for bad in (len(recs), -len(recs) - 1, 2**64):
            with self.assertRaises(IndexError):
                a[bad]
        with self.assertRaises(TypeError):
            a["0"]

    def test_find_by_id(self):
        first = {}
        for n, rec in enumerate(Data.records):
            if isinstance(rec.get("id"), str):
                first.setdefault(rec["id"], n)
        for key, n in first.items():
            self.assertEqual(self.a.index(key), n, key)
            self.assertEqual(self.a.find(id=key), Data.records[n])
        for missing in ("step_not_there", "", "step_" + "x" * 1000, "\u00e9\u0000"):
            if missing not in first:
                self.assertIsNone(self.a.find(id=missing))
                self.assertIsNone(self.a.index(missing))

    def brute(self, key, value):
        return [r for r in Data.records if r.get(key) == value and isinstance(r.get(key), str)]

    def test_run_thread_assistant(self):
        for key, method in (("run_id", self.a.run), ("thread_id", self.a.thread),
                            ("assistant_id", self.a.assistant)):
            values = {r[key] for r in Data.records if isinstance(r.get(key), str)}
            self.assertTrue(values)
            for v in sorted(values):
                self.assertEqual(list(method(v)), self.brute(key, v), "%s %s" % (key, v))
            self.assertEqual(list(method(key + "_missing")), [])

    def test_between(self):
        times = sorted(r["created_at"] for r in Data.records if is_int(r.get("created_at")))
        rng = random.Random(SEED)
        ranges = [(times[0], times[-1]), (times[0] - 1, times[0]), (times[-1], times[-1] + 10),
                  (times[-1] + 1, 2**62), (-2**63, 2**63 - 1), (5, 4), (None, times[10]),
                  (times[-10], None), (None, None)]
        for _ in range(40):
            t0, t1 = sorted(rng.sample(times, 2))
            ranges.append((t0, t1))
        for t0, t1 in ranges:
            want = [r for r in Data.records if is_int(r.get("created_at")) and
                    (t0 is None or r["created_at"] >= t0) and (t1 is None or r["created_at"] <= t1)]
            if t0 is None and t1 is None:
                want = Data.records
            self.assertEqual(list(self.a.between(t0, t1)), want, "%r..%r" % (t0, t1))

    def test_between_odd_created_at(self):
        # only integer created_at within int64 matches a time bound
        values = [5, None, "7", 7.0, 2**63 + 1, -2**63, 2**63 - 1, True, -1, 0]
        recs = [{"id": "s%d" % i, "object": "thread.run.step", "created_at": v}
                for i, v in enumerate(values)]
        recs.append({"id": "absent", "object": "thread.run.step"})
        path = os.path.join(Data.tmp, "odd-times.steparc")
        with steparc.create(path, block_size=1024, fsync=False) as w:
            for r in recs:
                w.add(r)
        ok = [r for r in recs if is_int(r.get("created_at")) and -2**63 <= r["created_at"] < 2**63]
        bounds = [None, -2**64, -2**63, -1, 0, 5, 7, 2**63 - 1, 2**63, 2**64]
        with steparc.open(path) as a:
            self.assertEqual(list(a.between(None, None)), recs)
            for t0 in bounds:
                for t1 in bounds:
                    want = [r for r in ok if (t0 is None or r["created_at"] >= t0) and
                            (t1 is None or r["created_at"] <= t1)]
                    if t0 is None and t1 is None:
                        continue
                    self.assertEqual(list(a.between(t0, t1)), want, "%r..%r" % (t0, t1))
            info = a.info()
            self.assertEqual((info["min_created_at"], info["max_created_at"]),
                             (-2**63, 2**63 - 1))
        empty = os.path.join(Data.tmp, "no-times.steparc")
        with steparc.create(empty, fsync=False) as w:
            w.add({"id": "x", "object": "thread.run.step"})
        with steparc.open(empty) as a:
            self.assertEqual((a.info()["min_created_at"], a.info()["max_created_at"]),
                             (None, None))

    def test_combined_filters(self):
        rec = Data.records[len(Data.records) // 2]
        t = rec["created_at"]
        got = list(self.a.select(thread=rec["thread_id"], assistant=rec["assistant_id"],
                                 since=t - 86400, until=t + 86400, with_ordinal=True))
        want = [(n, r) for n, r in enumerate(Data.records)
                if r.get("thread_id") == rec["thread_id"] and
                r.get("assistant_id") == rec["assistant_id"] and
                is_int(r.get("created_at")) and t - 86400 <= r["created_at"] <= t + 86400]
        self.assertEqual(got, want)
        self.assertIn((Data.records.index(rec), rec), got)

    def test_info(self):
        info = self.a.info()
        times = [r["created_at"] for r in Data.records if is_int(r.get("created_at"))]
        self.assertEqual(info["records"], len(Data.records))
        self.assertEqual(info["min_created_at"], min(times))
        self.assertEqual(info["max_created_at"], max(times))
        self.assertGreater(info["blocks"], 10)
        self.assertEqual(info["file_size"], os.path.getsize(Data.from_dicts))
        self.assertEqual(info["format_major"], 1)
        for k in ("has_id_index", "has_run_index", "has_thread_index"):
            self.assertIs(info[k], True)

    def test_threads_share_one_archive(self):
        errors = []

        def work(seed):
            rng = random.Random(seed)
            try:
                for _ in range(200):
                    n = rng.randrange(len(Data.records))
                    if self.a[n] != Data.records[n]:
                        errors.append(n)
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


def mixed_records(seed=11):
    """Hand-made records of every kind (and some of none), in archive order."""
    rnd = random.Random(seed)
    recs = [{"id": "asst_%d" % a, "object": "assistant", "created_at": 1700000000 + a}
            for a in range(3)]
    recs += [{"id": "file-%d" % f, "object": "file", "created_at": 1700000100 + f}
             for f in range(4)]
    recs.append({"id": "vs_1", "object": "vector_store", "created_at": 1700000200})
    recs += [{"id": "file-%d" % f, "object": "vector_store.file", "vector_store_id": "vs_1",
              "created_at": 1700000300 + f} for f in range(2)]
    t0 = 1700001000
    for t in range(6):
        th, asst = "thread_%d" % t, "asst_%d" % (t % 3)
        recs.append({"id": th, "object": "thread", "created_at": t0 + 100 * t})
        for r in range(1 + t % 2):
            run = "run_%d_%d" % (t, r)
            recs.append({"id": "msg_%d_%d" % (t, r), "object": "thread.message",
                         "thread_id": th, "created_at": t0 + 100 * t + r})
            recs.append({"id": run, "object": "thread.run", "thread_id": th,
                         "assistant_id": asst, "status": rnd.choice(["completed", "failed"]),
                         "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
                         "created_at": t0 + 100 * t + r})
            for k in range(3):
                recs.append({"id": "step_%d_%d_%d" % (t, r, k), "object": "thread.run.step",
                             "run_id": run, "thread_id": th, "assistant_id": asst,
                             "type": "message_creation", "status": "completed",
                             "created_at": t0 + 100 * t + r})
            recs.append({"id": "msg_%d_%d_r" % (t, r), "object": "thread.message",
                         "thread_id": th, "run_id": run, "assistant_id": asst,
                         "created_at": t0 + 100 * t + r})
    recs += [{"id": "batch_1", "object": "batch"}, {"id": "noobj_1"}]
    return recs


class TestKinds(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        Data.setup()
        cls.recs = mixed_records()
        cls.path = os.path.join(Data.tmp, "kinds.steparc")
        with steparc.create(cls.path, block_size=1024, fsync=False) as w:
            for r in cls.recs:
                w.add(r)

    def brute(self, kind=None, run=None, thread=None, assistant=None):
        kinds = None if kind is None else ({kind} if isinstance(kind, str) else set(kind))
        out = []
        for r in self.recs:
            k = steparc.kind_of(r)
            if kinds is not None and k not in kinds and r.get("object") not in kinds:
                continue
            if run is not None and r.get("run_id") != run and not (k == "run" and r["id"] == run):
                continue
            if thread is not None and r.get("thread_id") != thread and \
                    not (k == "thread" and r["id"] == thread):
                continue
            if assistant is not None and r.get("assistant_id") != assistant and \
                    not (k == "assistant" and r["id"] == assistant):
                continue
            out.append(r)
        return out

    def test_every_kind_reads_as_dicts(self):
        with steparc.open(self.path) as a:
            self.assertEqual(list(a), self.recs)
            self.assertEqual([a[i] for i in range(len(a))], self.recs)

    def test_kind_filter_vs_brute_force(self):
        with steparc.open(self.path) as a:
            for kind in steparc.KINDS + ("thread.run.step", "vector_store.file",
                                         ("message", "run")):
                self.assertEqual(list(a.select(kind=kind)), self.brute(kind=kind), kind)
                for sel in ({"thread": "thread_3"}, {"run": "run_3_1"},
                            {"assistant": "asst_1"}):
                    self.assertEqual(list(a.select(kind=kind, **sel)), self.brute(kind, **sel),
                                     (kind, sel))

    def test_thread_run_assistant_with_kind(self):
        with steparc.open(self.path) as a:
            got = list(a.thread("thread_1"))
            self.assertEqual(got[0], {"id": "thread_1", "object": "thread",
                                      "created_at": 1700001100})
            self.assertEqual(got, self.brute(thread="thread_1"))
            self.assertEqual([steparc.kind_of(r) for r in a.thread("thread_1", kind="thread")],
                             ["thread"])
            self.assertEqual(len(list(a.run("run_1_1", kind="step"))), 3)
            self.assertEqual([r["id"] for r in a.run("run_1_1", kind=["run", "message"])],
                             ["run_1_1", "msg_1_1_r"])
            self.assertEqual([r["id"] for r in a.assistant("asst_2", kind="assistant")],
                             ["asst_2"])

    def test_find_any_kind(self):
        with steparc.open(self.path) as a:
            for rec in self.recs:
                self.assertEqual(a.find(rec["id"], kind=steparc.kind_of(rec)) is not None, True)
            self.assertEqual(a.find("thread_2")["object"], "thread")
            self.assertEqual(a.find("vs_1")["object"], "vector_store")
            self.assertEqual(a.find("file-1")["object"], "file")
            self.assertEqual(a.find("file-1", kind="vector_store_file")["object"],
                             "vector_store.file")
            self.assertIsNone(a.find("thread_2", kind="message"))
            self.assertEqual(a.find("noobj_1", kind="other"), {"id": "noobj_1"})

    def test_kinds_counts(self):
        with steparc.open(self.path) as a:
            got = a.kinds()
            self.assertEqual(a.info()["kinds"], got)
            if got is not None:  # 1.3 statistics (by_kind)
                want = {k: 0 for k in steparc.KINDS}
                for r in self.recs:
                    want[steparc.kind_of(r)] += 1
                self.assertEqual(got, want)
            else:
                self.assertLess(a.info()["format_minor"], 3)

    def test_unknown_kind(self):
        with steparc.open(self.path) as a:
            for bad in ("bogus", "steps", "", []):
                with self.assertRaises(steparc.Error) as cm:
                    a.select(kind=bad)
                self.assertEqual(cm.exception.status, steparc.E_ARG)
            with self.assertRaises(TypeError):
                a.select(kind=3)


class TestLayout(unittest.TestCase):
    # the ctypes mirrors of the C structs against the compiler's view of steparc.h
    MIRRORS = {"steparc_buf": steparc._Buf, "steparc_str": steparc._Str,
               "steparc_filter": steparc._Filter, "steparc_info": steparc._Info,
               "steparc_writer_options": steparc._WriterOptions,
               "steparc_reader_options": steparc._ReaderOptions,
               "steparc_json_error": steparc._JsonError,
               "steparc_rewrite_options": steparc._RewriteOptions,
               "steparc_rewrite_report": steparc._RewriteReport}

    def test_structs_match_header(self):
        cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
        if cc is None:
            self.skipTest("no C compiler")
        lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <steparc.h>",
                 "int main(void) {"]
        want = []
        for cname, cls in sorted(self.MIRRORS.items()):
            lines.append('printf("%%zu\\n", sizeof(%s));' % cname)
            want.append(ctypes.sizeof(cls))
            for field, _ in cls._fields_:
                lines.append('printf("%%zu\\n", offsetof(%s, %s));' % (cname, field))
                want.append(getattr(cls, field).offset)
                lines.append('printf("%%zu\\n", sizeof(((%s *)0)->%s));' % (cname, field))
                want.append(getattr(cls, field).size)
        lines.append("return 0; }")
        src = os.path.join(Data.tmp, "layout.c")
        exe = os.path.join(Data.tmp, "layout")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run([cc, "-std=c11", "-I", os.path.join(REPO, "include"), src, "-o", exe],
                       check=True)
        got = [int(x) for x in subprocess.run([exe], stdout=subprocess.PIPE,
                                              check=True).stdout.split()]
        self.assertEqual(got, want)

    def test_option_ranges(self):
        path = os.path.join(Data.tmp, "ranges.steparc")
        for kw in ({"block_size": 2**32}, {"block_size": -1}, {"level": 2**31},
                   {"threads": -1}):
            with self.assertRaises(steparc.Error) as cm:
                steparc.create(path, **kw)
            self.assertEqual(cm.exception.status, steparc.E_ARG)
        self.assertFalse(os.path.exists(path))


class TestErrors(unittest.TestCase):
    def test_open_missing(self):
        path = os.path.join(Data.tmp, "no-such.steparc")
        with self.assertRaises(steparc.Error) as cm:
            steparc.open(path)
        self.assertEqual(cm.exception.status, steparc.E_IO)
        self.assertIn("no-such.steparc", str(cm.exception))
        self.assertEqual(cm.exception.name, steparc.strerror(steparc.E_IO))

    def test_open_not_an_archive(self):
        path = os.path.join(Data.tmp, "junk.steparc")
        with open(path, "wb") as f:
            f.write(b"this is not an archive" * 100)
        with self.assertRaises(steparc.Error) as cm:
            steparc.open(path)
        self.assertEqual(cm.exception.status, steparc.E_CORRUPT)
        self.assertTrue(str(cm.exception))

    def test_open_truncated(self):
        with open(Data.from_dicts, "rb") as f:
            data = f.read()
        path = os.path.join(Data.tmp, "cut.steparc")
        with open(path, "wb") as f:
            f.write(data[:len(data) // 2])
        with self.assertRaises(steparc.Error) as cm:
            steparc.open(path)
        self.assertIn(cm.exception.status, (steparc.E_CORRUPT, steparc.E_IO))
        self.assertTrue(str(cm.exception))

    def test_bad_records_keep_writer_usable(self):
        path = os.path.join(Data.tmp, "bad.steparc")
        with steparc.create(path, fsync=False) as w:
            for bad in ('{"id": "a",', '[1, 2]', '{"id":"x","id":"y"}', '{"s":"\\ud800"}',
                        b'{"s":"\xff"}', '{"n": 1e999}'):
                with self.assertRaises(steparc.Error) as cm:
                    w.add(bad)
                self.assertEqual(cm.exception.status, steparc.E_INPUT, bad)
                self.assertTrue(str(cm.exception), bad)
            with self.assertRaises(TypeError):
                w.add(42)
            w.add(Data.records[0])
            self.assertEqual(len(w), 1)
        with steparc.open(path) as a:
            self.assertEqual(list(a), Data.records[:1])

    def test_error_message_locates_problem(self):
        path = os.path.join(Data.tmp, "loc.steparc")
        with steparc.create(path, fsync=False) as w:
            with self.assertRaises(steparc.Error) as cm:
                w.add('{"id": "a",\n  "x": tru}')
        self.assertIn("line 2", str(cm.exception))

    def test_create_in_missing_directory(self):
        with self.assertRaises(steparc.Error) as cm:
            steparc.create(os.path.join(Data.tmp, "no", "such", "dir.steparc"))
        self.assertEqual(cm.exception.status, steparc.E_IO)

    def test_exception_abandons_archive(self):
        path = os.path.join(Data.tmp, "abandoned.steparc")
        with self.assertRaises(KeyError):
            with steparc.create(path, fsync=False) as w:
                w.add(Data.records[0])
                raise KeyError("boom")
        self.assertFalse(os.path.exists(path))
        self.assertEqual([n for n in os.listdir(Data.tmp) if n.startswith("abandoned")], [])

    def test_use_after_close(self):
        a = steparc.open(Data.from_dicts)
        gen = a.thread(Data.records[0]["thread_id"])
        self.assertEqual(next(gen), Data.records[0])
        a.close()
        a.close()  # idempotent
        self.assertTrue(a.closed)
        for call in (lambda: len(a), lambda: a[0], lambda: a.find(id="x"), lambda: a.info(),
                     lambda: list(a), lambda: a.run("r"), lambda: next(gen)):
            with self.assertRaises(steparc.Error) as cm:
                call()
            self.assertEqual(cm.exception.status, steparc.E_MISUSE)
        w = steparc.create(os.path.join(Data.tmp, "closed.steparc"), fsync=False)
        w.close()
        w.close()
        with self.assertRaises(steparc.Error) as cm:
            w.add(Data.records[0])
        self.assertEqual(cm.exception.status, steparc.E_MISUSE)
        with self.assertRaises(steparc.Error):
            len(w)


class TestRewrite(unittest.TestCase):
    # steparc.rewrite on gen_steps records: runs (the run_id) dropped through
    # drop_where, thread of the first record dropped, paths and text redacted,
    # against the records computed here.
    def rewritten(self, **kw):
        dst = os.path.join(Data.tmp, "rw.steparc")
        if os.path.exists(dst):
            os.remove(dst)
        rep = steparc.rewrite(Data.from_text, dst, fsync=False, **kw)
        with steparc.open(dst) as a:
            return rep, list(a)

    def test_drop_thread(self):
        t = Data.records[0]["thread_id"]
        rep, got = self.rewritten(drop_threads=[t])
        want = [r for r in Data.records if r.get("thread_id") != t]
        self.assertEqual(got, want)
        self.assertEqual(rep["dropped"], len(Data.records) - len(want))
        self.assertEqual(rep["dropped_by_kind"], {"step": rep["dropped"]})
        self.assertEqual(rep["dropped_ids"],
                         [r["id"] for r in Data.records if r.get("thread_id") == t][:16])
        self.assertEqual(rep["records_out"], len(want))

    def test_drop_where_and_redact(self):
        run_id = Data.records[3]["run_id"]
        rep, got = self.rewritten(drop_where=["run_id=" + run_id], redact=["usage", "status"],
                                  redact_text=["step_[A-Za-z0-9]+"])
        want, nusage, nstatus, ntext = [], 0, 0, 0
        rx = __import__("re").compile("step_[A-Za-z0-9]+")

        def text(v):
            nonlocal ntext
            if isinstance(v, str):
                out, n = rx.subn("[redacted]", v)
                ntext += n
                return out
            if isinstance(v, list):
                return [text(x) for x in v]
            if isinstance(v, dict):
                return {k: text(x) for k, x in v.items()}
            return v
        for r in Data.records:
            if r.get("run_id") == run_id:
                continue
            r = json.loads(json.dumps(r))
            if "usage" in r:
                r["usage"], nusage = "[redacted]", nusage + 1
            if "status" in r:
                r["status"], nstatus = "[redacted]", nstatus + 1
            want.append(text(r))
        self.assertEqual(got, want)
        self.assertEqual(rep["redact"], {"usage": nusage, "status": nstatus})
        self.assertEqual(rep["redact_text"], {"step_[A-Za-z0-9]+": ntext})

    def test_dry_run_and_errors(self):
        dst = os.path.join(Data.tmp, "dry.steparc")
        t = Data.records[0]["thread_id"]
        rep = steparc.rewrite(Data.from_text, dst, drop_threads=[t], dry_run=True)
        self.assertFalse(os.path.exists(dst))
        self.assertGreater(rep["dropped"], 0)
        for kw in ({"redact_text": ["(x"]}, {"redact": ["a..b"]}, {"drop_where": ["x"]}):
            with self.assertRaises(steparc.Error) as cm:
                steparc.rewrite(Data.from_text, dst, **kw)
            self.assertEqual(cm.exception.status, steparc.E_ARG)
            self.assertFalse(os.path.exists(dst))
        with self.assertRaises(steparc.Error):
            steparc.rewrite(Data.from_text, Data.from_text, drop_threads=[t])

    def test_damaged_input(self):
        with open(Data.from_text, "rb") as f:
            data = bytearray(f.read())
        data[len(data) // 3] ^= 0x55  # inside a block: its payload checksum fails
        src = os.path.join(Data.tmp, "rw-damaged.steparc")
        dst = os.path.join(Data.tmp, "rw-damaged-out.steparc")
        with open(src, "wb") as f:
            f.write(data)
        with self.assertRaises(steparc.Error) as cm:
            steparc.rewrite(src, dst, drop_threads=["thread_x"])
        self.assertEqual(cm.exception.status, steparc.E_CORRUPT)
        self.assertFalse(os.path.exists(dst))
        self.assertEqual([f for f in os.listdir(Data.tmp) if ".tmp-" in f], [])


class TestHandles(unittest.TestCase):
    def test_open_close_2000(self):
        fds, maps = fd_count(), map_count()
        for i in range(2000):
            a = steparc.open(Data.from_text)
            if i % 100 == 0:
                self.assertEqual(a[i % len(a)], Data.records[i % len(a)])
            a.close()
        for i in range(200):
            with steparc.open(Data.from_text) as a:
                g = a.run(Data.records[i]["run_id"])
                next(g)  # left open: closing the archive must end it
        self.assertLessEqual(fd_count(), fds)
        self.assertLessEqual(map_count(), maps)

    def test_abandoned_generators(self):
        fds = fd_count()
        with steparc.open(Data.from_text) as a:
            for i in range(300):
                g = iter(a)
                next(g)
                del g  # collected: its cursor is closed right away
            self.assertEqual(len(a._cursors), 0)
        self.assertLessEqual(fd_count(), fds)

    def test_writers(self):
        fds = fd_count()
        d = tempfile.mkdtemp(dir=Data.tmp)
        for i in range(200):
            w = steparc.create(os.path.join(d, "w%d.steparc" % (i % 3)), fsync=False)
            w.add(Data.records[i])
            if i % 2:
                w.close()
            else:
                w.abort()
        self.assertLessEqual(fd_count(), fds)
        self.assertEqual(sorted(os.listdir(d)), ["w0.steparc", "w1.steparc", "w2.steparc"])


if __name__ == "__main__":
    unittest.main()
