#!/usr/bin/env bash
# Runs the official Vonage Node libraries against vapp, end to end; installs the pinned packages if needed:
# - check.mjs and subaccounts.mjs: the Node SDK against the emulator (no applications, 12 numbers and one
#   subaccount, on a free port, always stopped);
# - ncco-check.mjs: every NCCO @vonage/voice's builders make must pass `vapp check`;
# - calls.mjs: `vapp check`, `vapp simulate` and `vapp simulate run` against a web application written with
#   @vonage/jwt's verifySignature and @vonage/voice's builders (it starts its own emulator).
# Exits non-zero when any of them fails.
#
#   scripts/sdk-compat/run.sh            # uses target/debug/vapp
#   VAPP_BIN=target/release/vapp scripts/sdk-compat/run.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

bin="${VAPP_BIN:-target/debug/vapp}"
if [[ ! -x "$bin" ]]; then
  echo "run.sh: no emulator binary at $bin (run 'cargo build' first or set VAPP_BIN)" >&2
  exit 2
fi
command -v node >/dev/null || { echo "run.sh: node is not installed" >&2; exit 2; }

if [[ ! -d "$here/node_modules" ]]; then
  echo "run.sh: installing the pinned SDK (npm ci)" >&2
  (cd "$here" && { timeout 120 npm ci --no-audit --no-fund --loglevel=error || timeout 120 npm ci --no-audit --no-fund --loglevel=error; }) || {
    echo "run.sh: npm ci failed" >&2
    exit 2
  }
fi

tmp="$(mktemp -d)"
emulator_pid=""
cleanup() {
  if [[ -n "$emulator_pid" ]] && kill -0 "$emulator_pid" 2>/dev/null; then
    kill "$emulator_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$emulator_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Created before the emulator starts: the loop below may read it before the background shell opens it.
: >"$tmp/stdout"
"$bin" emulator --listen 127.0.0.1:0 --seed-numbers 12 --account sub00001:SubSecret1 >"$tmp/stdout" 2>"$tmp/stderr" &
emulator_pid=$!

url=""
for _ in $(seq 1 100); do # up to 10 s
  url="$(sed -n 's/^listening on \(http[^[:space:]]*\).*$/\1/p' "$tmp/stdout" 2>/dev/null | head -n 1 || true)"
  [[ -n "$url" ]] && break
  if ! kill -0 "$emulator_pid" 2>/dev/null; then
    echo "run.sh: the emulator exited before listening:" >&2
    cat "$tmp/stderr" >&2
    exit 2
  fi
  sleep 0.1
done
if [[ -z "$url" ]]; then
  echo "run.sh: the emulator did not print its URL within 10 s" >&2
  cat "$tmp/stderr" >&2
  exit 2
fi
echo "run.sh: emulator pid $emulator_pid at $url" >&2

status=0
VAPP_EMULATOR_URL="$url" timeout --kill-after=5 45 node "$here/check.mjs" || status=$?
if [[ $status -eq 124 || $status -eq 137 ]]; then
  echo "run.sh: check.mjs timed out" >&2
fi
# The subaccounts client after the applications check: it moves one of the primary's numbers.
sub_status=0
VAPP_EMULATOR_URL="$url" timeout --kill-after=5 35 node "$here/subaccounts.mjs" || sub_status=$?
[[ $status -eq 0 ]] && status=$sub_status
ncco_status=0
VAPP_BIN="$bin" timeout --kill-after=5 120 node "$here/ncco-check.mjs" || ncco_status=$?
[[ $status -eq 0 ]] && status=$ncco_status
calls_status=0
VAPP_BIN="$bin" timeout --kill-after=5 180 node "$here/calls.mjs" || calls_status=$?
[[ $status -eq 0 ]] && status=$calls_status
exit "$status"
