"""Damaged archives: one byte changed at many offsets and truncations
(tests/cli/test_damage.sh says what is checked). Usage: checks.py damage BIN
WORKDIR (WORKDIR holds a.steparc and ref.out, its `cat`); prints the
PASS/FAIL lines itself."""
import os, sys, threading
from concurrent.futures import ThreadPoolExecutor

import testlib

BIN = W = None           # set by main(), with the archive and its records:
orig = ref = None
ref_lines = []
size = NREC = 0
TIMEOUT = 20
local = threading.local()
counter = [0]
lock = threading.Lock()


def scratch():
    if not hasattr(local, "path"):
        with lock:
            counter[0] += 1
            local.path = os.path.join(W, "w%d.steparc" % counter[0])
    return local.path


def run(args):
    return testlib.run(BIN, args, timeout=TIMEOUT)


def crashed(rc):
    return rc == "timeout" or rc < 0 or rc >= 128


def flip(off):
    """Returns a list of (check, message) failures for one changed byte."""
    mask = 0xFF if off % 3 == 0 else 1 << (off % 8)
    data = bytearray(orig)
    data[off] ^= mask
    path = scratch()
    with open(path, "wb") as f:
        f.write(data)
    bad = []
    rc, _, err = run(["verify", path])
    if crashed(rc):
        bad.append(("crash", "verify crashed/hung (%s) at offset %d mask 0x%02x" % (rc, off, mask)))
    elif rc != 1:
        bad.append(("verify", "verify exited %s at offset %d mask 0x%02x" % (rc, off, mask)))
    rc, out, err = run(["cat", path])
    if crashed(rc):
        bad.append(("crash", "cat crashed/hung (%s) at offset %d" % (rc, off)))
    elif rc == 0 and out != ref:
        bad.append(("cat", "cat exited 0 with changed output at offset %d mask 0x%02x" % (off, mask)))
    elif rc not in (0, 1):
        bad.append(("cat", "cat exited %s at offset %d" % (rc, off)))
    if off % 8 == 0:   # lookups too, on a sample of the offsets
        pos = [0, NREC // 2, NREC - 1]
        rc, out, _ = run(["get", path] + [str(p) for p in pos])
        exp = b"".join(ref_lines[p] + b"\n" for p in pos)
        if crashed(rc):
            bad.append(("crash", "get crashed/hung (%s) at offset %d" % (rc, off)))
        elif rc == 0 and out != exp:
            bad.append(("lookup", "get exited 0 with changed output at offset %d" % off))
        elif rc not in (0, 1):
            bad.append(("lookup", "get exited %s at offset %d" % (rc, off)))
        rc, out, _ = run(["info", path])
        if crashed(rc) or rc not in (0, 1):
            bad.append(("crash" if crashed(rc) else "lookup", "info exited %s at offset %d" % (rc, off)))
    return bad


def trunc(n):
    path = scratch()
    with open(path, "wb") as f:
        f.write(orig[:n])
    bad = []
    for cmd in ("cat", "info", "verify"):
        rc, _, err = run([cmd, path])
        if crashed(rc):
            bad.append(("trunc_crash", "%s crashed/hung (%s) on the archive truncated to %d bytes" % (cmd, rc, n)))
        elif rc != 1:
            bad.append(("trunc_" + cmd, "%s exited %s on the archive truncated to %d of %d bytes" % (cmd, rc, n, size)))
        elif not err.strip():
            bad.append(("trunc_" + cmd, "%s printed no message for the archive truncated to %d bytes" % (cmd, n)))
    return bad


def report(name, kinds, bad, what):
    got = [m for k, m in bad if k in kinds]
    if got:
        print("FAIL " + name, flush=True)
        sys.stderr.write("%s: %d problem(s) over %s (archive of %d bytes); first ones:\n" % (name, len(got), what, size))
        for m in got[:8]:
            sys.stderr.write("  %s\n" % m)
    else:
        print("PASS " + name, flush=True)


def main(argv):
    global BIN, W, orig, ref, ref_lines, size, NREC
    BIN, W = argv[:2]
    orig = open(os.path.join(W, "a.steparc"), "rb").read()
    ref = open(os.path.join(W, "ref.out"), "rb").read()
    ref_lines = ref.split(b"\n")[:-1]
    size = len(orig)
    NREC = len(ref_lines)
    head = set(range(min(2048, size)))
    tail = set(range(max(0, size - 256), size))
    step = max(1, (size - 2048 - 256) // 400)
    middle = set(range(2048, max(2048, size - 256), step))
    flips = sorted(head | tail | middle)
    truncs = sorted(set(range(0, min(33, size))) | set(range(max(0, size - 128), size))
                    | set(range(33, size, max(1, size // 100))))

    with ThreadPoolExecutor(max_workers=2) as ex:
        flip_bad = [b for r in ex.map(flip, flips) for b in r]
        trunc_bad = [b for r in ex.map(trunc, truncs) for b in r]

    fw = "%d changed bytes" % len(flips)
    tw = "%d truncations" % len(truncs)
    report("damage_flip_verify_detects", ("verify",), flip_bad, fw)
    report("damage_flip_cat_never_prints_changed_records", ("cat",), flip_bad, fw)
    report("damage_flip_get_info_sane", ("lookup",), flip_bad, fw)
    report("damage_flip_no_crash", ("crash",), flip_bad, fw)
    report("damage_truncate_cat", ("trunc_cat",), trunc_bad, tw)
    report("damage_truncate_info", ("trunc_info",), trunc_bad, tw)
    report("damage_truncate_verify", ("trunc_verify",), trunc_bad, tw)
    report("damage_truncate_no_crash", ("trunc_crash",), trunc_bad, tw)
    return 0
