#!/bin/sh
# Option syntax of every command: '--opt=value' and '--opt value' give the
# same result, short options bundle (-qj2), options may follow operands,
# '--' makes an operand that starts with '-' an operand, and a value that
# looks like an option or a negative number is a value. Outputs are compared
# between the forms, and with the expected output where it is easy to write.
# Protocol: one "PASS name", "FAIL name" (reason on stderr) or "SKIP name why"
# line per check. Environment: STEPARC_BIN STEPARC_TMP.

BIN=${STEPARC_BIN:?STEPARC_BIN is not set}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
W=${STEPARC_TMP:?STEPARC_TMP is not set}/options
rm -rf "$W" && mkdir -p "$W/f" || exit 1

pass() { echo "PASS $1"; }
fail() { n=$1; shift; echo "FAIL $n"; echo "$n: $*" >&2; }

# form TAG ARGS...: runs steparc ARGS (in $W), stdout in $W/f/TAG, status in $W/f/TAG.rc
form() {
    t=$1; shift
    (cd "$W" && "$BIN" "$@") > "$W/f/$t" 2> "$W/f/$t.err"
    echo $? > "$W/f/$t.rc"
}
# agree NAME WANT TAG...: every TAG exited 0 and its file (stdout, or the
# archive or report the form wrote to $W/f/TAG.out when it exists) equals WANT
agree() {
    n=$1; want=$2; shift 2
    for t in "$@"; do
        got="$W/f/$t"; [ -f "$W/f/$t.out" ] && got="$W/f/$t.out"
        if [ "$(cat "$W/f/$t.rc")" != 0 ]; then
            fail "$n" "form $t: exit $(cat "$W/f/$t.rc"): $(head -c 300 "$W/f/$t.err")"; return
        elif ! cmp -s "$want" "$got"; then
            fail "$n" "form $t: output differs from $want"; return
        fi
    done
    pass "$n"
}
# usage NAME PATTERN ARGS...: exit 2 and stderr holding "steparc CMD:" and PATTERN
usage() {
    n=$1; pat=$2; shift 2
    form u "$@"
    if [ "$(cat "$W/f/u.rc")" != 2 ]; then
        fail "$n" "steparc $*: exit $(cat "$W/f/u.rc"), expected 2"
    elif ! grep -qF -- "steparc $1: " "$W/f/u.err" || ! grep -qF -- "$pat" "$W/f/u.err"; then
        fail "$n" "steparc $*: message lacks 'steparc $1:' or '$pat': $(head -c 300 "$W/f/u.err")"
    else
        pass "$n"
    fi
}

S1='{"id":"step_a","object":"thread.run.step","created_at":1700000000,"run_id":"run_1","thread_id":"thread_1","status":"completed"}'
S2='{"id":"step_b","object":"thread.run.step","created_at":1700000001,"run_id":"run_1","thread_id":"thread_1","status":"completed"}'
S3='{"id":"step_c","object":"thread.run.step","created_at":1700000002,"run_id":"run_2","thread_id":"thread_1","status":"failed"}'
S4='{"id":"step_d","object":"thread.run.step","created_at":1700000003,"run_id":"run_3","thread_id":"thread_2","status":"completed"}'
printf '%s\n%s\n%s\n' "$S1" "$S2" "$S3" > "$W/in.jsonl"
printf '%s\n' "$S4" > "$W/more.jsonl"
printf '%s\n%s\n' "$S1" 'not json' > "$W/bad.jsonl"
cp "$W/in.jsonl" "$W/-dash.jsonl"
cp "$W/in.jsonl" "$W/all.exp"
printf '%s\n%s\n' "$S1" "$S3" > "$W/get.exp"
printf '%s\n%s\n' "$S1" "$S2" > "$W/run1.exp"
printf '%s\n%s\n%s\n' "$S3" "$S2" "$S1" > "$W/desc.exp"
printf '[%s,%s,%s]\n' "$S1" "$S2" "$S3" > "$W/array.exp"
{ printf '{"object":"list","data":[%s,%s],"first_id":"step_a","last_id":"step_b","has_more":true}\n' "$S1" "$S2"
  printf '{"object":"list","data":[%s],"first_id":"step_c","last_id":"step_c","has_more":false}\n' "$S3"; } > "$W/pages.exp"
