"""steparc - read and write steparc archives of OpenAI Assistants history from Python.

A thin ctypes binding over libsteparc (standard library only). Records come
back as dicts parsed from the library's canonical JSON, so every value reads
exactly as stored: ints of any size stay ints, floats keep their float64 bits.

    import steparc
    with steparc.open("steps.steparc") as a:
        print(len(a), a[0]["id"], a[-1]["status"])
        step = a.find(id="step_abc")              # dict or None
        for s in a.thread("thread_abc"):          # archive order
            ...
        for s in a.between(1700000000, 1700086399):  # created_at, inclusive
            ...
        for m in a.thread("thread_abc", kind="message"):  # one kind (or several)
            ...
        a.kinds()      # {"step": 120, "message": 40, ...}, or None when unknown

Every record, whatever its kind (step, message, run, thread, assistant, file,
vector_store, vector_store_file, or other), reads as a dict. a.thread(T)
gives the thread itself and every record with thread_id T (its messages,
runs and steps); a.run(R) and a.assistant(A) likewise.

    with steparc.create("out.steparc") as w:     # appears only when complete
        w.add({"id": "step_1", "object": "thread.run.step", ...})
        w.add('{"id":"step_2","object":"thread.run.step"}')

    report = steparc.rewrite("in.steparc", "out.steparc",   # a deletion request
                             drop_threads=["thread_abc"], redact=["metadata.user"],
                             redact_text=[r"[0-9]{6,}"])  # -> {"dropped": 7, ...}

Failures raise steparc.Error, whose .status is the library's status code
(steparc.E_IO, E_CORRUPT, ...) and whose message is the library's detail.

The shared library is found through, in order: the STEPARC_LIB environment
variable (the file, or a directory holding libsteparc.so), libsteparc.so next
to this module, build/ of the source tree this module sits in
(bindings/python/../../build), then ctypes.util.find_library("steparc"). A library whose version is not of
the ABI this module is written for (0.2: for 0.x the minor, later the major)
is passed over.

Threads: one Archive may be read from several threads at once (indexing,
find, len, info); a generator (cursor) and a Writer belong to one thread at a
time. Closing an Archive ends its open generators.
"""

import ctypes
import ctypes.util
import json
import operator
import os
import threading

__all__ = ["open", "create", "rewrite", "Archive", "Writer", "Error", "version", "strerror",
           "KINDS", "kind_of"]

OK = 0
END = 1
E_IO = -1
E_NOMEM = -2
E_CORRUPT = -3
E_VERSION = -4
E_ARG = -5
E_NOTFOUND = -6
E_LIMIT = -7
E_INPUT = -8
E_MISUSE = -9

# STEPARC_KIND_* by short name (steparc_kind_name); index = the kind's code.
KINDS = ("other", "step", "message", "run", "thread", "assistant", "file", "vector_store",
         "vector_store_file")
# The "object" values of the kinds, also accepted wherever a kind is named.
_KIND_OBJECTS = {"thread.run.step": 1, "assistant.run.step": 1, "thread.message": 2,
                 "thread.run": 3, "vector_store.file": 8}

_JSON_PRETTY = 2
_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)


class Error(Exception):
    """A libsteparc failure: str(e) is the library's message, e.status its code."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def name(self):
        """The status code's name, as steparc_strerror gives it."""
        return strerror(self.status) if self.status is not None else ""


# ---- the C structs, field for field as in include/steparc.h -------------------------

class _Buf(ctypes.Structure):  # steparc_buf
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t), ("cap", ctypes.c_size_t)]


class _Str(ctypes.Structure):  # steparc_str
    _fields_ = [("ptr", ctypes.c_char_p), ("len", ctypes.c_size_t)]


class _Filter(ctypes.Structure):  # steparc_filter
    _fields_ = [("run_id", _Str), ("thread_id", _Str), ("assistant_id", _Str),
                ("has_since", ctypes.c_int), ("since", ctypes.c_int64),
                ("has_until", ctypes.c_int), ("until", ctypes.c_int64),
                ("status", _Str), ("type", _Str), ("tool", _Str),
                ("has_range", ctypes.c_int), ("range_from", ctypes.c_uint64), ("range_to", ctypes.c_uint64),
                ("kinds", ctypes.c_uint32), ("reserved32_", ctypes.c_uint32),
                ("reserved_", ctypes.c_uint64 * 3)]


