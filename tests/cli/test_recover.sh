#!/bin/sh
# verify and recover on damaged archives. A few hundred generated records in
# 4 KiB blocks (many blocks), damaged in copies: the file header, one block's
# sync marker, header or payload, each index section (block index, id index,
# run/thread/assistant postings, statistics), the section table, the footer;
# truncated every 1/40 of the file and around block boundaries; files that are
# no archive at all; an appended archive (convert, then append) damaged in
# either session. For each:
#   - verify exits 1 and names the damage (a block by number and offset);
#   - recover DAMAGED -o OUT exits 0 when every block is intact (OUT then reads
#     exactly as the original), 3 when blocks were lost (OUT then holds exactly
#     the records of the intact blocks, in order; for a truncated archive every
#     block that lies entirely before the cut), 1 when nothing could be saved
#     (OUT is then not created);
#   - OUT passes verify; the damaged input is never modified; no temporary
#     file is left behind; recover refuses to write over its input.
# The layout (block offsets, sections) is read from the intact archive with a
# small parser of docs/FORMAT.md sections 8-10.
# Protocol: one "PASS name", "FAIL name" (reason on stderr) or "SKIP name why"
# line per check. Environment: STEPARC_BIN STEPARC_TMP STEPARC_TESTS.

. "$(dirname "$0")/lib.sh"
workdir recover
need_python recover

# The driver (tests/check_recover.py) prints the PASS/FAIL lines itself.
python3 "$CHECKS" recover "$BIN" "$W" "$TESTS"
rc=$?
[ $rc -eq 0 ] || ko recover_driver "the python driver exited $rc"
exit 0
