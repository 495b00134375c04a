#!/bin/sh
# Bad input and bad usage: exact exit status (1 bad input or damaged archive,
# 2 usage error), a message that names the problem, and no output (nor
# temporary file) left behind by a failed convert.
# Protocol: one "PASS name", "FAIL name" (reason on stderr) or "SKIP name why"
# line per check. Environment: STEPARC_BIN STEPARC_TMP STEPARC_TESTS.

. "$(dirname "$0")/lib.sh"
workdir errors
mkdir -p "$W/in" "$W/out" || exit 1
I="$W/in"; O="$W/out"

# run CMD...: runs steparc, stdout in $W/stdout, stderr in $W/stderr, status in $rc
run() { "$BIN" "$@" > "$W/stdout" 2> "$W/stderr"; rc=$?; }
msg() { tr '\n' ' ' < "$W/stderr" | head -c 300; }

# expect NAME RC PATTERN CMD...: exit status RC and, unless PATTERN is empty,
# stderr containing PATTERN (a fixed string)
expect() {
    n=$1; want=$2; pat=$3; shift 3
    run "$@"
    if [ $rc -ne "$want" ]; then
        ko "$n" "steparc $*: exit $rc, expected $want ($(msg))"
    elif [ -n "$pat" ] && ! grep -qF -- "$pat" "$W/stderr"; then
        ko "$n" "steparc $*: message lacks '$pat': $(msg)"
    else
        ok "$n"
    fi
}

# no_output NAME OUT: after a failed convert, OUT and OUT.tmp-* must not exist
no_output() {
    d=$(dirname "$2"); b=$(basename "$2")
    left=$(cd "$d" && ls -a | grep -F "$b.tmp-")
    left2=$(cd "$d" && ls -a | grep -F ".tmp-")
    if [ -e "$2" ]; then
        ko "${1}_no_output" "$2 exists after a failed convert"
    elif [ -n "$left" ] || [ -n "$left2" ]; then
        ko "${1}_no_output" "temporary file(s) left in $d: $left $left2"
    else
        ok "${1}_no_output"
    fi
}

# convert_fails NAME RC PATTERN INPUT... : convert INPUT... -o $O/NAME.steparc
convert_fails() {
    n=$1; want=$2; pat=$3; shift 3
    expect "$n" "$want" "$pat" convert "$@" -o "$O/$n.steparc"
    no_output "$n" "$O/$n.steparc"
}

S1='{"id":"step_a","object":"thread.run.step","created_at":1700000000,"run_id":"run_1","thread_id":"thread_1","status":"completed"}'
S2='{"id":"step_b","object":"thread.run.step","created_at":1700000001,"run_id":"run_1","thread_id":"thread_1","status":"completed"}'
S3='{"id":"step_c","object":"thread.run.step","created_at":1700000002,"run_id":"run_2","thread_id":"thread_1","status":"failed"}'
printf '%s\n%s\n%s\n' "$S1" "$S2" "$S3" > "$I/good.jsonl"

# --- bad input ---------------------------------------------------------------
# malformed JSON at line 3, column 39 (the second comma)
printf '%s\n%s\n%s\n%s\n' "$S1" "$S2" '{"id":"x", "object":"thread.run.step",,}' "$S3" > "$I/malformed.jsonl"
convert_fails malformed_line3 1 "malformed.jsonl:3:39:" "$I/malformed.jsonl"
if grep -qF "expected" "$W/stderr"; then ok malformed_line3_reason
else ko malformed_line3_reason "no reason in: $(msg)"; fi

# the error position in a pretty-printed file is its line, not the record number
printf '{\n  "id": "a",\n  "object": "thread.run.step"\n}\n{\n  "id": "b",\n  "object": "thread.run.step",\n  "x": tru\n}\n' > "$I/pretty_bad.json"
convert_fails malformed_pretty_line8 1 "pretty_bad.json:8:" "$I/pretty_bad.json"

printf '%s\n%s\n%s' "$S1" "$S2" '{"id":"step_c","object":"thread.run.step","created_at":17' > "$I/truncated.jsonl"
convert_fails truncated_final_record 1 "truncated.jsonl:3:" "$I/truncated.jsonl"
if grep -qF "truncated" "$W/stderr"; then ok truncated_final_record_reason
else ko truncated_final_record_reason "message does not say truncated: $(msg)"; fi

printf '[%s,\n%s\n' "$S1" "$S2" > "$I/truncated_array.json"
convert_fails truncated_array 1 "truncated" "$I/truncated_array.json"

printf '%s\n{"id":"s","object":"thread.run.step","x":"\377"}\n' "$S1" > "$I/utf8.jsonl"
convert_fails invalid_utf8 1 "utf8.jsonl:2:43:" "$I/utf8.jsonl"
grep -qF "invalid UTF-8" "$W/stderr" && ok invalid_utf8_reason || ko invalid_utf8_reason "$(msg)"

