#!/bin/sh
# shellcheck disable=SC2016 # sh -c scripts take their values as "$1"...
# Packaging, end to end: `make install` into a temporary prefix, then build every
# program in examples/ against the *installed* library through pkg-config, both
# shared and static, run them on an archive converted from examples/steps.jsonl
# and check what they print; check the exported symbols, the man page and the
# bash completion against the help texts; `make uninstall` removes everything.
# Prints PASS/FAIL/SKIP lines (tests/run.sh).
. "$(dirname "$0")/lib.sh"
tempdir install
P=$W/prefix
CC=${CC:-cc}
WARN="-std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wconversion"

show() { sed 's/^/    /' "$1" >&2; }

for tool in make pkg-config nm "$CC"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP install $tool missing"
        exit 0
    fi
done
# The nested make is independent of any make running this script, and builds
# plainly (`make asan` exports sanitizer flags that an example would not link).
unset MAKEFLAGS MFLAGS MAKELEVEL OPT CFLAGS CPPFLAGS LDFLAGS MOREFLAGS

# ---- install -----------------------------------------------------------------------------
if ! make -C "$REPO" install PREFIX="$P" > "$W/install.log" 2>&1; then
    ko install "make install PREFIX=$P failed"
    show "$W/install.log"
    exit 1
fi
ok install
# The soname: libsteparc.so.0.MINOR while the major is 0 (every 0.x minor breaks the
# ABI), libsteparc.so.MAJOR from 1.0 on.
VMAJOR=$(sed -n 's/^#define STEPARC_VERSION_MAJOR \([0-9]*\).*/\1/p' "$REPO/include/steparc.h")
VMINOR=$(sed -n 's/^#define STEPARC_VERSION_MINOR \([0-9]*\).*/\1/p' "$REPO/include/steparc.h")
if [ "$VMAJOR" = 0 ]; then SONAME=libsteparc.so.0.$VMINOR; else SONAME=libsteparc.so.$VMAJOR; fi
missing=""
for f in bin/steparc include/steparc.h lib/libsteparc.a lib/libsteparc.so lib/$SONAME \
    lib/pkgconfig/steparc.pc share/man/man1/steparc.1 share/bash-completion/completions/steparc; do
    [ -e "$P/$f" ] || missing="$missing $f"
done
check install-files "missing:$missing" test -z "$missing"
BIN=$P/bin/steparc
LIB=$P/lib

export PKG_CONFIG_PATH="$LIB/pkgconfig"
VERSION=$(sed -n 's/^#define STEPARC_VERSION_STRING "\(.*\)"/\1/p' "$REPO/include/steparc.h")
check pkg-config-version "pkg-config says $(pkg-config --modversion steparc 2>&1)" \
    test "$(pkg-config --modversion steparc 2>/dev/null)" = "$VERSION"
check installed-version "$("$BIN" --version 2>&1)" \
    sh -c '"$1" --version | grep -q "^steparc $2 "' - "$BIN" "$VERSION"

# ---- exported symbols: only the public API (everything else is -fvisibility=hidden) -------
nm -D --defined-only "$LIB/libsteparc.so" | awk '{ print $NF }' > "$W/exports"
grep -v '^steparc_' "$W/exports" | grep -vx -e _init -e _fini -e _edata -e _end -e __bss_start \
    > "$W/foreign"
check exports-only-steparc "exported: $(tr '\n' ' ' < "$W/foreign")" test ! -s "$W/foreign"
# every function the header declares is exported
sed -n 's/^STEPARC_API [^(]*[ *]\(steparc_[a-z0-9_]*\)(.*/\1/p' "$REPO/include/steparc.h" | sort -u \
    > "$W/declared"
sort -u "$W/exports" | comm -23 "$W/declared" - > "$W/unexported"
check exports-cover-header "not exported: $(tr '\n' ' ' < "$W/unexported")" \
    sh -c '[ -s "$1" ] && [ ! -s "$2" ]' - "$W/declared" "$W/unexported"
check soname "$(readelf -d "$LIB/libsteparc.so" 2>&1 | grep SONAME)" \
    sh -c 'readelf -d "$1" | grep -qF "[$2]"' - "$LIB/libsteparc.so" "$SONAME"

# ---- the examples, built against the installed library ------------------------------------
ARC=$W/steps.steparc
if ! "$BIN" convert -q "$REPO/examples/steps.jsonl" -o "$ARC" 2> "$W/convert.err"; then
    ko convert-sample "installed steparc could not convert examples/steps.jsonl"
    show "$W/convert.err"
