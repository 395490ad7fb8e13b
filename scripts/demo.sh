#!/bin/sh
#
# Start the Dify look-alike and the proxy together, so the proxy can be
# tried without a Dify account.  Ctrl-C stops both.
#
# Usage: scripts/demo.sh [build-dir]    (make demo)
#
set -eu

build=${1:-build}
port=${PORT:-8223}
dir=$(mktemp -d)
portfile=$dir/mock.port

cleanup() {
	[ -n "${proxy_pid:-}" ] && kill "$proxy_pid" 2>/dev/null || true
	[ -n "${mock_pid:-}" ] && kill "$mock_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

"$build/mock-dify" -p 0 --port-file "$portfile" -q &
mock_pid=$!
i=0
while [ ! -s "$portfile" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "demo: the Dify look-alike did not start" >&2; exit 1; }
	sleep 0.1
done
mock_port=$(cat "$portfile")

HOST=127.0.0.1 PORT=$port DIFY_API_URL=http://127.0.0.1:$mock_port/v1 \
    "$build/openai-dify-proxy" &
proxy_pid=$!
sleep 0.5

cat <<TXT

  The proxy is on http://127.0.0.1:$port, in front of a Dify look-alike
  (app keys: app-chat, app-agent, app-chatflow).  Try:

  curl -N http://127.0.0.1:$port/v1/chat/completions \\
    -H 'Authorization: Bearer app-chat' -H 'Content-Type: application/json' \\
    -d '{"model":"dify","stream":true,"messages":[{"role":"user","content":"Hello, Dify!"}]}'

  The look-alike echoes your message back, a few bytes per event.
  Press Ctrl-C to stop.

TXT
wait "$proxy_pid"
