#!/usr/bin/env bash
# 200 concurrent clients on the console and the API, with wrk (Debian's): a live `serve` — the
# demo's year on the built-in mocks, kept running by `class-sync demo --serve` — is driven on each
# page people load most (View Groups as an admin and as a teacher, a group's page, the operator's
# status) and the API's reads, one endpoint at a time. Prints p50/p99 and the rate of each, and
# `serve`'s peak RSS; fails when an endpoint's first answer is not 200, on any error under load (a
# socket error, a timeout, or a 4xx/5xx answer: wrk counts those) or when the peak RSS passes the
# bound.
#
#   scripts/load.sh [SECONDS] [CONNECTIONS]     # default 10 s an endpoint, 200 connections
#
# LOAD_PROFILE=debug uses target/debug/class-sync (CI: built by the tests); the default builds and
# uses the release binary. LOAD_RSS_MIB is the bound (default 300). Installs wrk with apt when it
# is missing and this runs as root. The national-size read load is the reads bench
# (`cargo bench --bench reads -- --clients 200`, docs/performance.md); this run is about the
# console's and API's serving under many connections: sessions, cookies, tokens, rendering.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
connections="${2:-200}"
rss_bound="${LOAD_RSS_MIB:-300}"
if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } >/dev/null
  else
    echo "wrk is missing: apt-get install wrk" >&2
    exit 1
  fi
fi
if [ "${LOAD_PROFILE:-release}" = debug ]; then
  [ -x target/debug/class-sync ] || cargo build -q
  bin=target/debug/class-sync
else
  cargo build --release -q
  bin=target/release/class-sync
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
out=$(mktemp)
results=$(mktemp)
"$bin" demo --serve --listen "127.0.0.1:$port" >"$out" 2>"$out.err" &
demo=$!
trap 'kill $demo 2>/dev/null; wait $demo 2>/dev/null; rm -f "$out" "$out.err" "$results"' EXIT
for _ in $(seq 120); do grep -q "operator (status" "$out" && break; sleep 1; done
dir=$(sed -n 's/.*bearer tokens in \(.*\))$/\1/p' "$out")
[ -n "$dir" ] || { echo "the demo did not start:"; cat "$out" "$out.err"; exit 1; }
base="http://127.0.0.1:$port"
ump=$(cat "$dir/ump.token")
operator=$(cat "$dir/operator.token")
# The demo's people (its printed account list) and one group of the admin's school.
admin=admin.secondary@hwbcymru.net
teacher=evansc3@hwbcymru.net
desk=servicedesk@hwbcymru.net
group=6614002-2025-26-7A-Ma1
admin_cookie=$(python3 scripts/console_sign_in.py "$base" "$admin")
teacher_cookie=$(python3 scripts/console_sign_in.py "$base" "$teacher")
desk_cookie=$(python3 scripts/console_sign_in.py "$base" "$desk")

failed=0
# run NAME URL HEADER: one wrk run; a line of figures, and a failure on any error.
run() {
  local name=$1 url=$2 header=$3 report
  # A first answer by hand: a page that is refused would make wrk's numbers meaningless.
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "$header" "$url") || code="no answer"
  if [ "$code" != 200 ]; then
    echo "$name: $url answered $code, not 200" >&2
    failed=1
    return
  fi
  report=$(wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s --latency -H "$header" "$url")
  local p50 p99 rate requests errors non2xx
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$report")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$report")
  rate=$(awk '$1 == "Requests/sec:" { printf "%d", $2 }' <<<"$report")
  requests=$(awk '/requests in/ { print $1 }' <<<"$report")
  errors=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$report")
  non2xx=$(awk '/Non-2xx or 3xx responses/ { print $5 }' <<<"$report")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$requests" "$rate" "$p50" "$p99" \
    "$((${errors:-0} + ${non2xx:-0}))" >>"$results"
  if [ "${errors:-0}" != 0 ] || [ "${non2xx:-0}" != 0 ]; then
    echo "$name: ${errors:-0} socket errors, ${non2xx:-0} answers other than 2xx" >&2
    echo "$report" >&2
    failed=1
  fi
}

echo "== $connections connections, ${seconds}s an endpoint, against $base ($bin) =="
run "console View Groups (admin)" "$base/groups" "Cookie: $admin_cookie"
run "console View Groups (teacher)" "$base/groups" "Cookie: $teacher_cookie"
run "console group page" "$base/groups/$group" "Cookie: $admin_cookie"
run "console status (operator)" "$base/status" "Cookie: $desk_cookie"
run "API View Groups (teacher)" "$base/v1/groups?as=$teacher" "Authorization: Bearer $ump"
run "API one group" "$base/v1/groups/$group" "Authorization: Bearer $ump"
run "API status" "$base/v1/status" "Authorization: Bearer $operator"
hwm_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$demo/status" 2>/dev/null) || hwm_kib=""
if [ -z "$hwm_kib" ]; then
  echo "serve is gone before the end of the run:" >&2
  tail -n 20 "$out.err" >&2
  exit 1
fi
echo "| endpoint | requests | answers/s | p50 | p99 | errors |"
echo "|---|---:|---:|---:|---:|---:|"
cat "$results"
echo "peak RSS of serve (with the in-process mocks): $((hwm_kib / 1024)) MiB (bound $rss_bound MiB)"
if [ "$((hwm_kib / 1024))" -gt "$rss_bound" ]; then
  echo "peak RSS above $rss_bound MiB" >&2
  failed=1
fi
exit $failed
