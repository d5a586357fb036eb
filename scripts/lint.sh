#!/usr/bin/env bash
# Static analysis: cppcheck and clang-tidy on sysgate's own sources
# (supervisor/, target-shim/, include/). Configuration: .clang-tidy and
# .cppcheck-suppressions at the top of the tree; an inline suppression
# (NOLINT, cppcheck-suppress) always says why on its line. Any finding
# fails. Writes one result per analyser to build-lint/lint-results.json
# (meson's testlog format, which scripts/count-tests.py counts) and exits
# non-zero when either found anything.
#   scripts/lint.sh
set -uo pipefail
cd "$(dirname "$0")/.."

out=build-lint
results=$out/lint-results.json
scripts/deps.sh || exit 1
mkdir -p "$out"
: >"$results"

result() { # name, OK|FAIL, text
	python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "result": sys.argv[2], "stdout": sys.argv[3]}))' \
		"$1" "$2" "$3" >>"$results"
}

srcs=(supervisor/*.c target-shim/*.c)
failed=0

# cppcheck: the libraries tell it what glibc, POSIX and Lua functions do
# (luaL_error does not return, accept4 takes NULL).
cppcheck --quiet --std=c11 -D_GNU_SOURCE -Iinclude -Isupervisor \
	--library=gnu --library=posix --library=lua \
	--enable=warning,style,performance,portability --inline-suppr \
	--suppressions-list=.cppcheck-suppressions --error-exitcode=1 \
	--template='{file}:{line}: {severity}: {message} [{id}]' \
	"${srcs[@]}" >"$out/cppcheck.log" 2>&1
rc=$?
n=$(grep -c ': \(error\|warning\|style\|performance\|portability\):' "$out/cppcheck.log")
if [ "$rc" -eq 0 ] && [ "$n" -eq 0 ]; then
	echo "ok   cppcheck: ${#srcs[@]} files, no findings"
	result lint_cppcheck OK "cppcheck: no findings"
else
	echo "FAIL cppcheck: $n findings (exit $rc):"
	cat "$out/cppcheck.log"
	result lint_cppcheck FAIL "cppcheck: $n findings; see $out/cppcheck.log"
	failed=1
fi

# clang-tidy reads the flags of each file from the plain build's
# compile_commands.json; the files are checked in parallel.
scripts/build.sh build || exit 1
printf '%s\n' "${srcs[@]}" |
	xargs -P "$(nproc)" -n 1 clang-tidy -p build --quiet >"$out/clang-tidy.log" 2>"$out/clang-tidy.err"
rc=$?
n=$(grep -c ' \(warning\|error\): ' "$out/clang-tidy.log")
if [ "$rc" -eq 0 ] && [ "$n" -eq 0 ]; then
	echo "ok   clang-tidy: ${#srcs[@]} files, no findings"
	result lint_clang-tidy OK "clang-tidy: no findings"
else
	echo "FAIL clang-tidy: $n findings (exit $rc):"
	grep ' \(warning\|error\): ' "$out/clang-tidy.log" | sed "s|^$PWD/build/\.\./||"
	[ "$n" -eq 0 ] && tail -n 20 "$out/clang-tidy.err"
	result lint_clang-tidy FAIL "clang-tidy: $n findings; see $out/clang-tidy.log"
	failed=1
fi
exit $failed
