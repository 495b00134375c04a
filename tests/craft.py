#!/usr/bin/env python3
"""craft.py - rewrite the footer, section table or block index of an archive
and recompute every CRC32C (block index section, section table, footer), so
that only the rule under test is broken (docs/FORMAT.md 8.1, 9, 10).

usage: craft.py IN OUT MUTATION
mutations: overlap, unordered, past_table, section_range, section_header,
           table_short, block_count, record_count, zero_records
"""
import struct
import sys

_T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


class Archive:
    def __init__(self, data):
        self.b = bytearray(data)
        self.footer = len(self.b) - 64
        self.table, self.nsec = struct.unpack_from("<QI", self.b, self.footer)

    def sec(self, i):
        return self.table + 32 * i

    def find(self, type_):
        for i in range(self.nsec):
            if struct.unpack_from("<I", self.b, self.sec(i))[0] == type_:
                return i
        raise SystemExit("no section of type %d" % type_)

    def entry(self, k):
        off = struct.unpack_from("<Q", self.b, self.sec(self.find(1)) + 8)[0]
        return off + 48 * k

    def u64(self, at, v=None):
        if v is None:
            return struct.unpack_from("<Q", self.b, at)[0]
        struct.pack_into("<Q", self.b, at, v)

    def u32(self, at, v=None):
        if v is None:
            return struct.unpack_from("<I", self.b, at)[0]
        struct.pack_into("<I", self.b, at, v)

    def reseal(self):
        s = self.sec(self.find(1))
        off, ln = self.u64(s + 8), self.u64(s + 16)
        self.u32(s + 24, crc32c(self.b[off:off + ln]))
        n = self.u32(self.footer + 8)
        self.u32(self.footer + 12, crc32c(self.b[self.table:self.table + 32 * n]))
        self.u32(self.footer + 52, crc32c(self.b[self.footer:self.footer + 52]))


def mutate(a, m):
    nblocks = a.u64(a.footer + 24)
    if m == "overlap":          # block 1 starts inside block 0
        a.u64(a.entry(1), a.u64(a.entry(0)) + 1)
    elif m == "unordered":      # blocks 1 and 2 swap places (ordinals kept)
        o1, o2 = a.u64(a.entry(1)), a.u64(a.entry(2))
        a.u64(a.entry(1), o2)
        a.u64(a.entry(2), o1)
    elif m == "past_table":     # the last block runs into the section table
        a.u64(a.entry(nblocks - 1), a.table - 70)
    elif m == "section_range":  # the statistics run into the section table
        a.u64(a.sec(a.find(6)) + 8, a.table - 4)
    elif m == "section_header": # a section inside the file header
        a.u64(a.sec(a.find(6)) + 8, 8)
    elif m == "table_short":    # the footer counts one section less
        a.u32(a.footer + 8, a.nsec - 1)
    elif m == "block_count":    # the footer counts one block less
        a.u64(a.footer + 24, nblocks - 1)
    elif m == "record_count":   # the footer counts one record more
        a.u64(a.footer + 16, a.u64(a.footer + 16) + 1)
    elif m == "zero_records":   # an entry of no records
        a.u32(a.entry(1) + 16, 0)
    else:
        raise SystemExit("unknown mutation " + m)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    a = Archive(open(sys.argv[1], "rb").read())
    mutate(a, sys.argv[3])
    a.reseal()
    open(sys.argv[2], "wb").write(a.b)


if __name__ == "__main__":
    main()
