#!/usr/bin/env bash
# The API against its own OpenAPI document: schemathesis (from PyPI) drives a live `serve` — the
# demo's year on the built-in mocks, kept running by `class-sync demo --serve` — with the operator's
# token and then the portal's, and fails on any 5xx or any answer that breaks the schema.
#
#   scripts/schemathesis.sh [MAX_EXAMPLES]      # default 50 examples per operation
#
# Needs python3 with venv; installs schemathesis into target/schemathesis-venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-50}"
venv="${SCHEMATHESIS_VENV:-target/schemathesis-venv}"
if [ ! -x "$venv/bin/st" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q schemathesis
fi
cargo build --release -q
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
out=$(mktemp)
./target/release/class-sync demo --serve --listen "127.0.0.1:$port" >"$out" 2>/dev/null &
demo=$!
trap 'kill $demo 2>/dev/null; wait $demo 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 120); do grep -q "operator (status" "$out" && break; sleep 1; done
dir=$(sed -n 's/.*bearer tokens in \(.*\))$/\1/p' "$out")
[ -n "$dir" ] || { echo "the demo did not start:"; cat "$out"; exit 1; }
base="http://127.0.0.1:$port"
status=0
for who in operator ump; do
  token=$(cat "$dir/$who.token")
  echo "== schemathesis with the $who token =="
  # Every check (schemathesis.toml: all of them, two documented exceptions): status codes
  # documented, bodies and headers as the schema says, no 5xx, valid requests accepted and invalid
  # ones refused.
  "$venv/bin/st" --config-file scripts/schemathesis.toml run "$base/openapi.json" \
    --header "Authorization: Bearer $token" \
    --max-examples "$examples" \
    --request-timeout 30 \
    --suppress-health-check all \
    --no-color || status=1
done
exit $status
