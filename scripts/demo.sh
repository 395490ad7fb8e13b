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

# Four look-alike apps by model name, the app keys still usable as well.
cat > "$dir/demo.json" <<JSON
{
  "apps": [
    { "model": "chat", "key": "app-chat" },
    { "model": "agent", "key": "app-agent", "tools": true },
    { "model": "writer", "key": "app-completion" },
    { "model": "workflow", "key": "app-workflow" }
  ],
  "passthrough": true
}
JSON
HOST=127.0.0.1 PORT=$port DIFY_API_URL=http://127.0.0.1:$mock_port/v1 \
    "$build/openai-dify-proxy" -c "$dir/demo.json" &
proxy_pid=$!
sleep 0.5

cat <<TXT

  The proxy is on http://127.0.0.1:$port, in front of a Dify look-alike.
  Its apps are served by model name (curl .../v1/models): chat, agent,
  writer (a text generator), workflow; app keys work too (app-chat,
  app-agent, app-chatflow, app-completion, app-workflow).  Try:

  curl -N http://127.0.0.1:$port/v1/chat/completions \\
    -H 'Content-Type: application/json' \\
    -d '{"model":"workflow","stream":true,"messages":[{"role":"user","content":"Hello, Dify!"}]}'

  The look-alike echoes your message back, a few bytes per event.  Other
  models and words in the message show the rest:
    "model":"writer"                      a completion app
    "model":"agent"                       tool use as reasoning_content
    "content":"Hi mock:think"             a <think> block as reasoning
    "model":"agent" with OpenAI "tools"
      and "content":"mock:tool_call=NAME" a tool call back as tool_calls

  Press Ctrl-C to stop.

TXT
wait "$proxy_pid"
