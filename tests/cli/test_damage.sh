#!/bin/sh
# Damaged archives: a small archive of many blocks, one byte changed at many
# offsets (every byte of the first 2 KB and of the last 256 bytes, every Nth in
# between) and truncated at many lengths. verify must exit 1 for every change;
# cat must either print exactly the original records (exit 0) or exit 1, never
# print a changed record with exit 0; nothing may crash (exit >= 128, signal)
# or hang.
# Protocol: one "PASS name", "FAIL name" (reason on stderr) or "SKIP name why"
# line per check. Environment: STEPARC_BIN STEPARC_TMP STEPARC_TESTS.

BIN=${STEPARC_BIN:?STEPARC_BIN is not set}
TESTS=${STEPARC_TESTS:?STEPARC_TESTS is not set}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
W=${STEPARC_TMP:?STEPARC_TMP is not set}/damage
rm -rf "$W" && mkdir -p "$W" || exit 1

pass() { echo "PASS $1"; }
fail() { n=$1; shift; echo "FAIL $n"; echo "$n: $*" >&2; }
skip() { n=$1; shift; echo "SKIP $n $*"; }

if ! command -v python3 >/dev/null 2>&1; then
    skip damage "python3 not found"
    exit 0
fi

# A few hundred records (about 10% with edge cases), small blocks.
if ! python3 "$TESTS/gen_steps.py" --seed 42 --count 200 > "$W/in.jsonl" 2> "$W/err" ||
    ! "$BIN" convert -q --block-size 4096 -j 2 "$W/in.jsonl" -o "$W/a.steparc" 2>> "$W/err"; then
    fail damage_setup "could not make the archive: $(head -c 300 "$W/err")"
    exit 0
fi
"$BIN" cat "$W/a.steparc" > "$W/ref.out" 2> "$W/err"
rc=$?
if [ $rc -ne 0 ] || ! python3 "$TESTS/canon.py" --jsonl "$W/in.jsonl" | cmp -s - "$W/ref.out"; then
    fail damage_setup "cat of the intact archive failed or differs (exit $rc)"
    exit 0
fi
"$BIN" verify "$W/a.steparc" > "$W/err" 2>&1
rc=$?
if [ $rc -eq 0 ]; then pass damage_intact_verify
else fail damage_intact_verify "verify of the intact archive exited $rc: $(head -c 300 "$W/err")"; fi

# The driver prints the PASS/FAIL lines itself.
python3 - "$BIN" "$W" <<'EOF'
import os, subprocess, sys, threading
from concurrent.futures import ThreadPoolExecutor

BIN, W = sys.argv[1], sys.argv[2]
orig = open(os.path.join(W, "a.steparc"), "rb").read()
ref = open(os.path.join(W, "ref.out"), "rb").read()
ref_lines = ref.split(b"\n")[:-1]
size = len(orig)
NREC = len(ref_lines)
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
    try:
        p = subprocess.run([BIN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=TIMEOUT)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return "timeout", b"", b""


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


def report(name, kinds, bad, what):
    got = [m for k, m in bad if k in kinds]
    if got:
        print("FAIL " + name, flush=True)
        sys.stderr.write("%s: %d problem(s) over %s (archive of %d bytes); first ones:\n" % (name, len(got), what, size))
        for m in got[:8]:
            sys.stderr.write("  %s\n" % m)
    else:
        print("PASS " + name, flush=True)


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
EOF
rc=$?
[ $rc -eq 0 ] || fail damage_driver "the python driver exited $rc"

# the archive that was damaged in copies is itself still intact
"$BIN" verify "$W/a.steparc" > /dev/null 2>&1 && pass damage_original_untouched ||
    fail damage_original_untouched "verify of the original archive failed after the run"
exit 0
