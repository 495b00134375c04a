"""Helpers shared by the Python test modules (tests/checks.py and the
tests/check_*.py drivers it runs). Standard library only.

Records are read by splitting on "\\n" only, never with splitlines(): a record
may hold U+2028 and other characters splitlines() breaks on."""

import collections
import json
import os
import subprocess
import sys
import threading

TESTS = os.path.dirname(os.path.abspath(__file__))


def dumps(v):
    """canon.py's compact form of a JSON value (what `steparc cat` prints)."""
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def lines_of(data):
    """The lines of bytes or text, each without its "\\n"; a last line without
    "\\n" is kept, the empty string after a final "\\n" is not."""
    nl = b"\n" if isinstance(data, bytes) else "\n"
    parts = data.split(nl)
    return parts[:-1] if parts and not parts[-1] else parts


def read_lines(path):
    """The lines of a file as bytes (see lines_of)."""
    with open(path, "rb") as f:
        return lines_of(f.read())


def read_jsonl(path):
    """Every non-empty line of a UTF-8 file, parsed."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f.read().split("\n") if l]


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def run(bin_, args, timeout=None):
    """Runs bin_ with args: (exit status or "timeout", stdout, stderr)."""
    try:
        p = subprocess.run([bin_] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return "timeout", b"", b""


def short(b, n=200, oneline=False):
    """At most n characters of bytes or text, for a message."""
    s = b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)
    if oneline:
        s = s.replace("\n", " | ")
    return s if len(s) <= n else s[:n] + "..."


def check(name, ok, why=""):
    """Prints PASS name, or FAIL name with the reason on stderr, at once."""
    if ok:
        print("PASS " + name, flush=True)
    else:
        print("FAIL " + name, flush=True)
        sys.stderr.write("  %s: %s\n" % (name, why))
    return ok


class Problems:
    """Checks made of many comparisons (from several threads): each name
    FAILs when any of its comparisons failed; report() prints one line per
    name, in the order the names were first seen (or declared)."""

    def __init__(self):
        self.by_name = collections.OrderedDict()
        self.lock = threading.Lock()

    def declare(self, name):
        with self.lock:
            self.by_name.setdefault(name, [])

    def note(self, name, ok, msg=""):
        """Records one comparison; msg may be a function, called only on failure."""
        with self.lock:
            lst = self.by_name.setdefault(name, [])
        if not ok:
            m = msg() if callable(msg) else msg
            with self.lock:
                lst.append(m)
        return ok

    def report(self, first=5):
        for name, msgs in self.by_name.items():
            if msgs:
                print("FAIL " + name, flush=True)
                sys.stderr.write("%s: %d problem(s); first ones:\n" % (name, len(msgs)))
                for m in msgs[:first]:
                    sys.stderr.write("  %s\n" % m)
            else:
                print("PASS " + name, flush=True)


# The converter's "most advanced state" of an object (ISSUE 13, as the
# writer's dedup ranks them): higher wins, the last seen among equals.
RUN_RANK = {"queued": 1, "in_progress": 2, "requires_action": 3, "cancelling": 4}
TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}


def state_rank(rec):
    """The dedup rank of a record: runs queued 1 < in_progress 2 <
    requires_action 3 < cancelling 4 < terminal 5; steps and messages
    non-terminal 1 < terminal 2; objects without a status 1."""
    st = rec.get("status") if isinstance(rec, dict) else None
    obj = rec.get("object") if isinstance(rec, dict) else None
    if obj == "thread.run":
        return 5 if st in TERMINAL else RUN_RANK.get(st, 1)
    if obj in ("thread.run.step", "assistant.run.step", "thread.message"):
        return 2 if st in TERMINAL else 1
    if obj in ("thread", "assistant", "file", "vector_store", "vector_store.file"):
        return 1
    return 2 if st in ("completed", "failed", "cancelled", "expired") else 1
