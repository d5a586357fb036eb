#!/usr/bin/env bash
# Installs what is missing, builds sysgate twice (plain, and with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs the whole test
# suite in both, then runs each fuzzer for a minute (scripts/fuzz.sh) and
# the static analysers (scripts/lint.sh). Ends with "N passed, N failed";
# exits non-zero if anything failed or a sanitizer reported anything.
#   SYSGATE_FUZZ_SECONDS=N scripts/test.sh   each fuzzer for N s (0: none)
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh || exit 1

scripts/build.sh build || exit 1
meson test -C build --no-rebuild --print-errorlogs >build/test-output.txt 2>&1
tail -n 15 build/test-output.txt

san="$PWD/build-asan/sanitizer-reports"
scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false || exit 1
rm -rf "$san" && mkdir -p "$san"
ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:log_path=$san/asan" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$san/ubsan" \
	meson test -C build-asan --no-rebuild --print-errorlogs >build-asan/test-output.txt 2>&1
tail -n 15 build-asan/test-output.txt

reports=$(find "$san" -type f | wc -l)
if [ "$reports" -gt 0 ]; then
	echo "sanitizer reports:"
	for f in "$san"/*; do echo "== $f"; head -n 40 "$f"; done
fi

# The fuzzers (each for SYSGATE_FUZZ_SECONDS, default 60; 0 skips them)
# and the static analysers count one case each. A script that stops
# before writing its results counts as one failed case.
logs=(build/meson-logs/testlog.json build-asan/meson-logs/testlog.json)
extra=$reports
fuzz_secs=${SYSGATE_FUZZ_SECONDS:-60}
rm -f build-fuzz/fuzz-results.json build-lint/lint-results.json
if [ "$fuzz_secs" != 0 ]; then
	scripts/fuzz.sh "$fuzz_secs"
	if [ -s build-fuzz/fuzz-results.json ]; then
		logs+=(build-fuzz/fuzz-results.json)
	else
		echo "FAILED: scripts/fuzz.sh wrote no results" >&2
		extra=$((extra + 1))
	fi
fi
scripts/lint.sh
if [ -s build-lint/lint-results.json ]; then
	logs+=(build-lint/lint-results.json)
else
	echo "FAILED: scripts/lint.sh wrote no results" >&2
	extra=$((extra + 1))
fi

EXTRA_FAILED=$extra python3 scripts/count-tests.py "${logs[@]}"