printf '{"id":"s","object":"thread.run.step","x":"\300\257"}\n' > "$I/overlong.jsonl"
convert_fails invalid_utf8_overlong 1 "UTF-8" "$I/overlong.jsonl"

printf '%s\n{"id":"s","object":"thread.run.step","id":"y"}\n' "$S1" > "$I/dupkey.jsonl"
convert_fails duplicate_key 1 "dupkey.jsonl:2:" "$I/dupkey.jsonl"
grep -qF "duplicate key" "$W/stderr" && ok duplicate_key_reason || ko duplicate_key_reason "$(msg)"

printf '{"id":"s","object":"thread.run.step","meta":{"a":1,"b":{"k":1,"k":2}}}\n' > "$I/dupkey_nested.jsonl"
convert_fails duplicate_key_nested 1 "duplicate key" "$I/dupkey_nested.jsonl"

printf '%s\n{"id":"s","object":"thread.run.step","n":18446744073709551616}\n' "$S1" > "$I/bigint.jsonl"
convert_fails integer_above_64_bits 1 "bigint.jsonl:2:42:" "$I/bigint.jsonl"
grep -qF "64 bits" "$W/stderr" && ok integer_above_64_bits_reason || ko integer_above_64_bits_reason "$(msg)"

printf '{"id":"s","object":"thread.run.step","n":-9223372036854775809}\n' > "$I/negint.jsonl"
convert_fails integer_below_int64 1 "64 bits" "$I/negint.jsonl"

printf '{"id":"s","object":"thread.run.step","n":18446744073709551615,"m":-9223372036854775808}\n' > "$I/edgeint.jsonl"
expect integer_64_bit_edges_accepted 0 "" convert -q "$I/edgeint.jsonl" -o "$O/edgeint.steparc"

printf '%s\n{"id":"s","object":"thread.run.step","n":"a\\ud800b"}\n' "$S1" > "$I/surrogate.jsonl"
convert_fails lone_surrogate 1 "surrogate.jsonl:2:" "$I/surrogate.jsonl"
grep -qF "surrogate" "$W/stderr" && ok lone_surrogate_reason || ko lone_surrogate_reason "$(msg)"

printf '{"id":"s","object":"thread.run.step","n":"\\udc00"}\n' > "$I/surrogate_low.jsonl"
convert_fails lone_low_surrogate 1 "surrogate" "$I/surrogate_low.jsonl"

: > "$I/empty.jsonl"
convert_fails empty_input 1 "empty" "$I/empty.jsonl"

printf '\n  \n\t\n' > "$I/blank.jsonl"
convert_fails blank_input 1 "" "$I/blank.jsonl"

convert_fails nonexistent_input 1 "$I/does-not-exist.jsonl" "$I/does-not-exist.jsonl"
grep -qiF "no such file" "$W/stderr" && ok nonexistent_input_reason || ko nonexistent_input_reason "$(msg)"

mkdir -p "$I/nomatch/sub"
echo '{}' > "$I/nomatch/data.csv"; echo x > "$I/nomatch/sub/readme.md"
convert_fails directory_without_inputs 1 "nomatch" "$I/nomatch"
grep -qF "no .json" "$W/stderr" && ok directory_without_inputs_reason || ko directory_without_inputs_reason "$(msg)"

# objects of the 8 record kinds are archived; others are skipped (--strict: an error)
printf '%s\n{"id":"c","object":"chat.completion"}\n' "$S1" > "$I/nonstep.jsonl"
convert_fails strict_non_step 1 "nonstep.jsonl:2:" --strict "$I/nonstep.jsonl"
grep -qF 'no archived kind (object "chat.completion")' "$W/stderr" && ok strict_non_step_names_object || ko strict_non_step_names_object "$(msg)"
expect non_step_skipped_without_strict 0 "" convert -q "$I/nonstep.jsonl" -o "$O/nonstep.steparc"
printf '%s\n{"id":"m","object":"thread.message"}\n{"object":"thread.run"}\n' "$S1" > "$I/kinds.jsonl"
expect message_archived 0 "" convert -q "$I/kinds.jsonl" -o "$O/kinds.steparc"
[ "$(records "$O/kinds.steparc")" = 2 ] && ok message_archived_count || ko message_archived_count "records: $(records "$O/kinds.steparc")"
convert_fails strict_run_without_id 1 "kinds.jsonl:3:" --strict "$I/kinds.jsonl"
grep -qF 'a run without a string "id"' "$W/stderr" && ok strict_run_without_id_reason || ko strict_run_without_id_reason "$(msg)"

