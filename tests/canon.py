#!/usr/bin/env python3
"""Reference canonicalizer for steparc tests.  Standard library only.

Prints every JSON value it extracts as
    json.dumps(value, ensure_ascii=False, separators=(",", ":"))
one per line, UTF-8 (or, with --pretty, json.dumps(value, ensure_ascii=False,
indent=2) followed by a newline).  Key order is kept; ints stay ints (any
size), floats stay floats (Python repr: 1.0, -0.0, 1e-07, 1e+16, 5e-324 ...).
Note the consequences: "-0" becomes 0, "1E2" becomes 100.0, "1.50" becomes
1.5, "\\u00e9" becomes "é", "\\/" becomes "/".

Usage:
  canon.py [--values|--jsonl|--records] [--deep] [--sse] [--pretty] FILE|-
  canon.py --samples DIR [--deep] [--pretty] [-v]

Input modes:
  --values   (default) every top-level JSON value; values may be separated
             by any JSON whitespace (or nothing), e.g. concatenated pretty
             objects.
  --jsonl    one value per line ('\\n' only; U+2028 etc. are not line
             breaks); blank lines skipped.
  --records  records: objects of the eight kinds the converter archives
             ("object" "thread.run.step" (or the 2023 "assistant.run.step"),
             "thread.message", "thread.run", "thread", "assistant", "file",
             "vector_store", "vector_store.file", or a kind's short name as
             steparc_kind_name gives it) with a string "id", from any shape:
             a single object, an array (recursively), list pages
             ({"object":"list","data":[...]}), any number of these
             concatenated or one per line, or an SSE capture.  Input whose
             first non-blank character is not '{' or '[' is read as SSE
             (or force it with --sse): each line "data:<json>" (one optional
             space after the colon; "[DONE]" skipped, other lines ignored)
             whose value is such an object is a record.  Dicts with another
             "object" (or without an id) are skipped; with --deep, other
             objects are searched recursively (finds steps wrapped in
             fixtures, e.g. {"someName": {<step>}}); a record is never
             searched inside.
  --samples DIR  walk DIR recursively (sorted by path); *.json files are read
             as in --records, *.sse files as SSE; print all records.
             -v reports the count per file on stderr.

Parsing is strict: duplicate keys, NaN/Infinity, numbers that overflow a
double (1e400), invalid UTF-8, raw control characters in strings and
trailing garbage are errors (exit status 1, message on stderr).  A leading
UTF-8 BOM is skipped.  A lone surrogate escape (\\ud800) parses but cannot
be printed as UTF-8: error too.
"""

import argparse
import json
import os
import re
import sys

WS = re.compile(r"[ \t\n\r]*")


class CanonError(Exception):
    pass


def _pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise CanonError("duplicate key %r" % (k,))
        d[k] = v
    return d


def _constant(name):
    raise CanonError("non-standard JSON constant %s" % name)


def _float(s):
    f = float(s)
    if f == float("inf") or f == float("-inf"):
        raise CanonError("number out of double range: %s" % s)
    return f


DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant,
                           parse_float=_float, strict=True)


def read_text(path):
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(path, "rb") as fh:
            data = fh.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CanonError("invalid UTF-8 at byte %d" % e.start)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _where(text, pos):
    line = text.count("\n", 0, pos) + 1
    return "line %d col %d" % (line, pos - (text.rfind("\n", 0, pos) + 1) + 1)


def iter_values(text):
    """All top-level JSON values of a text (raw_decode loop)."""
    i = 0
    n = len(text)
    while True:
        i = WS.match(text, i).end()
        if i >= n:
            return
        try:
            v, i = DECODER.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise CanonError("%s (%s)" % (e.msg, _where(text, e.pos)))
        except CanonError as e:
            raise CanonError("%s (value starting at %s)" % (e, _where(text, i)))
        yield v


def iter_jsonl(text):
    for no, line in enumerate(text.split("\n"), 1):
        if line.strip(" \t\r") == "":
            continue
        try:
            yield DECODER.decode(line)
        except json.JSONDecodeError as e:
            raise CanonError("line %d: %s (col %d)" % (no, e.msg, e.colno))
        except CanonError as e:
            raise CanonError("line %d: %s" % (no, e))


# the "object" values of the record kinds (steparc_kind_of_object)
KIND_OBJECTS = {"thread.run.step", "assistant.run.step", "thread.message", "thread.run", "thread",
                "assistant", "file", "vector_store", "vector_store.file",
                "step", "message", "run", "vector_store_file"}