fi
first=$(head -n 1 "$REPO/examples/steps.jsonl")
field() { printf '%s\n' "$first" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
THREAD=$(field thread_id)
ID1=$(field id)
ID42=$(sed -n '42p' "$REPO/examples/steps.jsonl" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
NREC=$("$BIN" info "$ARC" --json | sed -n 's/.*"records":\([0-9]*\).*/\1/p')

for mode in shared static; do
    for src in "$REPO"/examples/*.c; do
        ex=$(basename "$src" .c)
        exe=$W/$ex-$mode
        if [ $mode = shared ]; then
            # shellcheck disable=SC2046,SC2086
            $CC $WARN -o "$exe" "$src" $(pkg-config --cflags --libs steparc) > "$W/cc.log" 2>&1
        else
            # the archive itself, then what it needs (Libs.private, Requires.private)
            libs=$(pkg-config --static --libs steparc | sed 's/-lsteparc\b//')
            # shellcheck disable=SC2046,SC2086
            $CC $WARN -o "$exe" "$src" $(pkg-config --cflags steparc) "$LIB/libsteparc.a" $libs \
                > "$W/cc.log" 2>&1
        fi
        if [ $? -ne 0 ] || [ -s "$W/cc.log" ]; then
            ko "example-$ex-$mode-build" "compile errors or warnings"
            show "$W/cc.log"
            continue
        fi
        # shared: linked to $SONAME, resolved in the prefix; static: not linked to it
        needed=$(readelf -d "$exe" | grep -c 'NEEDED.*libsteparc')
        if [ $mode = shared ]; then
            where=$(LD_LIBRARY_PATH=$LIB ldd "$exe" | sed -n 's/.*libsteparc[^ ]* => \([^ ]*\).*/\1/p')
            check "example-$ex-$mode-build" "libsteparc resolved to '$where'" \
                sh -c '[ "$1" = 1 ] && case "$2" in "$3"/*) true ;; *) false ;; esac' - \
                "$needed" "$where" "$LIB"
        else
            check "example-$ex-$mode-build" "still needs libsteparc.so" test "$needed" = 0
        fi
    done
done

# run LABEL EXE ARGS...: runs one built example, output in $W/LABEL.{out,err}, status in $rc
run() {
    label=$1
    shift
    LD_LIBRARY_PATH=$LIB "$@" > "$W/$label.out" 2> "$W/$label.err" < "${STDIN:-/dev/null}"
    rc=$?
}

for mode in shared static; do
    x=$W/transcript-$mode
    if [ -x "$x" ]; then
        run transcript "$x" "$ARC" "$THREAD"
        nsteps=$(grep -c "\"thread_id\":\"$THREAD\"" "$REPO/examples/steps.jsonl")
        check "example-transcript-$mode" "exit $rc; $(head -c 300 "$W/transcript.err")" sh -c '
            [ "$1" = 0 ] && head -n 1 "$2.out" | grep -qx "thread $3" &&
            grep -q " $4 " "$2.out" && [ "$(grep -c "^#[0-9]" "$2.out")" = "$5" ] &&
            [ ! -s "$2.err" ]' - "$rc" "$W/transcript" "$THREAD" "$ID1" "$nsteps"
        run transcript-none "$x" "$ARC" thread_not_there
        check "example-transcript-$mode-unknown-thread" "exit $rc" test "$rc" = 1
    fi

    x=$W/lookup-$mode
    if [ -x "$x" ]; then
        printf '%s\nstep_not_there\n\n%s\n' "$ID1" "$ID42" > "$W/ids"
        STDIN=$W/ids run lookup "$x" "$ARC"
        { "$BIN" find "$ARC" --id "$ID1" && "$BIN" find "$ARC" --id "$ID42"; } > "$W/lookup.want"
        check "example-lookup-$mode" "exit $rc" sh -c '
            [ "$1" = 1 ] && cmp -s "$2.out" "$2.want" && grep -qx "step_not_there: not found" "$2.err"' \
            - "$rc" "$W/lookup"
        printf '%s\n' "$ID42" > "$W/ids"
        STDIN=$W/ids run lookup-one "$x" "$ARC"
        check "example-lookup-$mode-all-found" "exit $rc" test "$rc" = 0
    fi

    x=$W/write_structs-$mode
    if [ -x "$x" ]; then
        rm -f "$W/structs.steparc"
        run write_structs "$x" "$W/structs.steparc"
        "$BIN" cat "$W/structs.steparc" > "$W/structs.cat" 2>&1
        good=1
        if command -v python3 >/dev/null 2>&1; then
            python3 "$CHECKS" install-write-structs "$W/write_structs.out" 2>> "$W/write_structs.err" || good=0
        fi
        check "example-write_structs-$mode" "exit $rc; $(head -c 300 "$W/write_structs.err")" sh -c '
            [ "$1" = 0 ] && [ "$2" = 1 ] && [ "$(wc -l < "$3.out")" = 3 ] &&
            cmp -s "$3.out" "$4" && grep -q "^{\"id\":\"step_example1\"" "$3.out" &&
            "$5" verify "$6" > /dev/null' - "$rc" "$good" "$W/write_structs" "$W/structs.cat" \
            "$BIN" "$W/structs.steparc"
    fi

    x=$W/tokens-$mode
    if [ -x "$x" ]; then
        run tokens "$x" "$ARC"
        check "example-tokens-$mode" "exit $rc; $(head -c 300 "$W/tokens.out")" sh -c '
            [ "$1" = 0 ] && grep -q "^steps: $2 " "$3" && grep -q "^tokens: prompt [0-9]" "$3" &&
            grep -q "^status completed: [1-9]" "$3"' - "$rc" "$NREC" "$W/tokens.out"
        T0=1710000000 T1=1740000000
        run tokens-range "$x" "$ARC" --since $T0 --until $T1
        want=$("$BIN" find "$ARC" --since $T0 --until $T1 | wc -l)
        check "example-tokens-$mode-range" "exit $rc; want $want steps" sh -c '
            [ "$1" = 0 ] && grep -q "^steps: $2 " "$3"' - "$rc" "$want" "$W/tokens-range.out"
        run tokens-usage "$x" "$ARC" --since
        check "example-tokens-$mode-usage" "exit $rc" test "$rc" = 2
    fi
done
# both builds of every example print the same
for ex in transcript lookup write_structs tokens; do
    [ -x "$W/$ex-shared" ] && [ -x "$W/$ex-static" ] || continue
    set -- "$ARC"
    case $ex in
    transcript) set -- "$ARC" "$THREAD" ;;
    write_structs) set -- "$W/same.steparc" ;;
    esac
    printf '%s\n' "$ID1" "$ID42" > "$W/ids"
    rm -f "$W/same.steparc"
    LD_LIBRARY_PATH=$LIB "$W/$ex-shared" "$@" < "$W/ids" > "$W/a.out" 2>&1
    rm -f "$W/same.steparc"
    "$W/$ex-static" "$@" < "$W/ids" > "$W/b.out" 2>&1
    check "example-$ex-shared-equals-static" "outputs differ" cmp -s "$W/a.out" "$W/b.out"
done

# ---- man page and completion cover every command and option the help prints --------------
MAN=$P/share/man/man1/steparc.1
COMP=$P/share/bash-completion/completions/steparc
cmds=$("$BIN" --help | sed -n '/^commands:/,/^$/p' | awk 'NF && !/^commands:/ { print $1 }')
[ -n "$cmds" ] || ko help-commands "no commands found in steparc --help"
# options as the man page spells them: "-" escaped as "\-"
manopts=$(sed 's/\\-/-/g' "$MAN")
missing_man="" missing_comp=""
for c in $cmds; do
    printf '%s\n' "$manopts" | grep -q "^\.SS \"$c " || missing_man="$missing_man $c"
    grep -q "commands=\".*\b$c\b" "$COMP" || missing_comp="$missing_comp $c"
    for o in $("$BIN" "$c" --help | grep -o -- '\(^\|[ [,]\)-\?-[a-zA-Z][a-zA-Z0-9-]*' |
        sed 's/^[ [,]*//' | sort -u); do
        case $o in --help | -h) continue ;; esac
        # the option in its command's section of the man page
        printf '%s\n' "$manopts" | awk -v c="$c" '/^\.SS /{ s = ($2 == "\"" c) } s' |
            grep -q -- "$o\b" || missing_man="$missing_man $c$o"
        grep -q -- " $o\b\|\"$o\b" "$COMP" || missing_comp="$missing_comp $c$o"
    done