class _Info(ctypes.Structure):  # steparc_info
    _fields_ = [("format_major", ctypes.c_uint), ("format_minor", ctypes.c_uint),
                ("records", ctypes.c_uint64), ("blocks", ctypes.c_uint64),
                ("file_size", ctypes.c_uint64), ("raw_bytes", ctypes.c_uint64),
                ("stored_bytes", ctypes.c_uint64),
                ("min_created_at", ctypes.c_int64), ("max_created_at", ctypes.c_int64),
                ("time_ordered", ctypes.c_int), ("sections", ctypes.c_uint),
                ("has_id_index", ctypes.c_int), ("has_run_index", ctypes.c_int),
                ("has_thread_index", ctypes.c_int), ("has_stats", ctypes.c_int),
                ("ignored_tail_bytes", ctypes.c_uint64), ("columnar_blocks", ctypes.c_uint64),
                ("has_block_kinds", ctypes.c_int), ("reserved_int_", ctypes.c_int),
                ("reserved_", ctypes.c_uint64 * 6)]


class _WriterOptions(ctypes.Structure):  # steparc_writer_options
    _fields_ = [("block_size", ctypes.c_uint32), ("level", ctypes.c_int),
                ("threads", ctypes.c_int), ("no_fsync", ctypes.c_int),
                ("dedup", ctypes.c_int), ("dict_size", ctypes.c_int),
                ("layout", ctypes.c_int), ("reserved_", ctypes.c_uint64 * 4)]


class _WriterOptionsRoom(ctypes.Union):
    # steparc_writer_options_init writes the whole struct of the library that is
    # loaded; room to spare keeps a newer library with more fields from writing
    # past the end of ours.
    _fields_ = [("opt", _WriterOptions), ("room", ctypes.c_char * 256)]


class _ReaderOptions(ctypes.Structure):  # steparc_reader_options
    _fields_ = [("cache_blocks", ctypes.c_size_t), ("reserved_", ctypes.c_uint64 * 4)]


class _ExportOptions(ctypes.Structure):  # steparc_export_options
    _fields_ = [("flags", ctypes.c_uint), ("threads", ctypes.c_int), ("has_range", ctypes.c_int),
                ("range_from", ctypes.c_uint64), ("range_to", ctypes.c_uint64),
                ("kinds", ctypes.c_uint32), ("reserved32_", ctypes.c_uint32),
                ("reserved_", ctypes.c_uint64 * 3)]


_CPP = ctypes.POINTER(ctypes.c_char_p)
_REWRITE_MAX_RULES = 64  # STEPARC_REWRITE_MAX_RULES
_REWRITE_IDS, _REWRITE_ID_SIZE = 16, 128


class _RewriteOptions(ctypes.Structure):  # steparc_rewrite_options
    _fields_ = [("drop_threads", _CPP), ("n_drop_threads", ctypes.c_size_t),
                ("drop_assistants", _CPP), ("n_drop_assistants", ctypes.c_size_t),
                ("drop_where", _CPP), ("n_drop_where", ctypes.c_size_t),
                ("redact", _CPP), ("n_redact", ctypes.c_size_t),
                ("redact_text", _CPP), ("n_redact_text", ctypes.c_size_t),
                ("reserved_", ctypes.c_uint64 * 4)]


class _RewriteReport(ctypes.Structure):  # steparc_rewrite_report
    _fields_ = [("records_in", ctypes.c_uint64), ("records_out", ctypes.c_uint64),
                ("records_redacted", ctypes.c_uint64), ("dropped", ctypes.c_uint64),
                ("dropped_by_kind", ctypes.c_uint64 * 9),
                ("dropped_ids_count", ctypes.c_uint32),
                ("dropped_ids", (ctypes.c_char * _REWRITE_ID_SIZE) * _REWRITE_IDS),
                ("redacted", ctypes.c_uint64 * _REWRITE_MAX_RULES),
                ("redacted_text", ctypes.c_uint64 * _REWRITE_MAX_RULES),
                ("errmsg", ctypes.c_char * 256), ("reserved_", ctypes.c_uint64 * 8)]


# int write(void *ctx, const void *data, size_t len) of steparc_reader_export
_WRITE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


class _JsonError(ctypes.Structure):  # steparc_json_error
    _fields_ = [("offset", ctypes.c_size_t), ("line", ctypes.c_size_t),
                ("column", ctypes.c_size_t), ("reason", ctypes.c_char * 160),
                ("reserved_", ctypes.c_uint64 * 4)]


# ---- loading ---------------------------------------------------------------------------