def is_kind(v):
    return isinstance(v, dict) and isinstance(v.get("object"), str) and v["object"] in KIND_OBJECTS


def is_record(v):
    """A record: an object of a record kind with a string id."""
    return is_kind(v) and isinstance(v.get("id"), str)


def extract(v, deep):
    """Records inside one parsed value."""
    if isinstance(v, dict):
        obj = v.get("object")
        if is_kind(v):
            if is_record(v):
                yield v
        elif obj == "list" and isinstance(v.get("data"), list):
            for item in v["data"]:
                yield from extract(item, deep)
        elif deep:
            for item in v.values():
                if isinstance(item, (dict, list)):
                    yield from extract(item, deep)
    elif isinstance(v, list):
        for item in v:
            yield from extract(item, deep)


def iter_sse(text):
    for no, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        if not line.startswith("data:"):
            continue
        payload = line[5:]
        if payload.startswith(" "):
            payload = payload[1:]
        if payload.strip() in ("", "[DONE]"):
            continue
        try:
            v = DECODER.decode(payload)
        except json.JSONDecodeError as e:
            raise CanonError("line %d: data is not JSON: %s (col %d)" % (no, e.msg, e.colno + 5))
        except CanonError as e:
            raise CanonError("line %d: %s" % (no, e))
        if is_record(v):
            yield v


def looks_like_sse(text):
    i = WS.match(text, 0).end()
    return i < len(text) and text[i] not in "{["


def iter_records(text, deep, force_sse=False):
    if force_sse or looks_like_sse(text):
        yield from iter_sse(text)
    else:
        for v in iter_values(text):
            yield from extract(v, deep)


def iter_samples(root, deep, verbose):
    paths = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            if name.endswith(".json") or name.endswith(".sse"):
                paths.append(os.path.join(d, name))
    paths.sort()
    for p in paths:
        text = read_text(p)
        try:
            if p.endswith(".sse"):
                recs = list(iter_sse(text))
            else:
                recs = list(iter_records(text, deep))
        except CanonError as e:
            raise CanonError("%s: %s" % (p, e))
        if verbose:
            sys.stderr.write("%s: %d record(s)\n" % (p, len(recs)))
        yield from recs


def main(argv=None):
    ap = argparse.ArgumentParser(description="Canonicalize JSON values / run-step records.")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--values", action="store_true", help="all top-level JSON values (default)")
    mode.add_argument("--jsonl", action="store_true", help="one JSON value per line")
    mode.add_argument("--records", action="store_true", help="extract records (objects of the 8 kinds) from any shape")
    mode.add_argument("--samples", metavar="DIR", help="records from every *.json / *.sse under DIR")
    ap.add_argument("--deep", action="store_true", help="records/samples: also search inside other objects")
    ap.add_argument("--sse", action="store_true", help="records: force SSE parsing")
    ap.add_argument("--pretty", action="store_true", help="print indent=2 JSON instead of one line per value")
    ap.add_argument("-v", "--verbose", action="store_true", help="samples: per-file counts on stderr")
    ap.add_argument("input", nargs="?", help="file, or - for stdin")
    a = ap.parse_args(argv)
    if a.samples is None and a.input is None:
        ap.error("an input file (or -) is required")
    if a.samples is not None and a.input is not None:
        ap.error("--samples takes no input file")

    out = sys.stdout.buffer
    n = 0
    try:
        if a.samples is not None:
            values = iter_samples(a.samples, a.deep, a.verbose)
        else:
            text = read_text(a.input)
            if a.jsonl:
                values = iter_jsonl(text)
            elif a.records:
                values = iter_records(text, a.deep, a.sse)
            else:
                values = iter_values(text)
        buf = []
        for v in values:
            n += 1
            if a.pretty:
                s = json.dumps(v, ensure_ascii=False, indent=2)
            else:
                s = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
            try:
                buf.append(s.encode("utf-8"))
            except UnicodeEncodeError:
                raise CanonError("value %d contains a lone surrogate; cannot print it as UTF-8" % n)
            buf.append(b"\n")
            if len(buf) >= 2048:
                out.write(b"".join(buf))
                buf.clear()
        out.write(b"".join(buf))
        out.flush()
    except CanonError as e:
        sys.stderr.write("canon.py: error: %s\n" % e)
        return 1
    except OSError as e:
        sys.stderr.write("canon.py: error: %s\n" % e)
        return 1
    except RecursionError:
        sys.stderr.write("canon.py: error: nesting too deep\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