done
check man-covers-help "missing:$missing_man" test -z "$missing_man"
check completion-covers-help "missing:$missing_comp" test -z "$missing_comp"
# every exit status the main help lists ("Exit status: 0 ok, 1 ..., (recover: 3 ...)")
statuses=$("$BIN" --help | sed -n '/^Exit status:/,/^$/p' | grep -o '\b[0-9]\b' | sort -u)
for st in ${statuses:-0 1 2}; do
    printf '%s\n' "$manopts" | sed -n '/^\.SH EXIT STATUS/,/^\.SH [^E]/p' | grep -qx "\.B $st" ||
        missing_man="$missing_man exit-$st"
done
check man-exit-status "missing:$missing_man" sh -c 'case "$1" in *exit-*) false ;; esac' - \
    "$missing_man"
if command -v groff >/dev/null 2>&1; then
    groff -man -Tutf8 -ww -z "$MAN" > "$W/groff.log" 2>&1
    check man-renders "$(head -c 300 "$W/groff.log")" test ! -s "$W/groff.log"
else
    echo "SKIP man-renders groff missing"
fi
if command -v bash >/dev/null 2>&1; then
    # complete "steparc co", "steparc convert --inp", "steparc find x --th"
    got=$(bash -c '. "$1"
        c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _steparc; echo "${COMPREPLY[*]}"; }
        c steparc co; c steparc convert --inp; c steparc find x.steparc --th
        c steparc convert --input-format j' - "$COMP" 2>&1)
    want=$(printf 'convert\n--input-format\n--thread\njsonl json')
    check completion-works "got: $(printf '%s' "$got" | tr '\n' '|')" test "$got" = "$want"
else
    echo "SKIP completion-works bash missing"
fi

# ---- uninstall ---------------------------------------------------------------------------
if make -C "$REPO" uninstall PREFIX="$P" > "$W/uninstall.log" 2>&1; then
    find "$P" ! -type d > "$W/left"
    check uninstall "left behind: $(tr '\n' ' ' < "$W/left")" test ! -s "$W/left"
else
    ko uninstall "make uninstall failed"
    show "$W/uninstall.log"
fi
[ "$FAILS" -eq 0 ]