: > "$W/empty.exp"

# ---- convert ----------------------------------------------------------------------
form ref convert -q in.jsonl -o ref.steparc
cp "$W/ref.steparc" "$W/f/ref.out"
[ -s "$W/ref.steparc" ] || { fail convert_setup "$(cat "$W/f/ref.err")"; exit 0; }
i=0
for args in "-q -o f/c1.out in.jsonl" "-q --output=f/c2.out in.jsonl" "-q --output f/c3.out in.jsonl" \
            "-qof/c4.out in.jsonl" "-qo f/c5.out in.jsonl" "in.jsonl -q -o f/c6.out" \
            "in.jsonl -of/c7.out --quiet" "-q -o f/c8.out -- -dash.jsonl" "-q -j2 -o f/c9.out in.jsonl" \
            "-qj1 -o f/c10.out in.jsonl" "--threads=3 -qo f/c11.out in.jsonl" "--threads 2 -q in.jsonl -o f/c12.out"; do
    i=$((i + 1)); form "c$i" convert $args
done
agree convert_output_forms "$W/ref.steparc" c1 c2 c3 c4 c5 c6 c7 c8 c9 c10 c11 c12
(cd "$W" && "$BIN" convert -q -o f/stdin.out - < in.jsonl) 2> "$W/f/stdin.err"; echo $? > "$W/f/stdin.rc"
agree convert_stdin_dash "$W/ref.steparc" stdin

# each option with a value, both forms, and the forms agree (an option that
# changes the bytes is compared with its other form, not with ref)
for ov in "level 7" "block-size 4096" "layout rows" "dict-size -1" "dict-size 0" "input-format jsonl" \
          "threads 2"; do
    set -- $ov
    form eq convert -q "--$1=$2" in.jsonl -o f/eq.out
    form sp convert -q "--$1" "$2" in.jsonl -o f/sp.out
    form after convert -q in.jsonl -o f/after.out "--$1" "$2"
    agree "convert_${1}_${2}_forms" "$W/f/eq.out" sp after
    [ "$(cat "$W/f/eq.rc")" = 0 ] || fail "convert_${1}_${2}_forms" "--$1=$2: exit $(cat "$W/f/eq.rc")"
done
for fl in keep-duplicates no-rebuild strict; do
    form a convert -q "--$fl" in.jsonl -o f/a.out
    form b convert in.jsonl -o f/b.out -q "--$fl"
    agree "convert_${fl}_position" "$W/f/a.out" b
done
# --report and --rejects take a file either way (the report's seconds and output differ)
form r1 convert -q --skip-invalid --rejects=f/rj1 --report=f/rp1 bad.jsonl -o f/r1.steparc
form r2 convert -q --skip-invalid --rejects f/rj2 --report f/rp2 bad.jsonl -o f/r2.steparc
grep -v '"seconds"\|"output"' "$W/f/rp1" > "$W/f/rp1.out"; grep -v '"seconds"\|"output"' "$W/f/rp2" > "$W/f/rp2.out"
cp "$W/f/rj1" "$W/f/rj1.out"; cp "$W/f/rj2" "$W/f/rj2.out"
echo 0 > "$W/f/rp1.rc"; echo 0 > "$W/f/rp2.rc"; echo 0 > "$W/f/rj1.rc"; echo 0 > "$W/f/rj2.rc"
printf 'not json\n' > "$W/rejects.exp"
agree convert_report_forms "$W/f/rp1.out" rp2
agree convert_rejects_forms "$W/rejects.exp" rj1 rj2
if [ "$(cat "$W/f/r1.rc")" = 0 ] && cmp -s "$W/f/r1.steparc" "$W/f/r2.steparc"; then pass convert_skip_invalid_forms
else fail convert_skip_invalid_forms "exit $(cat "$W/f/r1.rc"), or the archives differ"; fi