_P = ctypes.POINTER
_VP = ctypes.c_void_p
_SIGNATURES = {
    "steparc_version_string": (ctypes.c_char_p, []),
    "steparc_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "steparc_buf_free": (None, [_P(_Buf)]),
    "steparc_msgpack_to_json": (ctypes.c_int, [_P(_Buf), _VP, ctypes.c_size_t, ctypes.c_uint]),
    "steparc_reader_options_init": (None, [_P(_ReaderOptions)]),
    "steparc_reader_open": (ctypes.c_int, [_P(_VP), ctypes.c_char_p, _P(_ReaderOptions),
                                           ctypes.c_char_p, ctypes.c_size_t]),
    "steparc_reader_close": (None, [_VP]),
    "steparc_reader_errmsg": (ctypes.c_char_p, [_VP]),
    "steparc_reader_count": (ctypes.c_uint64, [_VP]),
    "steparc_reader_info": (ctypes.c_int, [_P(_Info), _VP]),
    "steparc_reader_get_json": (ctypes.c_int, [_P(_Buf), _VP, ctypes.c_uint64, ctypes.c_uint]),
    "steparc_reader_find_id": (ctypes.c_int, [_P(ctypes.c_uint64), _VP, ctypes.c_char_p,
                                              ctypes.c_size_t]),
    "steparc_cursor_open": (ctypes.c_int, [_P(_VP), _VP, _P(_Filter)]),
    "steparc_cursor_next": (ctypes.c_int, [_P(ctypes.c_uint64), _P(_VP), _P(ctypes.c_size_t),
                                           _VP]),
    "steparc_cursor_errmsg": (ctypes.c_char_p, [_VP]),
    "steparc_cursor_close": (None, [_VP]),
    "steparc_writer_options_init": (None, [_P(_WriterOptionsRoom)]),
    "steparc_writer_open": (ctypes.c_int, [_P(_VP), ctypes.c_char_p, _P(_WriterOptionsRoom),
                                           ctypes.c_char_p, ctypes.c_size_t]),
    "steparc_writer_add_json": (ctypes.c_int, [_VP, ctypes.c_char_p, ctypes.c_size_t,
                                               _P(_JsonError)]),
    "steparc_writer_count": (ctypes.c_uint64, [_VP]),
    "steparc_writer_finish": (ctypes.c_int, [_VP]),
    "steparc_writer_close": (None, [_VP]),
    "steparc_writer_errmsg": (ctypes.c_char_p, [_VP]),
}
# Newer than some libraries: bound when present.
class _TranscriptOptions(ctypes.Structure):  # steparc_transcript_options
    _fields_ = [("format", ctypes.c_int), ("flags", ctypes.c_uint), ("width", ctypes.c_uint),
                ("has_since", ctypes.c_int), ("since", ctypes.c_int64),
                ("has_until", ctypes.c_int), ("until", ctypes.c_int64),
                ("run_id", _Str), ("threads", ctypes.POINTER(_Str)), ("nthreads", ctypes.c_size_t),
                ("reserved_", ctypes.c_uint64 * 4)]


_OPTIONAL = {
    "steparc_transcript_render": (ctypes.c_int, [_P(_Buf), _VP, _P(_TranscriptOptions)]),
    "steparc_writer_duplicates": (ctypes.c_uint64, [_VP]),
    # with it, the library also reads steparc_filter.kinds (an older one ignores it)
    "steparc_reader_kind_counts": (ctypes.c_int, [_P(ctypes.c_uint64 * 9), _VP]),
    "steparc_export_options_init": (None, [_P(_ExportOptions)]),
    "steparc_reader_export": (ctypes.c_int, [_P(ctypes.c_uint64), _VP, _P(_ExportOptions),
                                             _WRITE_FN, _VP]),
    "steparc_rewrite": (ctypes.c_int, [_P(_RewriteReport), _VP, _VP, _P(_RewriteOptions)]),
    "steparc_reader_export_fd": (ctypes.c_int, [_P(ctypes.c_uint64), _VP, _P(_ExportOptions),
                                                ctypes.c_int]),
}

_lib_handle = None
_lib_lock = threading.Lock()

# The ABI the signatures above describe. While the major is 0 every minor
# breaks it (the soname is libsteparc.so.0.MINOR), from 1.0 on every major: a
# library of another ABI is passed over rather than called with wrong arguments.
_ABI_MAJOR, _ABI_MINOR = 0, 2


def _abi_ok(number):
    major, minor = number // 10000, number // 100 % 100
    return major == _ABI_MAJOR and (major > 0 or minor == _ABI_MINOR)


def _candidates():
    env = os.environ.get("STEPARC_LIB")
    if env:
        yield os.path.join(env, "libsteparc.so") if os.path.isdir(env) else env
        return  # an explicit choice is not second-guessed
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "libsteparc.so")
    yield os.path.join(here, "..", "..", "build", "libsteparc.so")
    found = ctypes.util.find_library("steparc")
    if found:
        yield found


