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
  "passthrough": true,
  "metrics_listen": "main"
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

  Continuity: send a chat's next turn with its whole history, as any
  OpenAI client does; Dify gets only the new message, in the same
  conversation (the X-Dify-Conversation-Id header stays the same, and
  "mock:recall" makes the look-alike answer how many turns it holds):
    curl -si http://127.0.0.1:$port/v1/chat/completions \\
      -H 'Content-Type: application/json' -d '{"model":"chat","messages":[
        {"role":"user","content":"one mock:recall"}]}'
    curl -si http://127.0.0.1:$port/v1/chat/completions \\
      -H 'Content-Type: application/json' -d '{"model":"chat","messages":[
        {"role":"user","content":"one mock:recall"},
        {"role":"assistant","content":"turns=0"},
        {"role":"user","content":"two mock:recall"}]}'      (turns=1)

  Metrics (Prometheus text; on the main port in this demo only):
    curl -s http://127.0.0.1:$port/metrics | grep -v '^#'

  Press Ctrl-C to stop.

TXT
wait "$proxy_pid"
