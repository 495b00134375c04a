#!/bin/sh
# Replays every fuzz target (tests/fuzz/fuzz_*.c, linked with
# tests/fuzz/regression_driver.c as BUILD/tests/fuzzreplay_TARGET; `make
# test-run` builds them) over its seed corpus (tests/fuzz/corpus/TARGET) and
# every input that once crashed it (tests/fuzz/regressions/TARGET, kept
# forever). The targets trap on a violated invariant and check that the library
# freed everything; under `make asan` the sanitizers check memory too.
# Protocol: one "PASS fuzz-replay-TARGET" or "FAIL fuzz-replay-TARGET" line per
# target, the failing inputs on stderr. Environment: STEPARC_BIN (its directory
# is the build directory) STEPARC_TESTS STEPARC_TMP.

. "$(dirname "$0")/lib.sh"
workdir fuzz-replay
B=$(dirname "$BIN")
F="$TESTS/fuzz"
# the targets' scratch archives go there too (not /dev/shm), removed with it
export STEPARC_FUZZ_TMP="$W"

# per input, at most this long (a hang is a failure too)
TO=""
command -v timeout >/dev/null 2>&1 && TO="timeout 300"

# notes a failing input; details for the first few only
note() {
    nbad=$((nbad + 1))
    if [ "$nbad" -le 8 ]; then
        bad="$bad $1"
        head -n 3 "$W/err1" | sed "s|^|$name: $(basename "$1"): |" >&2
    fi
}

for t in archive columnar convert record roundtrip; do
    name="fuzz-replay-$t"
    bin="$B/tests/fuzzreplay_$t"
    if [ ! -x "$bin" ]; then
        ko "$name" "$bin is missing (make test-run builds it)"
        continue
    fi
    bad=""
    nbad=0
    # the corpus in one run (fast); when it fails, one run per file names the culprits
    if [ -d "$F/corpus/$t" ]; then
        if ! $TO "$bin" "$F/corpus/$t" > "$W/out" 2> "$W/err"; then
            for f in "$F/corpus/$t"/*; do
                [ -f "$f" ] || continue
                $TO "$bin" "$f" > /dev/null 2> "$W/err1" || note "corpus/$t/$(basename "$f")"
            done
            [ -n "$bad" ] || bad=" corpus/$t (as a whole)"
        fi
    fi
    # each regression alone
    for f in "$F/regressions/$t"/*; do
        [ -f "$f" ] || continue
        $TO "$bin" "$f" > /dev/null 2> "$W/err1" || note "regressions/$t/$(basename "$f")"
    done
    if [ -z "$bad" ]; then
        ok "$name"
    else
        more=""
        [ "$nbad" -gt 8 ] && more=" (and $((nbad - 8)) more)"
        ko "$name" "failing inputs:$bad$more"
    fi
done
exit 0