def _lib():
    """The loaded library (loaded on first use, so that import never fails)."""
    global _lib_handle
    if _lib_handle is not None:
        return _lib_handle
    with _lib_lock:
        if _lib_handle is None:
            tried = []
            for path in _candidates():
                if os.sep in path and not os.path.exists(path):
                    tried.append(path + " (missing)")
                    continue
                try:
                    lib = ctypes.CDLL(path)
                except OSError as e:
                    tried.append("%s (%s)" % (path, e))
                    continue
                lib.steparc_version_number.restype = ctypes.c_uint
                lib.steparc_version_number.argtypes = []
                number = lib.steparc_version_number()
                if not _abi_ok(number):
                    tried.append("%s (version %d.%d, this module needs %d.%d)"
                                 % (path, number // 10000, number // 100 % 100,
                                    _ABI_MAJOR, _ABI_MINOR))
                    continue
                for name, (restype, argtypes) in {**_SIGNATURES, **_OPTIONAL}.items():
                    if name in _OPTIONAL and not hasattr(lib, name):
                        continue
                    fn = getattr(lib, name)
                    fn.restype = restype
                    fn.argtypes = argtypes
                _lib_handle = lib
                break
            else:
                raise OSError("libsteparc.so not found; set STEPARC_LIB (tried: %s)"
                              % ("; ".join(tried) or "nothing"))
    return _lib_handle


def _text(b):
    return b.decode("utf-8", "replace") if b else ""


def version():
    """The library's version, e.g. "0.2.0"."""
    return _text(_lib().steparc_version_string())


def strerror(status):
    """The name of a status code."""
    return _text(_lib().steparc_strerror(status))


def _buf_text(buf):
    return ctypes.string_at(buf.data, buf.len).decode("utf-8") if buf.len else ""


def _ranged(value, lo, hi, what):
    value = operator.index(value)
    if not lo <= value <= hi:
        raise Error("%s out of range: %d" % (what, value), E_ARG)
    return value


def _check_str(value, what):
    if not isinstance(value, str):
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))
    return value.encode("utf-8")


def _kind_code(name):
    """The STEPARC_KIND_* code of a kind's short name or "object" value."""
    if not isinstance(name, str):
        raise TypeError("a kind must be a str, not %s" % type(name).__name__)
    if name in KINDS:
        return KINDS.index(name)
    if name in _KIND_OBJECTS:
        return _KIND_OBJECTS[name]
    raise Error("unknown kind %r (one of %s, or an object value)" % (name, ", ".join(KINDS)),
                E_ARG)


def _kind_mask(kind):
    """steparc_filter.kinds for kind=: None (every kind), a name, or names."""
    if kind is None:
        return 0
    names = [kind] if isinstance(kind, str) else list(kind)
    if not names:
        raise Error("kind= names no kind", E_ARG)
    mask = 0
    for name in names:
        mask |= 1 << _kind_code(name)
    if not hasattr(_lib(), "steparc_reader_kind_counts"):
        raise Error("this libsteparc cannot filter by kind", E_ARG)
    return mask


def kind_of(record):
    """The short kind name of a record (a dict), from its "object", as the library
    maps it ("other" when there is none or it is not a known kind)."""
    obj = record.get("object") if isinstance(record, dict) else None
    if not isinstance(obj, str):
        return "other"
    try:
        return KINDS[_kind_code(obj)]
    except Error:
        return "other"


# ---- reading ---------------------------------------------------------------------------

def open(path, cache_blocks=None):  # noqa: A001 - the module's entry point, like gzip.open
    """Opens an archive for reading; raises Error when it cannot be opened."""
    return Archive(path, cache_blocks)


class _Cursor:
    """One steparc_cursor; owned by a generator and registered with its Archive."""

    def __init__(self, archive, flt, keep):
        self.archive = archive
        self.keep = keep  # the filter's bytes (the library copies them; kept anyway)
        self.handle = _VP()
        lib = _lib()
        rc = lib.steparc_cursor_open(ctypes.byref(self.handle), archive._handle, ctypes.byref(flt))
        if rc != OK:
            raise Error(_text(lib.steparc_reader_errmsg(archive._handle)) or strerror(rc), rc)
        archive._cursors.add(self)

    def close(self):
        if self.handle:
            _lib().steparc_cursor_close(self.handle)
            self.handle = _VP()
            self.archive._cursors.discard(self)