usage convert_unknown_option "--frob" convert --frob in.jsonl -o f/x.steparc
usage convert_unknown_short "-Z" convert -qZ in.jsonl -o f/x.steparc
usage convert_missing_value "--level needs a value" convert in.jsonl -o f/x.steparc --level
usage convert_bad_level_eq "--level takes 1..22" convert --level=0 in.jsonl -o f/x.steparc
usage convert_bad_threads_bundled "-j takes 1..256" convert -qj0 in.jsonl -o f/x.steparc
usage convert_flag_with_value "--quiet" convert --quiet=1 in.jsonl -o f/x.steparc
usage convert_ambiguous "--s" convert --s in.jsonl -o f/x.steparc

# ---- append --------------------------------------------------------------------------
i=0
for args in "-q BASE more.jsonl" "--quiet BASE more.jsonl" "BASE -q more.jsonl" "-qj1 BASE more.jsonl" \
            "--threads=2 -q BASE more.jsonl" "--threads 2 -q BASE more.jsonl" "-q -- BASE more.jsonl"; do
    i=$((i + 1)); cp "$W/ref.steparc" "$W/f/a$i.out"
    form "a$i" append $(echo "$args" | sed "s|BASE|f/a$i.out|")
done
cp "$W/ref.steparc" "$W/-arch.steparc"
form adash append -q -- -arch.steparc more.jsonl
cp "$W/-arch.steparc" "$W/f/adash.out"
agree append_forms "$W/f/a1.out" a2 a3 a4 a5 a6 a7 adash
for ov in "level 9" "block-size 2048"; do
    set -- $ov
    cp "$W/ref.steparc" "$W/f/eq.out"; cp "$W/ref.steparc" "$W/f/sp.out"
    form eq append -q "--$1=$2" f/eq.out more.jsonl
    form sp append f/sp.out more.jsonl -q "--$1" "$2"
    agree "append_${1}_forms" "$W/f/eq.out" eq sp
done
usage append_unknown_option "--frob" append --frob f/a1.out more.jsonl

# ---- merge ---------------------------------------------------------------------------
form m0 convert -q more.jsonl -o more.steparc
form mref merge -q ref.steparc more.steparc -o merged.steparc
i=0
for args in "-q -o f/m1.out ref.steparc more.steparc" "-q --output=f/m2.out ref.steparc more.steparc" \
            "ref.steparc more.steparc --output f/m3.out -q" "-qof/m4.out ref.steparc more.steparc" \
            "-qj1 -o f/m5.out ref.steparc more.steparc" "-q --threads=2 -o f/m6.out ref.steparc more.steparc"; do
    i=$((i + 1)); form "m$i" merge $args
done
cp "$W/ref.steparc" "$W/-a.steparc"
form m7 merge -q -o f/m7.out -- -a.steparc more.steparc
agree merge_forms "$W/merged.steparc" m1 m2 m3 m4 m5 m6 m7
form k1 merge -q --keep-duplicates -o f/k1.out ref.steparc ref.steparc
form k2 merge ref.steparc ref.steparc -q -o f/k2.out --keep-duplicates
agree merge_keep_duplicates_position "$W/f/k1.out" k2
for ov in "level 4" "block-size 8192"; do
    set -- $ov
    form eq merge -q "--$1=$2" -o f/eq.out ref.steparc more.steparc
    form sp merge -q ref.steparc "--$1" "$2" more.steparc -o f/sp.out
    agree "merge_${1}_forms" "$W/f/eq.out" eq sp
done
rm -f "$W/f/"*.out