echo '{"id":"c","object":"chat.completion"}' > "$I/nosteps.jsonl"
convert_fails no_records 1 "no records found" "$I/nosteps.jsonl"

# output equal to an input: refused, input untouched
cp "$I/good.jsonl" "$I/same.jsonl"
run convert "$I/same.jsonl" -o "$I/same.jsonl"
if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then
    ko output_is_input "exit $rc, expected 1 or 2 ($(msg))"
elif ! grep -qF "also an input" "$W/stderr"; then
    ko output_is_input "message does not say the output is an input: $(msg)"
elif ! cmp -s "$I/same.jsonl" "$I/good.jsonl"; then
    ko output_is_input "the input was modified"
else
    ok output_is_input
fi
ln -s same.jsonl "$I/same-link.jsonl" 2>/dev/null &&
    { run convert "$I/same-link.jsonl" -o "$I/same.jsonl"
      if [ $rc -ge 1 ] && [ $rc -le 2 ] && cmp -s "$I/same.jsonl" "$I/good.jsonl"; then ok output_is_input_via_symlink
      else ko output_is_input_via_symlink "exit $rc or input modified: $(msg)"; fi; }

# one bad input among good ones: nothing written
convert_fails bad_second_input 1 "malformed.jsonl:3:" "$I/good.jsonl" "$I/malformed.jsonl"

# --skip-invalid --rejects: good records kept, bad text written to the rejects file
{
    printf '%s\n' "$S1" '{"id":"x", "object":"thread.run.step",,}' "$S2"
    printf '{"id":"s","object":"thread.run.step","x":"\377"}\n'
    printf '%s\n' "$S3" '{"id":"s","object":"thread.run.step","id":"y"}' \
        '{"id":"s","object":"thread.run.step","n":18446744073709551616}' \
        '{"id":"s","object":"thread.run.step","n":"\udc00"}' 'garbage here'
} > "$I/mixed.jsonl"
grep -av '^{"id":"step_' "$I/mixed.jsonl" > "$W/rejects.exp"
printf '%s\n%s\n%s\n' "$S1" "$S2" "$S3" > "$W/kept.exp"
run convert -q --skip-invalid --rejects "$O/rejects.txt" "$I/mixed.jsonl" -o "$O/mixed.steparc"
if [ $rc -ne 0 ]; then
    ko skip_invalid_exit "exit $rc, expected 0 ($(msg))"
else
    ok skip_invalid_exit
    "$BIN" cat "$O/mixed.steparc" > "$W/kept.out" 2>/dev/null
    if cmp -s "$W/kept.out" "$W/kept.exp"; then ok skip_invalid_good_records_kept
    else ko skip_invalid_good_records_kept "archive does not hold exactly the 3 good records"; fi
    if cmp -s "$O/rejects.txt" "$W/rejects.exp"; then ok skip_invalid_rejects_file
    else ko skip_invalid_rejects_file "rejects file differs from the 6 bad lines"; fi
fi
# a truncated last record is skipped too
printf '%s\n%s' "$S1" '{"id":"step_c","object":"thread.run' > "$I/trunc_skip.jsonl"
run convert -q --skip-invalid --rejects "$O/rejects2.txt" "$I/trunc_skip.jsonl" -o "$O/trunc_skip.steparc"
if [ $rc -eq 0 ] && grep -qF '{"id":"step_c","object":"thread.run' "$O/rejects2.txt" &&
    [ "$("$BIN" cat "$O/trunc_skip.steparc" 2>/dev/null)" = "$S1" ]; then
    ok skip_invalid_truncated_last
else
    ko skip_invalid_truncated_last "exit $rc ($(msg))"
fi
# everything invalid: still no archive
printf 'garbage\n{"a":,}\n' > "$I/allbad.jsonl"
convert_fails skip_invalid_all_bad 1 "" --skip-invalid "$I/allbad.jsonl"

# --- usage errors (exit 2) -------------------------------------------------------
expect missing_output 2 "-o" convert "$I/good.jsonl"
expect missing_input 2 "" convert -o "$O/x.steparc"
no_output missing_input "$O/x.steparc"
expect unknown_subcommand 2 "frobnicate" frobnicate
expect no_subcommand 2 "" 
expect unknown_option_convert 2 "" convert --frob "$I/good.jsonl" -o "$O/frob.steparc"
no_output unknown_option_convert "$O/frob.steparc"
expect unknown_option_cat 2 "--frob" cat --frob "$O/nonstep.steparc"
expect unknown_option_find 2 "--frob" find "$O/nonstep.steparc" --frob
expect bad_level 2 "--level" convert --level 99 "$I/good.jsonl" -o "$O/lvl.steparc"
expect bad_threads 2 "-j" convert -j 0 "$I/good.jsonl" -o "$O/j.steparc"
expect bad_input_format 2 "xml" convert --input-format xml "$I/good.jsonl" -o "$O/fmt.steparc"
expect rejects_without_skip_invalid 2 "--skip-invalid" convert --rejects "$O/r.txt" "$I/good.jsonl" -o "$O/r.steparc"