class Archive:
    """An open archive. len(a), a[i] (negative too, slices), iteration, find, filters."""

    def __init__(self, path, cache_blocks=None):
        lib = _lib()
        self._handle = _VP()
        self._cursors = set()
        self.path = path
        opt = _ReaderOptions()
        lib.steparc_reader_options_init(ctypes.byref(opt))
        if cache_blocks is not None:
            opt.cache_blocks = cache_blocks
        err = ctypes.create_string_buffer(512)
        rc = lib.steparc_reader_open(ctypes.byref(self._handle), os.fsencode(path),
                                     ctypes.byref(opt), err, ctypes.sizeof(err))
        if rc != OK:
            self._handle = _VP()
            raise Error(_text(err.value) or strerror(rc), rc)
        self._count = lib.steparc_reader_count(self._handle)

    # -- lifetime
    def close(self):
        """Closes the archive and every generator still open on it. Idempotent."""
        if self._handle:
            for c in list(self._cursors):
                c.close()
            _lib().steparc_reader_close(self._handle)
            self._handle = _VP()

    @property
    def closed(self):
        return not self._handle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone
            pass

    def _h(self):
        if not self._handle:
            raise Error("archive is closed", E_MISUSE)
        return self._handle

    def _fail(self, rc):
        return Error(_text(_lib().steparc_reader_errmsg(self._handle)) or strerror(rc), rc)

    # -- random access
    def __len__(self):
        self._h()
        return self._count

    def get_json(self, n, pretty=False):
        """Record n (0-based; negative counts from the end) as canonical JSON text."""
        h = self._h()
        if not isinstance(n, int):
            raise TypeError("archive indices must be integers")
        if n < 0:
            n += self._count
        if not 0 <= n < self._count:
            raise IndexError("record index out of range")
        buf = _Buf()  # one per call: lookups may run in several threads
        try:
            rc = _lib().steparc_reader_get_json(ctypes.byref(buf), h, n,
                                                _JSON_PRETTY if pretty else 0)
            if rc != OK:
                raise self._fail(rc)
            return _buf_text(buf)
        finally:
            _lib().steparc_buf_free(ctypes.byref(buf))

    def transcript(self, thread, format="text", width=0, color=False):  # noqa: A002
        """Thread `thread` as text, markdown or html (one self-contained page),
        rendered by the library's steparc_transcript_render (the same text as
        `steparc transcript`)."""
        h = self._h()
        fmts = {"text": 0, "markdown": 1, "html": 2}
        if format not in fmts:
            raise ValueError("format must be text, markdown or html")
        tid = thread.encode("utf-8") if isinstance(thread, str) else bytes(thread)
        keep = ctypes.create_string_buffer(tid, len(tid))
        ts = (_Str * 1)()
        ts[0].ptr = ctypes.cast(keep, ctypes.c_char_p)
        ts[0].len = len(tid)
        o = _TranscriptOptions()
        o.format, o.width, o.flags = fmts[format], width, 1 if color else 0
        o.threads, o.nthreads = ts, 1
        buf = _Buf()
        try:
            rc = _lib().steparc_transcript_render(ctypes.byref(buf), h, ctypes.byref(o))
            if rc != OK:
                raise self._fail(rc)
            return _buf_text(buf)
        finally:
            _lib().steparc_buf_free(ctypes.byref(buf))

    def __getitem__(self, n):
        if isinstance(n, slice):
            return [self[i] for i in range(*n.indices(len(self)))]
        return json.loads(self.get_json(n))

    def index(self, id):  # noqa: A002 - matches the record's key
        """The ordinal of the (first) record with this id, or None."""
        h = self._h()
        key = _check_str(id, "id")
        ordinal = ctypes.c_uint64()
        rc = _lib().steparc_reader_find_id(ctypes.byref(ordinal), h, key, len(key))
        if rc == E_NOTFOUND:
            return None
        if rc != OK:
            raise self._fail(rc)
        return ordinal.value

    def find(self, id, kind=None):  # noqa: A002
        """The record with this id (through the id index) as a dict, or None; of any
        kind, or with kind= of that kind (a file and its vector_store.file memberships
        share an id: those are then looked for record by record among that kind)."""
        n = self.index(id)
        if n is None:
            return None
        rec = self[n]
        if kind is None:
            return rec
        code = _kind_code(kind)
        if KINDS.index(kind_of(rec)) == code:
            return rec
        for other in self.select(kind=KINDS[code]):
            if other.get("id") == id:
                return other
        return None

    def kinds(self):
        """Records per kind ({"step": n, ..., "other": n}, every kind) from the
        archive's statistics, or None when the archive does not record them (format
        before 1.3: unknown, not guessed; count with select(kind=...))."""
        lib = _lib()
        h = self._h()
        if not hasattr(lib, "steparc_reader_kind_counts"):
            return None
        counts = (ctypes.c_uint64 * 9)()
        rc = lib.steparc_reader_kind_counts(ctypes.byref(counts), h)
        if rc == E_NOTFOUND:
            return None
        if rc != OK:
            raise self._fail(rc)
        return {KINDS[k % 9]: counts[k % 9] for k in range(1, 10)}

    def info(self):
        """The archive's summary (steparc_info) as a dict. min/max_created_at are
        None when no record has a created_at; has_* and time_ordered are bools;
        "kinds" is kinds()."""
        info = _Info()
        rc = _lib().steparc_reader_info(ctypes.byref(info), self._h())
        if rc != OK:
            raise self._fail(rc)
        d = {name: getattr(info, name) for name, _ in _Info._fields_
             if not name.startswith("reserved")}
        if d["min_created_at"] > d["max_created_at"]:  # INT64_MAX, INT64_MIN: none
            d["min_created_at"] = d["max_created_at"] = None
        for k in ("time_ordered", "has_id_index", "has_run_index", "has_thread_index",
                  "has_stats", "has_block_kinds"):
            d[k] = bool(d[k])
        d["kinds"] = self.kinds()
        return d

    # -- export (steparc_reader_export)
    def export(self, dest, threads=None, pretty=False, start=None, stop=None):
        """Writes the records (all, or ordinals [start, stop)) as JSONL, exactly as
        `steparc cat` does, to dest: a path (created or truncated), a file object
        with a fileno() (flushed first; written at its descriptor's position), or any
        object with write(bytes). The JSON is built in C on `threads` threads (default
        1) without the GIL. Returns the number of records written. On a damaged
        block the records before it are written, then Error is raised."""
        h = self._h()
        lib = _lib()
        if not hasattr(lib, "steparc_reader_export"):
            raise Error("this libsteparc has no steparc_reader_export", E_ARG)
        opt = _ExportOptions()
        lib.steparc_export_options_init(ctypes.byref(opt))
        opt.threads = _ranged(1 if threads is None else threads, 0, 256, "threads")
        opt.flags = _JSON_PRETTY if pretty else 0
        if start is not None or stop is not None:
            opt.has_range = 1
            opt.range_from = _ranged(0 if start is None else start, 0, 2**64 - 1, "start")
            opt.range_to = _ranged(self._count if stop is None else stop, 0, 2**64 - 1, "stop")
        written = ctypes.c_uint64()
        if isinstance(dest, (str, bytes, os.PathLike)):
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0),
                         0o666)
            try:
                rc = lib.steparc_reader_export_fd(ctypes.byref(written), h, ctypes.byref(opt), fd)
            finally:
                os.close(fd)
        else:
            fileno = None
            try:
                fileno = dest.fileno()
            except (AttributeError, OSError, ValueError):
                pass
            if fileno is not None:
                dest.flush()
                rc = lib.steparc_reader_export_fd(ctypes.byref(written), h, ctypes.byref(opt),
                                                  fileno)
            else:
                failure = []

                def write(_ctx, data, n):
                    try:
                        dest.write(ctypes.string_at(data, n))
                        return 0
                    except BaseException as e:  # reported after the call returns
                        failure.append(e)
                        return 1
                rc = lib.steparc_reader_export(ctypes.byref(written), h, ctypes.byref(opt),
                                               _WRITE_FN(write), None)
                if failure:
                    raise failure[0]
        if rc != OK:
            raise self._fail(rc)
        return written.value

    # -- iteration with filters (steparc_cursor_*)
    def select(self, run=None, thread=None, assistant=None, since=None, until=None,
               with_ordinal=False, kind=None):
        """Records matching every given criterion, in archive order (a generator).
        run/thread/assistant: the records with that run_id/thread_id/assistant_id and
        the run/thread/assistant itself. since/until bound created_at, inclusive.
        kind: a kind ("step", "message", ..., or an "object" value) or several.
        with_ordinal yields (n, dict)."""
        self._h()
        flt = _Filter()
        flt.kinds = _kind_mask(kind)
        keep = []
        for field, value in (("run_id", run), ("thread_id", thread),
                             ("assistant_id", assistant)):
            if value is not None:
                b = _check_str(value, field)
                keep.append(b)
                setattr(flt, field, _Str(b, len(b)))
        # created_at is an int64 in the library: bounds beyond it are clamped here
        # (ctypes would silently wrap them), or make the selection empty. A bound,
        # even a clamped one, still demands an integer created_at.
        if since is not None:
            since = operator.index(since)
            if since > _INT64_MAX:
                return iter(())
            flt.has_since, flt.since = 1, max(since, _INT64_MIN)
        if until is not None:
            until = operator.index(until)
            if until < _INT64_MIN:
                return iter(())
            flt.has_until, flt.until = 1, min(until, _INT64_MAX)
        return self._iterate(flt, keep, with_ordinal)

    def _iterate(self, flt, keep, with_ordinal):
        cur = _Cursor(self, flt, keep)  # opened now, not at the first next()
        return self._generate(cur, with_ordinal)

    def _generate(self, cur, with_ordinal):
        lib = _lib()
        ordinal, mp, mp_len, buf = ctypes.c_uint64(), _VP(), ctypes.c_size_t(), _Buf()
        try:
            while True:
                if not cur.handle:
                    raise Error("archive is closed", E_MISUSE)
                rc = lib.steparc_cursor_next(ctypes.byref(ordinal), ctypes.byref(mp),
                                             ctypes.byref(mp_len), cur.handle)
                if rc == END:
                    return
                if rc != OK:
                    raise Error(_text(lib.steparc_cursor_errmsg(cur.handle)) or strerror(rc), rc)
                rc = lib.steparc_msgpack_to_json(ctypes.byref(buf), mp, mp_len, 0)
                if rc != OK:
                    raise Error("record %d: %s" % (ordinal.value, strerror(rc)), rc)
                rec = json.loads(_buf_text(buf))
                yield (ordinal.value, rec) if with_ordinal else rec
        finally:
            lib.steparc_buf_free(ctypes.byref(buf))
            cur.close()

    def __iter__(self):
        return self.select()

    def run(self, run_id, kind=None):
        """The run and its records (steps, messages), in archive order; kind= as select."""
        return self.select(run=run_id, kind=kind)

    def thread(self, thread_id, kind=None):
        """The thread and its messages, runs and steps, in archive order; kind= as select."""
        return self.select(thread=thread_id, kind=kind)

    def assistant(self, assistant_id, kind=None):
        """The assistant and the records with its assistant_id; kind= as select."""
        return self.select(assistant=assistant_id, kind=kind)

    def between(self, t0, t1):
        """The steps with t0 <= created_at <= t1 (either may be None: unbounded)."""
        return self.select(since=t0, until=t1)

    def __repr__(self):
        state = "closed" if self.closed else "%d records" % self._count
        return "<steparc.Archive %r, %s>" % (self.path, state)