# ---- cat -----------------------------------------------------------------------------
form t1 cat ref.steparc
form t2 cat -- -a.steparc
form t3 cat -j2 ref.steparc
form t4 cat ref.steparc -j 2
form t5 cat --threads=3 ref.steparc
form t6 cat --threads 1 ref.steparc
form t7 cat --format=jsonl ref.steparc
agree cat_jsonl_forms "$W/all.exp" t1 t2 t3 t4 t5 t6 t7
form j1 cat --format=json ref.steparc
form j2 cat --format json ref.steparc
form j3 cat ref.steparc --format json
form j4 cat --format=json -j2 -- -a.steparc
agree cat_json_forms "$W/array.exp" j1 j2 j3 j4
form l1 cat --format=list --limit=2 ref.steparc
form l2 cat --format list --limit 2 ref.steparc
form l3 cat ref.steparc --limit 2 --format=list
agree cat_list_forms "$W/pages.exp" l1 l2 l3
form d1 cat --order=desc ref.steparc
form d2 cat --order desc ref.steparc
form d3 cat ref.steparc --order desc
agree cat_order_forms "$W/desc.exp" d1 d2 d3
form p1 cat --pretty --format=json ref.steparc
form p2 cat --format json ref.steparc --pretty
form p3 cat --via-struct --pretty --format json ref.steparc
agree cat_pretty_position "$W/f/p1" p2 p3
usage cat_unknown_option "--frob" cat --frob ref.steparc
usage cat_unknown_short "-x" cat -x ref.steparc
usage cat_bad_format_eq "--format takes" cat --format=xml ref.steparc
usage cat_bad_limit "--limit takes" cat --limit=0 ref.steparc
usage cat_missing_value "--order needs a value" cat ref.steparc --order
usage cat_threads_zero "-j takes 1..256" cat -j0 ref.steparc
usage cat_flag_with_value "--pretty" cat --pretty=yes ref.steparc
usage cat_two_archives "exactly one archive" cat ref.steparc -- -a.steparc

# ---- get -----------------------------------------------------------------------------
form g1 get ref.steparc 0 2
form g2 get -- -a.steparc 0 2
form g3 get ref.steparc -- 0 2
form g4 get --via-struct ref.steparc 0 2
form g5 get ref.steparc 0 --via-struct 2
agree get_forms "$W/get.exp" g1 g2 g3 g4 g5
form gp1 get --pretty ref.steparc 0 2
form gp2 get ref.steparc 0 2 --pretty
form gp3 get ref.steparc 0 --pretty --via-struct 2
agree get_pretty_position "$W/f/gp1" gp2 gp3
usage get_negative "'-1' is not a position" get ref.steparc -1
usage get_negative_after_dashdash "'-1' is not a position" get ref.steparc -- -1
usage get_unknown_option "--frob" get ref.steparc --frob 0

# ---- find ----------------------------------------------------------------------------
form f1 find ref.steparc --run run_1
form f2 find ref.steparc --run=run_1
form f3 find --run run_1 ref.steparc
form f4 find --run=run_1 -- -a.steparc
form f5 find --thread=thread_1 --until 1700000001 ref.steparc
form f6 find ref.steparc --since=-5 --until=1700000001
form f7 find ref.steparc --status completed
form f8 find ref.steparc --status=completed --type=
agree find_run_forms "$W/run1.exp" f1 f2 f3 f4 f5 f6 f7
agree find_empty_value "$W/empty.exp" f8
form fs1 find ref.steparc --since -5
form fs2 find ref.steparc --since=-5
form fs3 find --since -5 -- -a.steparc
agree find_negative_since "$W/all.exp" fs1 fs2 fs3
form fr1 find ref.steparc --run -x
form fr2 find ref.steparc --run=-x
form fr3 find ref.steparc --assistant --id
agree find_dash_value "$W/empty.exp" fr1 fr2 fr3
printf '%s\n' "$S2" > "$W/id.exp"
form fi1 find ref.steparc --id step_b
form fi2 find ref.steparc --id=step_b
form fi3 find --id step_b --run=run_1 ref.steparc
agree find_id_forms "$W/id.exp" fi1 fi2 fi3
form fo1 find ref.steparc --thread thread_1 --format=list --limit=2
form fo2 find --format list --limit 2 ref.steparc --thread=thread_1
agree find_list_forms "$W/pages.exp" fo1 fo2
form fd1 find ref.steparc --thread thread_1 --order=desc
form fd2 find --order desc --thread=thread_1 ref.steparc
agree find_order_forms "$W/desc.exp" fd1 fd2
form fj1 find ref.steparc --tool=none --format=json
form fj2 find ref.steparc --format json --tool none
printf '[]\n' > "$W/noarray.exp"
agree find_json_forms "$W/noarray.exp" fj1 fj2
usage find_unknown_option "--frob" find ref.steparc --frob
usage find_missing_value "--since needs a value" find ref.steparc --since
usage find_bad_since_eq "--since takes" find ref.steparc --since=yesterday
usage find_two_archives "unexpected argument" find ref.steparc --run r ref.steparc
usage find_no_filter "give at least one" find -- -a.steparc

