#!/usr/bin/env bash
# Installs, from Debian's archive, what sysgate needs to build, test and
# run its demo. Installs only what is missing; needs root for that.
set -euo pipefail

pkgs=(
	gcc libc6-dev pkg-config meson ninja-build python3
	libseccomp-dev libuv1-dev libconfig-dev liblua5.4-dev libjson-c-dev
	libcmocka-dev libmicrohttpd-dev strace procps
	# scripts/fuzz.sh: clang with libFuzzer and the sanitizer runtimes,
	# llvm-symbolizer for readable reports; scripts/lint.sh: the analysers.
	clang libclang-rt-14-dev llvm-14 clang-tidy cppcheck
	# The valgrind soak test: memcheck, and its headers for the preload
	# that runs the syscalls valgrind does not know (tests/programs/vgnative.c).
	valgrind
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
