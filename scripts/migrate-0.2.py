#!/usr/bin/env python3
"""Moves C code from the libsteparc 0.1 argument order to 0.2's (out-parameter
first): rewrites, in place, every call, prototype and definition of the 15
functions whose parameters moved. Usage: scripts/migrate-0.2.py FILE...
It parses each argument list (nested parentheses, strings, comments), skips a
call whose argument count does not match (reported on stderr) and keeps the
original spacing. PERM maps a name to (argument count, new order as old indices)."""
import re, sys
PERM = {
 'steparc_step_decode':        (3, [2, 0, 1]),
 'steparc_step_encode':        (2, [1, 0]),
 'steparc_json_to_msgpack':    (5, [3, 0, 1, 2, 4]),
 'steparc_msgpack_to_json':    (4, [3, 0, 1, 2]),
 'steparc_step_to_json':       (3, [2, 0, 1]),
 'steparc_reader_info':        (2, [1, 0]),
 'steparc_reader_cache_stats': (3, [1, 2, 0]),
 'steparc_reader_get_msgpack': (3, [2, 0, 1]),
 'steparc_reader_get_json':    (4, [3, 0, 1, 2]),
 'steparc_reader_get_step':    (3, [2, 0, 1]),
 'steparc_reader_find_id':     (4, [3, 0, 1, 2]),
 'steparc_cursor_open':        (3, [2, 0, 1]),
 'steparc_cursor_next':        (4, [1, 2, 3, 0]),
 'steparc_verify':             (4, [3, 0, 1, 2]),
 'steparc_recover':            (6, [3, 0, 1, 2, 4, 5]),
}
NAMES = re.compile(r'\b(' + '|'.join(PERM) + r')\s*\(')

def parse_args(s, i):
    """s[i] is just after '('. Return (list of (start,end) arg spans, index of ')')."""
    depth = 0; spans = []; start = i; j = i
    while j < len(s):
        c = s[j]
        if c in '"\'':
            q = c; j += 1
            while s[j] != q:
                j += 2 if s[j] == '\\' else 1
        elif s.startswith('/*', j):
            j = s.index('*/', j) + 1
        elif s.startswith('//', j):
            j = s.index('\n', j) - 1
        elif c in '([{':
            depth += 1
        elif c in ')]}':
            if depth == 0:
                spans.append((start, j)); return spans, j
            depth -= 1
        elif c == ',' and depth == 0:
            spans.append((start, j)); start = j + 1
        j += 1
    raise ValueError('unbalanced')

def rewrite(s, fname):
    out = []; pos = 0; n = 0
    for m in NAMES.finditer(s):
        if m.start() < pos: continue
        name = m.group(1); nargs, perm = PERM[name]
        spans, close = parse_args(s, m.end())
        if len(spans) != nargs:
            print(f'{fname}:{s.count(chr(10),0,m.start())+1}: {name} has {len(spans)} args, skipped', file=sys.stderr)
            continue
        raw = [s[a:b] for a, b in spans]
        lead = [r[:len(r) - len(r.lstrip())] for r in raw]
        trail = [r[len(r.rstrip()):] for r in raw]
        body = [r.strip() for r in raw]
        new = ''.join(lead[k] + body[perm[k]] + trail[k] + (',' if k < nargs - 1 else '') for k in range(nargs))
        out.append(s[pos:m.end()]); out.append(new); pos = close; n += 1
    out.append(s[pos:])
    return ''.join(out), n

for f in sys.argv[1:]:
    s = open(f).read()
    t, n = rewrite(s, f)
    if t != s:
        open(f, 'w').write(t); print(f'{f}: {n}')