# ---- info, stats, verify --------------------------------------------------------------
form i1 info --json ref.steparc
form i2 info ref.steparc --json
form i3 info --json -- -a.steparc
agree info_json_position "$W/f/i1" i2 i3
form it1 info ref.steparc
sed 's/ref\.steparc/-a.steparc/' "$W/f/it1" > "$W/info.exp"
form it2 info -- -a.steparc
agree info_dashdash "$W/info.exp" it2
form s1 stats --json ref.steparc
form s2 stats ref.steparc --json
form s3 stats --json -- -a.steparc
agree stats_json_position "$W/f/s1" s2 s3
form st1 stats ref.steparc
form st2 stats -- -a.steparc
agree stats_dashdash "$W/f/st1" st2
form v1 verify -- -a.steparc
printf -- '-a.steparc: ok, 3 records in 1 blocks, every checksum and index verified\n' > "$W/verify.exp"
agree verify_dashdash "$W/verify.exp" v1
for c in info stats verify; do
    usage "${c}_unknown_option" "--frob" "$c" ref.steparc --frob
done
usage info_json_with_value "--json" info --json=1 ref.steparc

# ---- recover -------------------------------------------------------------------------
i=0
for args in "-o f/r1.out ref.steparc" "--output=f/r2.out ref.steparc" "--output f/r3.out ref.steparc" \
            "-of/r4.out ref.steparc" "-qof/r5.out ref.steparc" "ref.steparc -q -o f/r6.out" \
            "--quiet ref.steparc --output=f/r7.out" "-q -o f/r8.out -- -a.steparc"; do
    i=$((i + 1)); form "r$i" recover $args
done
agree recover_forms "$W/f/r1.out" r2 r3 r4 r5 r6 r7 r8
if "$BIN" verify "$W/f/r1.out" > /dev/null 2>&1; then pass recover_output_verifies
else fail recover_output_verifies "the recovered archive does not verify"; fi
usage recover_unknown_option "--frob" recover --frob ref.steparc -o f/x.steparc
usage recover_missing_value "-o needs a value" recover ref.steparc -o

# ---- help: --help, -h, bundled -h, 'steparc help CMD' -----------------------------------
for c in convert append merge cat get find info stats verify recover; do
    form h1 help "$c"
    form h2 "$c" --help
    form h3 "$c" -h
    form h4 "$c" ref.steparc --help
    if grep -q "^usage: steparc $c" "$W/f/h1"; then agree "help_forms_$c" "$W/f/h1" h2 h3 h4
    else fail "help_forms_$c" "steparc help $c: $(head -c 100 "$W/f/h1")"; fi
done
form hb1 convert -qh
form hb2 cat -h --format=json
form hb3 help cat
cp "$W/f/hb3" "$W/cat_help.exp"; form hb4 help convert
agree help_bundled "$W/f/hb4" hb1
agree help_with_other_options "$W/cat_help.exp" hb2
exit 0
