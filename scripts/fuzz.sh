#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer in their own build dir (build-fuzz/; the
# gcc builds are not touched) and runs each for SECONDS (default 60) on a
# copy of its seed corpus, tests/fuzz/corpus/<target>/. A crash, a leak, a
# timeout or any sanitizer report fails the target; its input is kept in
# build-fuzz/artifacts/<target>/. Writes one line per target to
# build-fuzz/fuzz-results.json (meson's testlog format, which
# scripts/count-tests.py counts as one case each) and exits non-zero when
# any failed.
#   scripts/fuzz.sh [SECONDS [TARGET...]]     e.g. scripts/fuzz.sh 14400 policy
# Corpus entries found on earlier runs stay in build-fuzz/corpus/<target>/,
# so repeated long runs build on each other.
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
case $secs in
''|*[!0-9]*|0) echo "usage: scripts/fuzz.sh [SECONDS (at least 1) [TARGET...]]" >&2; exit 2 ;;
esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(proto call config policy takeover)
dir=build-fuzz
results=$dir/fuzz-results.json

scripts/deps.sh || exit 1
mkdir -p "$dir"
: >"$results"

result() { # name, OK|FAIL, text
	python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "result": sys.argv[2], "stdout": sys.argv[3]}))' \
		"$1" "$2" "$3" >>"$results"
}

if ! CC=clang scripts/build.sh "$dir" -Dfuzz=true -Dtests=false \
	-Db_sanitize=address,undefined -Db_lundef=false; then
	echo "fuzz: the fuzz build failed" >&2
	for t in "${targets[@]}"; do result "fuzz_$t" FAIL "fuzz build failed"; done
	exit 1
fi

failed=0
for t in "${targets[@]}"; do
	exe=$dir/tests/fuzz/fuzz_$t
	seeds=tests/fuzz/corpus/$t
	work=$dir/corpus/$t
	art=$dir/artifacts/$t
	log=$dir/fuzz-$t.log
	if [ ! -x "$exe" ] || [ ! -d "$seeds" ]; then
		echo "fuzz: no target or no seeds for '$t'" >&2
		result "fuzz_$t" FAIL "no such target"
		failed=1
		continue
	fi
	mkdir -p "$work" "$art"
	# The shipped examples are seeds too, taken from examples/ as they
	# are now rather than kept as copies that drift (the policy target
	# loads every input as the policy "demo").
	shipped=$dir/seeds-shipped/$t
	rm -rf "$shipped"
	mkdir -p "$shipped"
	case $t in
	policy)
		for f in examples/policies/*.lua; do
			sed 's/^\(  name = \)"[^"]*",/\1"demo",/' "$f" >"$shipped/$(basename "$f")"
		done ;;
	config)
		cp examples/sysgate.conf "$shipped/example.conf" ;;
	esac
	# A takeover TARGET is a fixed 8,408 bytes: room for it and more.
	maxlen=8192
	[ "$t" = takeover ] && maxlen=16384
	dict=()
	[ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
	# -timeout: an input that runs for 10 s is a hang (the policy target's
	# budgets end any handler in milliseconds). New inputs go to $work, the
	# first corpus dir; the committed seeds are only read.
	ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer \
	ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1" \
	LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0" \
	UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1" \
		"$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=$maxlen \
		-print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" "$work" "$seeds" "$shipped" \
		>"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	summary="fuzz_$t: ${execs:-?} execs in ${secs} s (${rate:-?}/s), ${cov:-cov: ?}, corpus $(find "$work" -type f | wc -l) files"
	if [ "$rc" -eq 0 ] && ! grep -qE '^(==[0-9]+==ERROR|SUMMARY: )|runtime error:' "$log"; then
		echo "ok   $summary"
		result "fuzz_$t" OK "$summary"
	else
		echo "FAIL $summary (exit $rc); input in $art/, log in $log:"
		grep -E -A25 '==[0-9]+==ERROR|runtime error:|deadly signal|ALARM' "$log" | head -n 40
		result "fuzz_$t" FAIL "$summary; exit $rc; see $log"
		failed=1
	fi
done
exit $failed