# --- reading ------------------------------------------------------------------------
if "$BIN" convert -q "$I/good.jsonl" -o "$O/good.steparc" 2> "$W/stderr"; then
    A="$O/good.steparc"
    expect get_ok 0 "" get "$A" 0 2
    if [ "$(cat "$W/stdout")" = "$(printf '%s\n%s' "$S1" "$S3")" ]; then ok get_ok_output
    else ko get_ok_output "get 0 2 printed: $(head -c 300 "$W/stdout")"; fi
    expect get_not_a_number 2 "abc" get "$A" abc
    expect get_negative 2 "" get "$A" -1
    expect get_trailing_garbage 2 "" get "$A" 1x
    expect get_past_end 1 "3" get "$A" 3
    expect get_far_past_end 1 "" get "$A" 18446744073709551615
    expect get_no_position 2 "" get "$A"
    expect find_no_filter 2 "" find "$A"
    expect find_id_missing 1 "step_zzz" find "$A" --id step_zzz
    expect find_run_ok 0 "" find "$A" --run run_1
    [ "$(wc -l < "$W/stdout" | tr -d ' ')" = 2 ] && ok find_run_ok_count || ko find_run_ok_count "expected 2 lines"
    expect find_run_none 0 "" find "$A" --run run_none
    [ -s "$W/stdout" ] && ko find_run_none_empty "printed records" || ok find_run_none_empty
    expect find_bad_since 2 "--since" find "$A" --since yesterday
    expect find_since_missing_value 2 "" find "$A" --since
    expect cat_two_archives 2 "" cat "$A" "$A"
    expect cat_nonexistent 1 "does-not-exist" cat "$O/does-not-exist.steparc"
else
    ko reading_setup "convert good.jsonl failed: $(msg)"
fi

# truncated archive and a file that is not an archive
if [ -f "$O/good.steparc" ]; then
    size=$(wc -c < "$O/good.steparc" | tr -d ' ')
    head -c $((size / 2)) "$O/good.steparc" > "$O/truncated.steparc"
    head -c $((size - 1)) "$O/good.steparc" > "$O/truncated1.steparc"
    for c in cat info verify; do
        expect "truncated_archive_$c" 1 "truncated.steparc" "$c" "$O/truncated.steparc"
        expect "truncated_archive_last_byte_$c" 1 "truncated1.steparc" "$c" "$O/truncated1.steparc"
        expect "not_an_archive_$c" 1 "good.jsonl" "$c" "$I/good.jsonl"
        grep -qiE "not a steparc archive|damaged|truncated" "$W/stderr" &&
            ok "not_an_archive_${c}_message" || ko "not_an_archive_${c}_message" "$(msg)"
        expect "empty_archive_$c" 1 "" "$c" "$I/empty.jsonl"
        expect "directory_as_archive_$c" 1 "" "$c" "$I"
    done
    expect truncated_archive_get 1 "" get "$O/truncated.steparc" 0
    expect truncated_archive_find 1 "" find "$O/truncated.steparc" --run run_1
fi

# --- help and version -----------------------------------------------------------
for c in convert cat get find info verify; do
    run "$c" --help
    if [ $rc -eq 0 ] && grep -q "^usage: steparc $c" "$W/stdout"; then ok "help_$c"
    else ko "help_$c" "steparc $c --help: exit $rc, stdout: $(head -c 100 "$W/stdout")"; fi
done
run --help
if [ $rc -eq 0 ] && grep -q "^usage: steparc" "$W/stdout"; then ok help_main
else ko help_main "steparc --help: exit $rc"; fi
run --version
ver=""
[ -n "$TESTS" ] && [ -f "$TESTS/../include/steparc.h" ] &&
    ver=$(sed -n 's/^#define STEPARC_VERSION_STRING "\(.*\)"$/\1/p' "$TESTS/../include/steparc.h")
if [ $rc -ne 0 ]; then
    ko version "steparc --version: exit $rc"
elif ! grep -qE "^steparc [0-9]+\.[0-9]+\.[0-9]+" "$W/stdout"; then
    ko version "unexpected output: $(head -c 100 "$W/stdout")"
elif [ -n "$ver" ] && ! grep -qF "steparc $ver" "$W/stdout"; then
    ko version "prints $(head -c 100 "$W/stdout"), header says $ver"
else
    ok version
fi
exit 0
