"""verify and recover on damaged archives (tests/cli/test_recover.sh says what
is checked). Usage: checks.py recover BIN WORKDIR TESTS_DIR; prints the
PASS/FAIL lines itself."""
import hashlib, os, random, re, struct, subprocess, threading
from concurrent.futures import ThreadPoolExecutor

import testlib

BIN = W = TESTS = None   # set by main()
SEED = int(os.environ.get("STEPARC_SEED", "7"))
problems = testlib.Problems()
note = problems.note
lock = threading.Lock()


def run(args):
    return testlib.run(BIN, args, timeout=30)


def short(b, n=240):
    return testlib.short(b, n, oneline=True)


SECTION_NAMES = {1: "block_index", 2: "id_index", 3: "run_postings", 4: "thread_postings",
                 5: "assistant_postings", 6: "statistics"}
# what verify's message must mention for damage in each section
SECTION_WORDS = {1: r"block index|type 1\b", 2: r"id index|type 2\b", 3: r"run postings|type 3\b",
                 4: r"thread postings|type 4\b", 5: r"assistant postings|type 5\b",
                 6: r"statistics|type 6\b"}


def layout(data):
    """(section_table_offset, [(type, offset, length)], [(offset, first, count, end)])"""
    sto, scount = struct.unpack_from("<QI", data, len(data) - 64)
    secs = []
    for i in range(scount):
        t, _, off, ln = struct.unpack_from("<IIQQ", data, sto + 32 * i)
        secs.append((t, off, ln))
    bi = next(s for s in secs if s[0] == 1)
    blocks = []
    for i in range(bi[2] // 48):
        off, first, cnt, stored = struct.unpack_from("<QQII", data, bi[1] + 48 * i)
        blocks.append((off, first, cnt, off + 64 + stored))
    return sto, secs, blocks


class Archive:
    def __init__(self, path):
        self.path = path
        self.data = open(path, "rb").read()
        rc, out, err = run(["cat", path])
        if rc != 0:
            raise RuntimeError("cat of %s exited %s: %s" % (path, rc, short(err)))
        self.cat = out
        self.lines = out.split(b"\n")[:-1]
        self.sto, self.secs, self.blocks = layout(self.data)

    def records_of(self, keep):
        """The canonical lines of the blocks whose numbers are in keep, in order."""
        out = []
        for k, (_, first, cnt, _) in enumerate(self.blocks):
            if k in keep:
                out += self.lines[first:first + cnt]
        return out


counter = [0]


def case(arc, kind, label, data, lost=None, words=None, verify_rc=1, recover_rc=None):
    """One damaged copy. lost: the block numbers that recover cannot save (None:
    none); words: a regex verify's output must match (None: any message)."""
    with lock:
        counter[0] += 1
        n = counter[0]
    d = os.path.join(W, "c%d" % n)
    os.mkdir(d)
    src = os.path.join(d, "damaged.steparc")
    out = os.path.join(d, "out.steparc")
    with open(src, "wb") as f:
        f.write(data)
    digest = hashlib.sha256(data).digest()
    lost = set(lost or ())
    keep = set(range(len(arc.blocks))) - lost
    if recover_rc is None:
        recover_rc = 0 if not lost else (3 if keep else 1)
    # verify
    if verify_rc is not None:
        rc, o, e = run(["verify", src])
        msg = o + e
        ok = rc == verify_rc and (verify_rc == 0 or msg.strip())
        if ok and words:
            ok = re.search(words.encode(), msg) is not None
        note("recover_verify_" + kind, ok, lambda: "%s: verify exited %s (want %s)%s: %s" % (
            label, rc, verify_rc, ", output must match /%s/" % words if words else "", short(msg)))
    # recover
    rc, o, e = run(["recover", src, "-o", out])
    note("recover_%s_status" % kind, rc == recover_rc, lambda: "%s: recover exited %s, want %s: %s" % (
        label, rc, recover_rc, short(e)))
    if rc in (0, 3):
        if os.path.exists(out):
            want = arc.cat if not lost else b"".join(l + b"\n" for l in arc.records_of(keep))
            rc2, got, e2 = run(["cat", out])
            note("recover_%s_records" % kind, rc2 == 0 and got == want,
                 lambda: "%s: the recovered archive holds %d records (cat exit %s), want %d (the intact "
                         "blocks' records, in order)%s" % (label, got.count(b"\n"), rc2, want.count(b"\n"),
                                                           "" if got.count(b"\n") != want.count(b"\n")
                                                           else " with different contents"))
            rc3, o3, e3 = run(["verify", out])
            note("recover_output_verifies", rc3 == 0, lambda: "%s: verify of the recovered archive exited %s: %s"
                 % (label, rc3, short(o3 + e3)))
        else:
            note("recover_%s_records" % kind, False, "%s: recover exited %s but %s does not exist" % (label, rc, out))
    elif rc == 1:
        note("recover_nothing_saved_no_output", not os.path.exists(out),
             "%s: recover exited 1 but wrote %s" % (label, out))
    if lost and rc == 3:
        # "3 some blocks were lost (listed)": every lost block is named by its offset
        missing = [arc.blocks[k][0] for k in sorted(lost)
                   if arc.blocks[k][3] <= len(data) and not re.search(rb"offset %d\b" % arc.blocks[k][0], e)]
        note("recover_lists_lost_blocks", not missing, lambda: "%s: recover does not name the lost block at "
             "offset %s: %s" % (label, missing[:3], short(e)))
    with open(src, "rb") as f:
        note("recover_input_untouched", hashlib.sha256(f.read()).digest() == digest,
             "%s: recover modified its input" % label)
    left = sorted(set(os.listdir(d)) - {"damaged.steparc", "out.steparc"})
    note("recover_no_temporary_files", not left, "%s: left behind: %s" % (label, left))


def flip(data, off, mask=0x55):
    b = bytearray(data)
    b[off] ^= mask
    return bytes(b)


def block_cases(arc, tag, which):
    """Damage in one block: its sync marker, header fields, header CRC, payload."""
    C = []
    for k in which:
        off, first, cnt, end = arc.blocks[k]
        word = r"block %d\b.*offset %d\b" % (k, off)
        C.append(("block_sync", "%s: block %d sync marker" % (tag, k), flip(arc.data, off + 5), [k], word))
        for rel, what in ((16 + 4, "record_count"), (16 + 8, "first_ordinal"), (16 + 32, "stored_size"),
                          (16 + 44, "header CRC")):
            C.append(("block_header", "%s: block %d header %s" % (tag, k, what), flip(arc.data, off + rel), [k], word))
        for rel in (64, (64 + end - off) // 2, end - off - 1):
            C.append(("block_payload", "%s: block %d payload byte %d" % (tag, k, rel), flip(arc.data, off + rel),
                      [k], word))
    return C


def run_all():
    # ---- the archives ------------------------------------------------------------------
    gen = os.path.join(W, "in.jsonl")
    with open(gen, "wb") as f:
        subprocess.run(["python3", os.path.join(TESTS, "gen_steps.py"), "--seed", str(SEED), "--count", "300"],
                       stdout=f, check=True)
    lines = open(gen, "rb").read().split(b"\n")[:-1]
    # more than 1 MiB of records, so that convert trains a dictionary
    big = os.path.join(W, "big.jsonl")
    with open(big, "wb") as f:
        subprocess.run(["python3", os.path.join(TESTS, "gen_steps.py"), "--seed", str(SEED + 1), "--count",
                        "1400"], stdout=f, check=True)
    s1, s2 = os.path.join(W, "s1.jsonl"), os.path.join(W, "s2.jsonl")
    open(s1, "wb").write(b"".join(l + b"\n" for l in lines[:150]))
    open(s2, "wb").write(b"".join(l + b"\n" for l in lines[150:]))
    a, ap, ad = os.path.join(W, "a.steparc"), os.path.join(W, "ap.steparc"), os.path.join(W, "ad.steparc")
    for args in (["convert", "-q", "--block-size", "4096", "-j", "2", big, "-o", ad],
                 ["convert", "-q", "--block-size", "4096", "-j", "2", gen, "-o", a],
                 ["convert", "-q", "--block-size", "4096", "-j", "2", s1, "-o", ap],
                 ["append", "-q", "--block-size", "4096", "-j", "2", ap, s2]):
        rc, _, err = run(args)
        if not note("recover_setup", rc == 0, "%s exited %s: %s" % (" ".join(args[:2]), rc, short(err))):
            return
    try:
        arc, app, dic = Archive(a), Archive(ap), Archive(ad)
    except (RuntimeError, struct.error, StopIteration) as e:
        note("recover_setup", False, "cannot read the archives: %s" % e)
        return
    nb = len(arc.blocks)
    if not note("recover_setup", nb >= 30 and len(app.blocks) >= 30 and app.lines == arc.lines,
                "%d and %d blocks (want many), appended archive %s the converted one" % (
                    nb, len(app.blocks), "reads as" if app.lines == arc.lines else "differs from")):
        return
    size = len(arc.data)
    C = []   # (kind, label, data, lost blocks, verify words, verify rc, recover rc)

    def add(kind, label, data, lost=None, words=None, verify_rc=1, recover_rc=None, target=arc):
        C.append((target, kind, label, data, lost, words, verify_rc, recover_rc))

    # intact: recover is lossless, exit 0
    add("intact", "intact archive", arc.data, verify_rc=0)
    add("intact", "intact appended archive", app.data, verify_rc=0, target=app)
    # the file header: every block is still intact
    for off, what in ((0, "magic"), (9, "format_major"), (20, "sync marker"), (33, "block_size"),
                      (37, "header CRC")):
        add("file_header", "file header %s (byte %d)" % (what, off), flip(arc.data, off), words=r"header")
    # one block: first, second, middle, last
    for kind, label, data, lost, words in block_cases(arc, "archive", (0, 1, nb // 2, nb - 1)):
        add(kind, label, data, lost, words)
    # each index section: first, middle and last byte
    for t, off, ln in arc.secs:
        if ln == 0:
            continue
        for rel in sorted({0, ln // 2, ln - 1}):
            add(SECTION_NAMES.get(t, "section_%d" % t), "section type %d byte %d of %d" % (t, rel, ln),
                flip(arc.data, off + rel), words=SECTION_WORDS.get(t))
    # the section table and the footer
    nsec = len(arc.secs)
    for rel in (0, 8, 16, 24, 32 * nsec - 1):
        add("section_table", "section table byte %d" % rel, flip(arc.data, arc.sto + rel), words=r"section table")
    for rel, what in ((0, "section_table_offset"), (8, "section_count"), (16, "record_count"),
                      (24, "block_count"), (40, "flags"), (52, "footer CRC"), (60, "end magic")):
        add("footer", "footer %s" % what, flip(arc.data, size - 64 + rel), words=r"footer")
    # truncations: every 1/40 of the file, and around block boundaries
    cuts = set(range(size // 40, size, size // 40)) | {size - 1, size - 64, arc.sto, arc.sto + 1}
    for k in (0, 1, nb // 2, nb - 2, nb - 1):
        off, _, _, end = arc.blocks[k]
        cuts |= {off + 1, off + 16, off + 63, off + 64, off + 65, end - 1, end, end + 1}
    cuts |= {0, 1, 39, 40, 41}
    for c in sorted(x for x in cuts if 0 <= x < size):
        lost = [k for k, b in enumerate(arc.blocks) if b[3] > c]
        # "at a block boundary": whole blocks are cut away (and at most the next header)
        kind = "truncated_at_block_boundary" if lost and any(0 <= c - b[3] <= 64 for b in arc.blocks) \
            else "truncated"
        # Cut at most 47 bytes after the last block: not one block index entry
        # survives to show that the data ended there, so recover cannot rule
        # out lost blocks after the cut and must say so (exit 3).
        unknowable = not lost and 0 <= c - arc.blocks[-1][3] < 48
        add(kind, "truncated to %d of %d bytes" % (c, size), arc.data[:c], lost,
            recover_rc=3 if unknowable else None)
    # no archive at all
    rnd = random.Random(SEED)
    add("not_an_archive", "5000 random bytes", bytes(rnd.randrange(256) for _ in range(5000)),
        list(range(nb)))
    add("not_an_archive", "empty file", b"", list(range(nb)))
    add("not_an_archive", "the file header alone", arc.data[:40], list(range(nb)))
    # the appended archive: a block of each session, the dead bytes between them
    ab = app.blocks
    gap = [k for k in range(1, len(ab)) if ab[k - 1][3] != ab[k][0]]
    if note("recover_appended_layout", len(gap) == 1, "appended archive: %d gaps between blocks, want 1" % len(gap)):
        g = gap[0]
        for kind, label, data, lost, words in block_cases(app, "appended", (g - 1, g, len(ab) - 1)):
            add("appended_" + kind, label, data, lost, words, target=app)
        for rel in (0, (ab[g][0] - ab[g - 1][3]) // 2, ab[g][0] - ab[g - 1][3] - 1):
            # the old indexes and footer are dead bytes: nothing is lost
            add("appended_dead_bytes", "appended: dead byte %d" % rel, flip(app.data, ab[g - 1][3] + rel),
                verify_rc=None, target=app)
        add("appended_truncated", "appended: truncated inside session 2",
            app.data[:ab[g + 2][3] - 10], [k for k in range(len(ab)) if ab[k][3] > ab[g + 2][3] - 10], target=app)
    # an archive with a dictionary (docs/FORMAT.md 5.4): a dictionary block right after
    # the file header, a copy in section 7; the data blocks need it
    dsec = [x for x in dic.secs if x[0] == 7]
    if note("recover_dictionary_layout", len(dsec) == 1 and dic.data[56] == 2 and dic.blocks[0][0] > 40,
            "no dictionary block at offset 40 or no dictionary section (type 7) in an archive of %d "
            "records" % len(dic.lines)):
        dend = dic.blocks[0][0]          # the dictionary block: [40, dend)
        uses = [k for k, b in enumerate(dic.blocks) if dic.data[b[0] + 19] & 1]
        add("intact", "intact archive with a dictionary", dic.data, verify_rc=0, target=dic)
        for rel, what in ((5, "sync marker"), (16 + 4, "header"), (64 + 10, "payload"),
                          ((64 + dend - 40) // 2, "payload"), (dend - 41, "last payload byte")):
            # the footer is intact: recovery takes the dictionary from section 7
            add("dictionary_block", "dictionary block %s (byte %d)" % (what, rel), flip(dic.data, 40 + rel),
                words=r"dictionary", target=dic)
        add("dictionary_section", "dictionary section (type 7)", flip(dic.data, dsec[0][1] + dsec[0][2] // 2),
            words=r"dictionary|type 7\b", target=dic)
        add("dictionary_block_and_footer", "dictionary block and footer",
            flip(flip(dic.data, 40 + 64 + 10), len(dic.data) - 20), uses, words=r"footer", target=dic)
        k = len(dic.blocks) // 2
        for kind, label, data, lost, words in block_cases(dic, "dictionary archive", (0, k)):
            add("dictionary_archive_" + kind, label, data, lost, words, target=dic)
        add("dictionary_archive_truncated", "dictionary archive truncated after the dictionary",
            dic.data[:dend + 10], list(range(len(dic.blocks))), target=dic)
        c = dic.blocks[k][0] + 100
        add("dictionary_archive_truncated", "dictionary archive truncated inside block %d" % k, dic.data[:c],
            [j for j, b in enumerate(dic.blocks) if b[3] > c], target=dic)
    # names, in a stable order
    for c in C:
        for n in ("recover_verify_" + c[1], "recover_%s_status" % c[1], "recover_%s_records" % c[1]):
            if not (n.startswith("recover_verify_") and c[6] is None):
                problems.declare(n)
    for n in ("recover_output_verifies", "recover_nothing_saved_no_output", "recover_lists_lost_blocks",
              "recover_input_untouched", "recover_no_temporary_files"):
        problems.declare(n)
    with ThreadPoolExecutor(max_workers=2) as ex:
        list(ex.map(lambda c: case(*c), C))

    # recover never writes over its input: the same path, a symbolic link, a hard link
    cp = os.path.join(W, "same.steparc")
    open(cp, "wb").write(flip(arc.data, arc.blocks[1][0] + 70))
    before = open(cp, "rb").read()
    os.symlink(cp, os.path.join(W, "same-link.steparc"))
    os.link(cp, os.path.join(W, "same-hard.steparc"))
    for other in (cp, os.path.join(W, "same-link.steparc"), os.path.join(W, "same-hard.steparc")):
        rc, _, err = run(["recover", cp, "-o", other])
        note("recover_refuses_same_file", rc == 1 and open(cp, "rb").read() == before,
             "recover X -o %s exited %s (want 1), input %s: %s" % (
                 os.path.basename(other), rc, "unchanged" if open(cp, "rb").read() == before else "CHANGED",
                 short(err)))



def main(argv):
    global BIN, W, TESTS
    BIN, W, TESTS = argv[:3]
    run_all()
    problems.report(first=6)
    return 0
