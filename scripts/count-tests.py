#!/usr/bin/env python3
"""Counts test cases from meson's testlog.json files.

A cmocka program reports how many of its cases passed and failed; those
are the counts. A program that failed without such a report (a crash, a
sanitizer abort, a timeout) counts as one failed case, and so does one
whose cases all passed but which still exited non-zero (a leak report at
exit). Prints "N passed, N failed" and exits 1 if anything failed.
"""
import json
import re
import sys

PASSED = re.compile(r"^\[  PASSED  \] (\d+) test", re.M)
FAILED = re.compile(r"^\[  FAILED  \] (\d+) test", re.M)


def count(path):
    passed = failed = 0
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            ok = t.get("result") == "OK"
            p = sum(int(n) for n in PASSED.findall(out))
            fl = sum(int(n) for n in FAILED.findall(out))
            if p == 0 and fl == 0:
                passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
                if not ok:
                    print(f"FAILED: {path}: {t.get('name')} ({t.get('result')})", file=sys.stderr)
                continue
            if not ok and fl == 0:
                fl = 1
                print(f"FAILED: {path}: {t.get('name')} exited {t.get('returncode')} "
                      f"after its cases passed", file=sys.stderr)
            passed += p
            failed += fl
    return passed, failed


def main():
    passed = failed = 0
    for path in sys.argv[1:]:
        p, f = count(path)
        passed += p
        failed += f
    extra = int(__import__("os").environ.get("EXTRA_FAILED", "0"))
    failed += extra
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
