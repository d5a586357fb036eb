#!/usr/bin/env bash
# The README's first command: installs what is missing, builds sysgate,
# starts sysgated with the shipped config (examples/sysgate.conf), runs the
# sample program under the "demo" policy and shows the supervisor's
# decisions next to what the program saw. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
echo "== building"
scripts/build.sh build

log=$(mktemp /tmp/sysgate-demo.XXXXXX.jsonl)
build/supervisor/sysgated -c examples/sysgate.conf >"$log" 2>&1 &
sgd=$!
cleanup() {
	kill "$sgd" 2>/dev/null && wait "$sgd" 2>/dev/null || true
	rm -f /tmp/sysgate-sample.txt
}
trap cleanup EXIT

sock=/run/sysgate/sysgate.sock
for _ in $(seq 100); do
	[ -S "$sock" ] && grep -q supervisor_start "$log" && break
	if ! kill -0 "$sgd" 2>/dev/null; then
		echo "sysgated did not start:" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.05
done

echo
echo "== sysgate-run -p demo -- sysgate-sample   (the program's view)"
build/target-shim/sysgate-run -s "$sock" -p demo -- build/examples/sysgate-sample || true
sleep 0.2
kill "$sgd"
wait "$sgd" || true

echo
echo "== the supervisor's decisions (from its JSON log, $log)"
python3 - "$log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        print("  " + line.rstrip())
        continue
    ev = e["event"]
    if ev == "decision":
        what = e.get("path", "")
        v = e["verdict"] + (" " + e["errno"] if "errno" in e else "")
        v += (" value=%s" % e["value"]) if "value" in e else ""
        v += (" fd=%s" % e["fd"]) if "fd" in e else ""
        msg = ("  (" + e["message"] + ")") if e.get("message") else ""
        print(f"  decision   pid {e['pid']:<7} {e.get('comm',''):<15} {e['syscall']:<8} {what:<32} -> {v}{msg}")
    elif ev in ("target_start", "target_end"):
        extra = f"exit_status={e['exit_status']}" if "exit_status" in e else ""
        print(f"  {ev:<10} target {e['target']} policy {e['policy']} pid {e['pid']} {extra}")
    elif ev == "error":
        print(f"  error      {e.get('syscall')}: {e.get('message')}")
    else:
        print(f"  {ev:<10} {e.get('message', '')}")
PY
