#!/usr/bin/env bash
# Configures (once) and builds sysgate into DIR (default build/), with
# warnings as errors. Extra arguments go to `meson setup`.
#   scripts/build.sh [DIR [MESON_SETUP_ARGS...]]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" -Dwerror=true "$@" >/dev/null
fi
# Quiet when it works; ninja prints compiler errors on stdout, so they
# are shown when it does not.
if ! out=$(ninja -C "$dir" 2>&1); then
	printf '%s\n' "$out" >&2
	exit 1
fi
