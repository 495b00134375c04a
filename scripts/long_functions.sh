#!/bin/sh
# long_functions.sh [LIMIT [DIR...]]: functions longer than LIMIT lines (150)
# in the library and the command. A function starts at a line matching
# `^[a-z].*(` followed (on that or a later line) by a line starting with `{`,
# and ends at the next `^}`. Prints LINES FILE:LINE NAME, longest first.
limit=${1:-150}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- format converter reader cli
find "$@" -name '*.c' | sort | xargs awk -v limit="$limit" '
FNR == 1 { cand = ""; infn = 0 }
!infn && /^[a-z].*\(/ { cand = $0; candline = FNR }
!infn && /^\{/ && cand != "" {
    infn = 1; start = candline; name = cand
    sub(/\(.*/, "", name); sub(/.*[ *]/, "", name)
}
infn && /^}/ {
    n = FNR - start + 1
    if (n > limit) printf "%d %s:%d %s\n", n, FILENAME, start, name
    infn = 0; cand = ""
}
!infn && /;[ \t]*$/ { cand = "" }
' | sort -rn