# ---- rewriting -------------------------------------------------------------------------

def _c_strings(items, what):
    items = list(items or ())
    if len(items) > _REWRITE_MAX_RULES:
        raise Error("at most %d %s rules" % (_REWRITE_MAX_RULES, what), E_ARG)
    arr = (ctypes.c_char_p * (len(items) + 1))()
    for i, v in enumerate(items):
        if not isinstance(v, str):
            raise TypeError("%s rules are str, not %s" % (what, type(v).__name__))
        arr[i] = v.encode("utf-8")
    return ctypes.cast(arr, _CPP), len(items), arr


def rewrite(src, dst, drop_threads=(), drop_assistants=(), drop_where=(), redact=(),
            redact_text=(), dry_run=False, fsync=True):
    """Copies archive src to a new archive dst without the dropped records and with
    values redacted (steparc_rewrite; the rules as for `steparc rewrite`):
    drop_threads / drop_assistants: ids (the thread or assistant and every record
    linked to it); drop_where: "KEY=VALUE" strings; redact: dotted paths ("*" = every
    item/member) whose values become "[redacted]"; redact_text: POSIX extended
    regular expressions whose matches inside strings become "[redacted]".
    dry_run=True writes nothing (dst may be None). dst appears only when complete.
    Returns the report: {"records_in", "records_out", "records_redacted", "dropped",
    "dropped_by_kind": {kind: n}, "dropped_ids": [first ids], "redact": {path: n},
    "redact_text": {regex: n}}. A bad rule raises Error(status=E_ARG)."""
    lib = _lib()
    if not hasattr(lib, "steparc_rewrite"):
        raise Error("this libsteparc has no rewrite", E_ARG)
    opt = _RewriteOptions()
    keep = []
    for field, items in (("drop_threads", drop_threads), ("drop_assistants", drop_assistants),
                         ("drop_where", drop_where), ("redact", redact),
                         ("redact_text", redact_text)):
        ptr, n, arr = _c_strings(items, field)
        keep.append(arr)
        setattr(opt, field, ptr)
        setattr(opt, "n_" + field, n)
    if not dry_run and os.path.exists(dst) and os.path.samefile(src, dst):
        raise Error("the output %s is the input; write a new file" % dst, E_ARG)
    rep = _RewriteReport()
    with Archive(src) as a:
        w = None if dry_run else Writer(dst, fsync=fsync)
        try:
            rc = lib.steparc_rewrite(ctypes.byref(rep), a._handle,
                                     w._handle if w is not None else None,
                                     ctypes.byref(opt))
            if rc != OK:
                raise Error(_text(rep.errmsg) or strerror(rc), rc)
            if w is not None:
                w.close()
        except BaseException:
            if w is not None:
                w.abort()
            raise
    return {
        "records_in": rep.records_in, "records_out": rep.records_out,
        "records_redacted": rep.records_redacted, "dropped": rep.dropped,
        "dropped_by_kind": {KINDS[k]: rep.dropped_by_kind[k] for k in range(9)
                            if rep.dropped_by_kind[k]},
        "dropped_ids": [_text(rep.dropped_ids[i].value) for i in range(rep.dropped_ids_count)],
        "redact": {p: rep.redacted[i] for i, p in enumerate(redact or ())},
        "redact_text": {p: rep.redacted_text[i] for i, p in enumerate(redact_text or ())},
    }


