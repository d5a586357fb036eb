#!/usr/bin/env bash
# Installs what is missing, builds sysgate twice (plain, and with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs the whole test
# suite in both. Ends with "N passed, N failed"; exits non-zero if
# anything failed or a sanitizer reported anything.
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

EXTRA_FAILED=$reports python3 scripts/count-tests.py \
	build/meson-logs/testlog.json build-asan/meson-logs/testlog.json
