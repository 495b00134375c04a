#!/bin/sh
# fuzz.sh - the work behind `make fuzz` (mk/fuzz.mk).
#
#   fuzz.sh --deps [CC]     installs clang and its libFuzzer/sanitizer runtime
#                           (Debian packages) when CC cannot build a fuzzer
#   fuzz.sh --run FUZZ_BUILD_DIR WORK_DIR SECONDS "EXTRA_ARGS" TARGET...
#                           runs each target for SECONDS on its corpus, one at a
#                           time; prints executions and coverage per target;
#                           copies crash/leak/timeout/oom inputs into
#                           tests/fuzz/regressions/TARGET/
set -u
here=$(cd "$(dirname "$0")" && pwd)

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        return 1
    fi
}

can_fuzz() {
    t=$(mktemp -d "${TMPDIR:-/tmp}/steparc-fuzzprobe.XXXXXX") || return 1
    printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' > "$t/p.c"
    "$1" -fsanitize=fuzzer,address,undefined "$t/p.c" -o "$t/p" >/dev/null 2>&1
    rc=$?
    rm -rf "$t"
    return $rc
}

if [ "${1:-}" = --deps ]; then
    cc=${2:-clang}
    can_fuzz "$cc" && exit 0
    need=""
    command -v "$cc" >/dev/null 2>&1 || need="clang"
    export DEBIAN_FRONTEND=noninteractive
    if [ -n "$need" ]; then
        echo "steparc: installing $need for fuzzing" >&2
        as_root apt-get update -qq >&2 || true
        as_root apt-get install -y -qq clang >&2 || {
            echo "steparc: cannot install clang (apt-get install clang libclang-rt-dev, as root)" >&2
            exit 1
        }
    fi
    can_fuzz "$cc" && exit 0
    # libFuzzer and the sanitizer runtimes: libclang-rt-N-dev on Debian 12+
    ver=$("$cc" --version 2>/dev/null | sed -n 's/.*clang version \([0-9][0-9]*\).*/\1/p' | head -n 1)
    pkg=libclang-rt-${ver:-14}-dev
    echo "steparc: installing $pkg for fuzzing" >&2
    as_root apt-get update -qq >&2 || true
    as_root apt-get install -y -qq "$pkg" >&2 || as_root apt-get install -y -qq libclang-rt-dev >&2 || {
        echo "steparc: cannot install $pkg (apt-get install $pkg, as root)" >&2
        exit 1
    }
    can_fuzz "$cc" || { echo "steparc: $cc still cannot build a fuzzer" >&2; exit 1; }
    exit 0
fi

[ "${1:-}" = --run ] || { echo "usage: fuzz.sh --deps [CC] | --run FUZZ_B WORK SECONDS ARGS TARGET..." >&2; exit 2; }
fb=$2 work=$3 secs=$4 extra=$5
shift 5
status=0
for t in "$@"; do
    bin="$fb/fuzz_$t"
    [ -x "$bin" ] || { echo "fuzz-$t: $bin is missing" >&2; status=1; continue; }
    corpus="$work/corpus/$t"
    art="$work/artifacts/$t"
    regs="$here/regressions/$t"
    mkdir -p "$corpus" "$art" "$regs"
    log="$work/$t.log"
    dict=""
    [ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
    echo "== fuzz-$t: $secs s (log: $log)"
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=30 -rss_limit_mb=3072 \
        -max_len=65536 -artifact_prefix="$art/" $dict $extra "$corpus" "$here/corpus/$t" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    covline=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
    cov=$(printf '%s\n' "$covline" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$covline" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(printf '%s\n' "$covline" | sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p')
    found=0
    for a in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
        [ -f "$a" ] || continue
        name=$(basename "$a")
        known=""
        for r in "$regs"/*; do
            [ -f "$r" ] && cmp -s "$a" "$r" && known="$r" && break
        done
        if [ -n "$known" ]; then
            echo "   known regression: tests/fuzz/regressions/$t/$(basename "$known")"
        elif [ ! -f "$regs/$name" ]; then
            cp "$a" "$regs/$name"
            found=$((found + 1))
            echo "   new regression: tests/fuzz/regressions/$t/$name"
        fi
        rm -f "$a"
    done
    echo "fuzz-$t: ${execs:-?} executions, coverage ${cov:-?} edges, ${ft:-?} features, corpus ${corp:-?}, exit $rc, $found new regression(s)"
    if [ $rc -ne 0 ]; then
        grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz invariant)' "$log" | head -n 5 | sed 's/^/   /'
        status=1
    fi
done
exit $status