# ---- writing ---------------------------------------------------------------------------

def create(path, block_size=None, level=None, threads=None, fsync=True, dedup=False):
    """Starts a new archive at path; it appears there only when close() succeeds.
    block_size: target uncompressed bytes per block; level: zstd level; threads:
    compression threads (the output is the same for any number); fsync=False
    skips the fsync (tests); dedup=True keeps one record per step id."""
    return Writer(path, block_size, level, threads, fsync, dedup)


class Writer:
    """add() records (dicts or JSON text); close() finishes the archive. As a context
    manager, an exception inside the block abandons the archive (path untouched)."""

    def __init__(self, path, block_size=None, level=None, threads=None, fsync=True,
                 dedup=False):
        lib = _lib()
        self._handle = _VP()
        if dedup and not hasattr(lib, "steparc_writer_duplicates"):
            raise Error("this libsteparc cannot drop duplicates (no dedup option)", E_ARG)
        room = _WriterOptionsRoom()
        lib.steparc_writer_options_init(ctypes.byref(room))
        opt = room.opt
        # ctypes would wrap an out-of-range value silently: refuse it here; the
        # library checks the rest.
        if block_size is not None:
            opt.block_size = _ranged(block_size, 0, 2**32 - 1, "block_size")
        if level is not None:
            opt.level = _ranged(level, -2**31, 2**31 - 1, "level")
        if threads is not None:
            opt.threads = _ranged(threads, 0, 2**31 - 1, "threads")
        opt.no_fsync = 0 if fsync else 1
        if dedup:
            opt.dedup = 1
        self.path = path
        self.duplicates = 0
        err = ctypes.create_string_buffer(512)
        rc = lib.steparc_writer_open(ctypes.byref(self._handle), os.fsencode(path),
                                     ctypes.byref(room), err, len(err))
        if rc != OK:
            self._handle = _VP()
            why = err.value.decode("utf-8", "replace") or strerror(rc)
            raise Error("cannot create %s: %s" % (path, why), rc)

    def _h(self):
        if not self._handle:
            raise Error("writer is closed", E_MISUSE)
        return self._handle

    def add(self, record):
        """Adds one record: a dict (serialised with json.dumps, ensure_ascii=False,
        which keeps ints and floats exact) or JSON text (str or UTF-8 bytes).
        Invalid input raises Error(status=E_INPUT); the writer stays usable."""
        h = self._h()
        if isinstance(record, dict):
            data = json.dumps(record, ensure_ascii=False, allow_nan=False).encode("utf-8")
        elif isinstance(record, str):
            data = record.encode("utf-8")
        elif isinstance(record, (bytes, bytearray)):
            data = bytes(record)
        else:
            raise TypeError("add() takes a dict, str or bytes, not %s" % type(record).__name__)
        err = _JsonError()
        rc = _lib().steparc_writer_add_json(h, data, len(data), ctypes.byref(err))
        if rc != OK:
            if rc == E_INPUT and err.line:
                msg = "line %d, column %d: %s" % (err.line, err.column, _text(err.reason))
            else:
                msg = _text(_lib().steparc_writer_errmsg(h)) or strerror(rc)
            raise Error(msg, rc)

    def __len__(self):
        return _lib().steparc_writer_count(self._h())

    def close(self):
        """Finishes the archive (indexes, footer, fsync, rename) and frees the writer.
        Raises Error when finishing fails (the path is then left untouched)."""
        if not self._handle:
            return
        lib = _lib()
        h, self._handle = self._handle, _VP()
        try:
            rc = lib.steparc_writer_finish(h)
            if rc != OK:
                raise Error(_text(lib.steparc_writer_errmsg(h)) or strerror(rc), rc)
            if hasattr(lib, "steparc_writer_duplicates"):
                self.duplicates = lib.steparc_writer_duplicates(h)
        finally:
            lib.steparc_writer_close(h)

    def abort(self):
        """Frees the writer without finishing: the temporary file is removed."""
        if self._handle:
            h, self._handle = self._handle, _VP()
            _lib().steparc_writer_close(h)

    @property
    def closed(self):
        return not self._handle

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    def __del__(self):
        try:
            self.abort()  # never finish implicitly: an unclosed writer is abandoned
        except Exception:
            pass
