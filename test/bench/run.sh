#!/usr/bin/env bash
#
# make bench: the proxy and nginx side by side in front of the same Dify
# look-alike, over plain HTTP and over TLS, with one worker and with one
# per CPU, then the proxy with single features switched off, one table
# (docs/benchmarks.md).
#
# Usage: test/bench/run.sh [build-dir]     (make bench builds first)
#
# Environment (defaults in brackets):
#   BENCH_SECONDS          measured seconds of each wrk and paced run [10]
#   BENCH_WARMUP           wrk warm-up seconds before each measured run [2]
#   BENCH_CONNECTIONS      wrk connections [50]
#   BENCH_PACED_CLIENTS    concurrent slow streams [2000]
#   BENCH_PACED_RUNS       paced runs per target; CPU is their median [3]
#   BENCH_LATENCY_STREAMS  concurrent stamped streams [20]
#   BENCH_LATENCY_SECONDS  seconds of the latency run [5]
#   BENCH_HISTORY_REQUESTS measured requests of each long-history run [4000]
#   BENCH_HISTORY_CONNECTIONS  connections of the long-history runs [16]
#   BENCH_HISTORY_RUNS     long-history rounds; the rows are their median [3]
#   BENCH_TLS              1: measure the TLS rows, 0: skip them [1]
#   BENCH_FEATURES         1: measure the features section, 0: skip it [1]
#   BENCH_FEATURE_SECONDS  measured seconds of each features run [5]
#
# Progress goes to stderr, the table to stdout and to
# BUILD/bench-results.md.  Exits non-zero only when the harness fails (a
# process does not start, a measurement cannot be taken), never because
# of the figures.
#
set -eu

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case $build in
/*) ;;
*) build=$root/$build ;;
esac

bench_seconds=${BENCH_SECONDS:-10}
bench_warmup=${BENCH_WARMUP:-2}
bench_conns=${BENCH_CONNECTIONS:-50}
paced_clients=${BENCH_PACED_CLIENTS:-2000}
paced_runs=${BENCH_PACED_RUNS:-3}
lat_streams=${BENCH_LATENCY_STREAMS:-20}
lat_seconds=${BENCH_LATENCY_SECONDS:-5}
hist_requests=${BENCH_HISTORY_REQUESTS:-4000}
hist_conns=${BENCH_HISTORY_CONNECTIONS:-16}
hist_runs=${BENCH_HISTORY_RUNS:-3}
tls_on=${BENCH_TLS:-1}
feat_on=${BENCH_FEATURES:-1}
feat_seconds=${BENCH_FEATURE_SECONDS:-5}

burst_events=100
paced_events=40
paced_interval=50
lat_events=50
lat_interval=20
hist_bytes=100000	# the OpenAI request of a long-history run, about
hist_turns=20		# user/assistant pairs before its new message
hist_events=20

tmp=""
failed=0
pids_started=()		# every process we started, for cleanup
client_pid=""		# the client running now, if any
declare -A R		# results: R[scenario.target]
declare -A NOTE		# per-figure check failures
notes=()		# footer: failed checks
warnings=()		# footer: what distorted the figures
cpu_lines=()		# footer: CPU shares per run
max_other=0		# most CPU (% of one) others used during a run
rss_lines=()		# footer: the paced RSS samples
paced_run=1		# which paced run is under way
declare -A PACED_CPUS	# every paced run's CPU us/event, per target
declare -A HIST		# long-history runs: client output, access-log counts
hist_run=1		# which long-history round is under way
declare -A HIST_CPUS	# every history round's CPU us/request, per target
declare -A HIST_RATES	# every history round's requests/s, per target
hist_ok=0		# the long-history rows were measured
tls_ok=0		# the TLS targets run
declare -A HS		# TLS handshakes: HS[run.target] = "full resumed"
feat_ok=0		# the features section was measured
declare -A FEAT_SKIP	# features variants the build refuses, and why
# Set through printf -v by launch_mock, start_proxy and start_nginx
# (p1_pid and ng_master are read by scale.sh).
# shellcheck disable=SC2034
mock_pid="" mock_port="" tlsmock_pid="" tlsmock_port=""
# shellcheck disable=SC2034
p1_pid="" ng_pid="" ng_master="" nn_pid="" nn_master=""

# ---------------------------------------------------------------- helpers

log() {
	printf 'bench: %s\n' "$*" >&2
}

die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

# A measurement could not be taken: note it, go on, exit 1 at the end.
fail() {
	printf 'bench: failed: %s\n' "$*" >&2
	notes+=("FAILED: $*")
	failed=1
}

need_uint() {	# name value
	case $2 in
	'' | *[!0-9]*) die "$1 must be a whole number, got \"$2\"" ;;
	esac
	[ "$2" -gt 0 ] || die "$1 must be above 0"
}

# awk arithmetic: calc FORMAT EXPR; prints nothing if EXPR is broken
# (a figure a client did not report), so the cell shows "-".
calc() {
	case $2 in
	*[0-9]*) awk "BEGIN { printf \"$1\", $2 }" 2>/dev/null || true ;;
	esac
}

# The median of numbers (the mean of the middle two for an even count).
median() {	# numbers...
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
	    END { if (NR % 2) printf "%.2f\n", v[(NR + 1) / 2];
		  else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# The value of key in a key=value file.
kv() {	# file key
	sed -n "s/^$2=//p" "$1" | head -n 1
}

# The value of key in the one-line "BENCH k=v k=v" output of wrk.lua.
wrkv() {	# file key
	sed -n 's/^BENCH //p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# ------------------------------------------------------- processes

# Stop one process: TERM, then KILL after 3 s.
stop_pid() {
	local pid=$1
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$? pid kids kid
	trap - EXIT INT TERM
	if [ -n "$client_pid" ]; then
		kill -TERM "$client_pid" 2>/dev/null || true
		wait "$client_pid" 2>/dev/null || true
	fi
	for pid in "${pids_started[@]}"; do
		kids=$(descendants "$pid" | tail -n +2)
		stop_pid "$pid"
		for kid in $kids; do
			kill -KILL "$kid" 2>/dev/null || true
		done
	done
	if [ -n "$tmp" ] && [ -d "$tmp" ]; then
		if { [ "$rc" -ne 0 ] && [ "$rc" -ne 130 ] && [ "$rc" -ne 143 ]; } ||
		    [ "$failed" -ne 0 ]; then
			log "logs and configs kept in $tmp"
		else
			rm -rf "$tmp"
		fi
	fi
	exit "$rc"
}

# pid and all its descendants, one a line (the proxy's workers, nginx's).
descendants() {
	local pid=$1 kid
	[ -d "/proc/$pid" ] || return 0
	echo "$pid"
	# shellcheck disable=SC2013	# pids, one word each
	for kid in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
		descendants "$kid"
	done
}

# Comma-separated pids of a process tree.
tree_csv() {
	descendants "$1" | paste -sd, -
}

# utime + stime of the pids, in clock ticks.
ticks() {
	local sum=0 pid line f
	for pid in "$@"; do
		read -r line 2>/dev/null <"/proc/$pid/stat" || continue
		read -ra f <<<"${line##*) }"
		sum=$((sum + f[11] + f[12]))
	done
	echo "$sum"
}

# Busy clock ticks of the whole machine (all CPUs).
machine_ticks() {
	local u n s q sq st
	read -r _ u n s _ _ q sq st _ </proc/stat
	echo $((u + n + s + q + sq + st))
}

# CPU time of this shell's finished children in ms, into variable $1.
# `times` must run in this shell: a subshell has children of its own.
children_ms() {
	times >"$tmp/times"
	printf -v "$1" %s "$(tail -n 1 "$tmp/times" | awk '{
		t = 0
		for (i = 1; i <= 2; i++) {
			split($i, a, "m"); sub("s", "", a[2])
			t += a[1] * 60000 + a[2] * 1000
		}
		printf "%d", t }')"
}

# Wait until something accepts on port, while pid lives; 1 if it never does.
wait_port() {	# port pid name log
	local _
	for _ in $(seq 100); do
		if ! kill -0 "$2" 2>/dev/null; then
			log "$3 exited at start:"
			sed 's/^/    /' "$4" >&2 || true
			return 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	log "$3 does not accept on port $1 after 5 s"
	return 1
}

# Run a client in the background and wait for it, so that a signal to
# this script is handled at once (bash defers traps during a foreground
# command); its stdout goes to file.
run_client() {	# file cmd...
	local out=$1 rc=0
	shift
	"$@" >"$out" 2>"$out.err" &
	client_pid=$!
	wait "$client_pid" || rc=$?
	client_pid=""
	return "$rc"
}

# --------------------------------------------------------- environment

raise_fd_limit() {
	local hard nr_open
	hard=$(ulimit -Hn)
	if [ "$(id -u)" = 0 ] && [ "$hard" != unlimited ]; then
		nr_open=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo "$hard")
		[ "$nr_open" -gt 1048576 ] && nr_open=1048576
		if [ "$nr_open" -gt "$hard" ]; then
			ulimit -Hn "$nr_open" 2>/dev/null ||
			    log "cannot raise the hard open-file limit above $hard"
		fi
	fi
	hard=$(ulimit -Hn)
	ulimit -Sn "$hard" 2>/dev/null || true
	fd_limit=$(ulimit -Sn)
	[ "$fd_limit" = unlimited ] && fd_limit=1048576
	log "open-file limit: $fd_limit (hard $(ulimit -Hn))"
	# A paced stream holds two descriptors in the proxy and in nginx.
	local need=$((2 * paced_clients + 256))
	if [ "$fd_limit" -lt "$need" ]; then
		local was=$paced_clients
		paced_clients=$(((fd_limit - 256) / 2))
		[ "$paced_clients" -ge 10 ] ||
		    die "open-file limit $fd_limit is too low even for 10 paced streams"
		warnings+=("open-file limit $fd_limit: paced streams scaled down from $was to $paced_clients")
		log "open-file limit $fd_limit is too low for $was paced streams; using $paced_clients"
	fi
}

# Warn when other processes already keep the machine busy.
check_quiet() {
	local k0 k1 busy
	k0=$(machine_ticks)
	sleep 1
	k1=$(machine_ticks)
	busy=$(((k1 - k0) * 100 / clk_tck))
	if [ "$busy" -gt 10 ]; then
		log "warning: the machine is ${busy}% busy (of ${ncpu}00) before the bench starts"
		warnings+=("before the run the machine was already ${busy}% busy (% of one CPU) with other work")
	fi
}

# The environment the proxy would read instead of our config file.
proxy_env() {
	local v
	proxy_env_cmd=(env -u HOST -u PORT -u LOG_LEVEL -u DIFY_API_URL \
	    -u REDIS_URL)
	for v in $(compgen -e); do
		case $v in
		ODP_*) proxy_env_cmd+=(-u "$v") ;;
		esac
	done
}

# ------------------------------------------------------------ starting

# Start a look-alike; sets ${name}_pid and ${name}_port.  No per-request
# records: the upstream should cost both sides little.
launch_mock() {	# name [mock-dify options]
	local name=$1 pid _
	shift
	(cd "$tmp" && exec "$build/mock-dify" -p 0 --port-file "$tmp/$name.port" \
	    --no-records -q "$@") >"$tmp/$name.log" 2>&1 &
	pid=$!
	pids_started+=("$pid")
	for _ in $(seq 100); do
		[ -s "$tmp/$name.port" ] && break
		kill -0 "$pid" 2>/dev/null ||
		    { cat "$tmp/$name.log" >&2; die "mock-dify ($name) exited at start"; }
		sleep 0.05
	done
	[ -s "$tmp/$name.port" ] || die "mock-dify ($name) wrote no port file"
	printf -v "${name}_pid" %s "$pid"
	printf -v "${name}_port" %s "$(cat "$tmp/$name.port")"
}

start_mock() {
	log "starting the Dify look-alike"
	launch_mock mock
}

# A self-signed certificate for localhost and 127.0.0.1 (ECDSA P-256, as
# certbot issues by default) and a second look-alike serving TLS with it;
# sets tls_cert, tlsmock_pid and tlsmock_port.
start_tls_mock() {
	local dir=$tmp/tls
	mkdir -p "$dir"
	tls_cert=$dir/cert.pem
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$dir/key.pem" -out "$tls_cert" -days 2 \
	    -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	    >"$dir/openssl.log" 2>&1 ||
	    { cat "$dir/openssl.log" >&2; die "openssl cannot make the certificate"; }
	log "starting the Dify look-alike over TLS"
	launch_mock tlsmock --tls-cert "$tls_cert" --tls-key "$dir/key.pem"
}

# The TLS look-alike's handshake counters since its start, "full
# resumed", into variable $1 (empty and 1 when they cannot be read).
# curl's own handshake, a full one, is counted in them.
tls_counts() {	# var
	local out full res
	printf -v "$1" %s ""
	out=$(curl -s -m 5 --cacert "$tls_cert" \
	    --resolve "localhost:$tlsmock_port:127.0.0.1" \
	    "https://localhost:$tlsmock_port/mock/stats") || return 1
	full=$(printf '%s' "$out" |
	    sed -n 's/.*"tls_handshakes_full":\([0-9]*\).*/\1/p')
	res=$(printf '%s' "$out" |
	    sed -n 's/.*"tls_handshakes_resumed":\([0-9]*\).*/\1/p')
	[ -n "$full" ] && [ -n "$res" ] || return 1
	printf -v "$1" '%s %s' "$full" "$res"
}

# The handshakes between two tls_counts, "full resumed", less the second
# count's own.
hs_diff() {	# before after
	local f0 r0 f1 r1
	read -r f0 r0 <<<"$1"
	read -r f1 r1 <<<"$2"
	echo "$((f1 - f0 - 1)) $((r1 - r0))"
}

# Write the proxy's config; an empty workers leaves the key out; extra
# is more members, each '"key": value' on a line of its own (a
# dify_api_url or metrics_listen there replaces the bench's).
write_proxy_config() {	# file port workers [log_level [extra]]
	{
		printf '{\n  "host": "127.0.0.1",\n  "port": %s,\n' "$2"
		# The plain look-alike, unless extra names another Dify.
		case ${5:-} in
		*dify_api_url*) ;;
		*) printf '  "dify_api_url": "http://127.0.0.1:%s/v1",\n' "$mock_port" ;;
		esac
		printf '  "log_level": "%s",\n' "${4:-error}"
		printf '  "upstream_pool_size": 256,\n'
		printf '  "drain_timeout": 1'
		# Counting on, as by default, on a port no other proxy has.
		case ${5:-} in
		*metrics_listen*) ;;
		*) printf ',\n  "metrics_listen": "127.0.0.1:0"' ;;
		esac
		[ -n "$3" ] && printf ',\n  "workers": %s' "$3"
		if [ -n "${5:-}" ]; then
			printf ',\n'
			printf '%s' "$5" | sed 's/^/  /; $!s/$/,/'
		fi
		printf '\n}\n'
	} >"$1"
}

# Check a config as the proxy will read it (in $tmp: no .env; without
# the variables that would override the file).
check_proxy_config() {	# file
	(cd "$tmp" && exec "${proxy_env_cmd[@]}" "$build/openai-dify-proxy" \
	    -t -c "$1") 2>&1
}

# Whether this build knows the workers key; sets workers_ok.
probe_workers() {
	local out
	write_proxy_config "$tmp/probe.json" 1 ""
	out=$(check_proxy_config "$tmp/probe.json") ||
	    die "the proxy rejects the bench config: $out"
	write_proxy_config "$tmp/probe.json" 1 1
	if out=$(check_proxy_config "$tmp/probe.json"); then
		workers_ok=1
	else
		workers_ok=0
		case $out in
		*'unknown key "workers"'*) ;;
		*) log "the workers key is refused: $out" ;;
		esac
		log "workers: not supported by this build"
	fi
}

# Start a proxy; sets ${name}_port and ${name}_pid.
start_proxy() {	# name port workers(empty: no key) [log_level [extra]]
	local name=$1 port=$2 cfg=$tmp/$1.json pid
	write_proxy_config "$cfg" "$port" "$3" "${4:-}" "${5:-}"
	log "starting the proxy ($name${3:+, workers $3}) on port $port"
	(cd "$tmp" && exec "${proxy_env_cmd[@]}" "$build/openai-dify-proxy" \
	    -c "$cfg") >"$tmp/$name.log" 2>&1 &
	pid=$!
	pids_started+=("$pid")
	wait_port "$port" "$pid" "the proxy ($name)" "$tmp/$name.log" ||
	    die "the proxy ($name) did not start"
	# Workers, if any, may come up just after the listener.
	sleep 0.3
	printf -v "${name}_port" %s "$port"
	printf -v "${name}_pid" %s "$pid"
}

# Start an nginx with workers worker processes relaying to the plain
# look-alike on port and, given tls_port, to the TLS look-alike on that
# port (a second server block); sets ${name}_port, ${name}_master,
# ${name}_pid (its workers, comma-separated) and t${name}_port.
start_nginx() {	# name workers port [tls_port]
	local name=$1 workers=$2 port=$3 tport=${4:-} dir=$tmp/$1 conns
	local reuse="" tls="" pids master _
	# Temp paths stay unused (request bodies fit client_body_buffer_size,
	# response buffering is off) but must not point at the system's
	# directories.
	mkdir -p "$dir/tmp"
	# A paced stream holds two connections; up to 256 idle ones per
	# upstream block (two with TLS: nginx 1w serves both in one worker)
	# and what earlier runs left closing come on top.
	conns=$((2 * paced_clients + 1024))
	[ "$conns" -lt 4096 ] && conns=4096
	# Several workers: a listening socket each (SO_REUSEPORT), as the
	# proxy's workers have, so the kernel spreads connections evenly.
	[ "$workers" -gt 1 ] && reuse=" reuseport"
	# The TLS upstream as the fairest nginx relays it: kept-alive
	# connections, sessions resumed when it must open one, the
	# certificate verified as the proxy does, TLS 1.3 as the proxy
	# negotiates it (nginx 1.22 offers only up to TLS 1.2 by default).
	if [ -n "$tport" ]; then
		tls=$(cat <<EOF

	upstream dify_tls {
		server 127.0.0.1:$tlsmock_port;
		keepalive 256;
		keepalive_requests 1000000;
	}

	server {
		listen 127.0.0.1:$tport backlog=1024$reuse;

		location / {
			proxy_pass https://dify_tls;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_buffering off;
			proxy_read_timeout 300s;
			proxy_ssl_protocols TLSv1.2 TLSv1.3;
			proxy_ssl_session_reuse on;
			proxy_ssl_verify on;
			proxy_ssl_trusted_certificate $tls_cert;
			proxy_ssl_name localhost;
			proxy_ssl_server_name on;
		}
	}
EOF
)
	fi
	cat >"$dir/nginx.conf" <<EOF
# Written by test/bench/run.sh.
worker_processes $workers;
worker_rlimit_nofile $fd_limit;
pid $dir/nginx.pid;
error_log $dir/error.log warn;

events {
	worker_connections $conns;
}

http {
	access_log off;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	keepalive_requests 1000000;
	keepalive_timeout 60s;
	# The long-history requests (100 KB) in memory, not in a temp file,
	# as the proxy holds them; a small body gets a buffer its size.
	client_body_buffer_size 1m;

	upstream dify {
		server 127.0.0.1:$mock_port;
		keepalive 256;
		keepalive_requests 1000000;
	}

	server {
		listen 127.0.0.1:$port backlog=1024$reuse;

		location / {
			proxy_pass http://dify;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_buffering off;
			proxy_read_timeout 300s;
		}
	}
$tls
}
EOF
	nginx -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
	    >"$dir/check.log" 2>&1 ||
	    { cat "$dir/check.log" >&2; die "nginx ($name) rejects its config"; }
	log "starting nginx ($name, workers $workers) on port $port${tport:+, TLS upstream on $tport}"
	nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
	    -g 'daemon off;' >"$dir/stdout.log" 2>&1 &
	master=$!
	pids_started+=("$master")
	wait_port "$port" "$master" "nginx ($name)" "$dir/error.log" ||
	    die "nginx ($name) did not start"
	# All its workers, which may come up just after the listener.
	for _ in $(seq 40); do
		pids=$(descendants "$master" | tail -n +2 | paste -sd, -)
		[ "$(printf '%s' "$pids" | tr , '\n' | grep -c .)" -ge "$workers" ] &&
		    break
		sleep 0.05
	done
	sleep 0.2
	pids=$(descendants "$master" | tail -n +2 | paste -sd, -)
	[ -n "$pids" ] || die "nginx ($name) has no worker process"
	printf -v "${name}_port" %s "$port"
	printf -v "${name}_master" %s "$master"
	printf -v "${name}_pid" %s "$pids"
	[ -n "$tport" ] && printf -v "t${name}_port" %s "$tport"
	return 0
}

# -------------------------------------------------------------- targets

# Targets: p1, pn the proxy with 1 and N workers, ng, nn nginx with 1
# and N workers, all to the plain look-alike; tp1, tpn, tng, tnn the
# same to the TLS look-alike (tng, tnn: a second server block of ng,
# nn); fa-fs the proxy 1w with one feature switched (features section);
# hx, hm, hr the long-history proxies.

# Whether a target is an nginx: sent Dify requests, not OpenAI ones.
is_nginx() {
	case $1 in
	ng | nn | tng | tnn) return 0 ;;
	esac
	return 1
}

# Whether a target relays to the TLS look-alike.
is_tls() {
	case $1 in
	tp1 | tpn | tng | tnn) return 0 ;;
	esac
	return 1
}

# The Authorization a target is sent: the proxy key of the rate-limits
# variant, else the look-alike's chat app key.
auth_for() {
	if [ "$1" = fr ]; then
		echo "Bearer $feat_key"
	else
		echo "Bearer app-chat"
	fi
}

# The body a target gets: OpenAI for the proxies, Dify for nginx.  The
# rate-limits variant names its configured app; the others pass the key
# through, and the model is not read.
body_for() {	# target directives stream(true|false)
	if is_nginx "$1"; then
		local mode=streaming
		[ "$3" = false ] && mode=blocking
		printf '{"inputs":{},"query":"%s","response_mode":"%s","user":"bench"}' \
		    "$2" "$mode"
	else
		local model=m
		[ "$1" = fr ] && model=bench
		printf '{"model":"%s","stream":%s,"messages":[{"role":"user","content":"%s"}]}' \
		    "$model" "$3" "$2"
	fi
}

path_for() {
	is_nginx "$1" && echo /v1/chat-messages || echo /v1/chat/completions
}

# What ends a whole stream: the proxy's [DONE], Dify's message_end.
stream_end_for() {
	is_nginx "$1" && echo '"event":"message_end"' || echo 'data: [DONE]'
}

# The text before each answer piece, counted per paced stream.
marker_for() {
	is_nginx "$1" && echo '"answer":"w' || echo '"content":"w'
}

port_of() {
	eval "echo \${$1_port}"
}

# Processes whose CPU and memory count for a target: a proxy's master
# and workers, nginx's workers.
pids_of() {
	case $1 in
	ng | tng) echo "$ng_pid" ;;
	nn | tnn) echo "$nn_pid" ;;
	*) eval "tree_csv \${$1_pid}" ;;
	esac
}

# The look-alike a target relays to.
upstream_pid_of() {
	is_tls "$1" && echo "$tlsmock_pid" || echo "$mock_pid"
}

label_of() {
	case $1 in
	p1) echo "proxy 1w" ;;
	ng) echo "nginx 1w" ;;
	pn) echo "proxy ${ncpu}w" ;;
	nn) echo "nginx ${ncpu}w" ;;
	tp1) echo "proxy 1w TLS" ;;
	tng) echo "nginx 1w TLS" ;;
	tpn) echo "proxy ${ncpu}w TLS" ;;
	tnn) echo "nginx ${ncpu}w TLS" ;;
	fa) echo "(a) defaults" ;;
	fc) echo "(b) continuity" ;;
	fm) echo "(c) metrics" ;;
	fr) echo "(d) rate limits" ;;
	fs) echo "(e) split_think" ;;
	hx) echo "proxy off" ;;
	hm) echo "proxy mem" ;;
	hr) echo "proxy Redis" ;;
	esac
}

# The process whose life a target depends on: nginx 1w's worker, nginx
# Nw's master, a proxy's master.
main_pid_of() {
	case $1 in
	ng | tng) echo "$ng_pid" ;;
	nn | tnn) echo "$nn_master" ;;
	*) eval "echo \${$1_pid}" ;;
	esac
}

# Run one measurement of a target, unless the target or its look-alike
# died; a target that dies during it loses the figures of that run.
measure() {	# scenario target [args]
	local sc=$1 t=$2 pid key
	shift 2
	kill -0 "$mock_pid" 2>/dev/null ||
	    die "the look-alike exited (log: $tmp/mock.log)"
	if is_tls "$t"; then
		kill -0 "$tlsmock_pid" 2>/dev/null ||
		    die "the TLS look-alike exited (log: $tmp/tlsmock.log)"
	fi
	pid=$(main_pid_of "$t")
	if ! kill -0 "$pid" 2>/dev/null; then
		fail "$sc $(label_of "$t"): not measured, $(label_of "$t") is gone (logs in $tmp)"
		return 0
	fi
	"measure_$sc" "$t" "$@"
	if ! kill -0 "$pid" 2>/dev/null; then
		fail "$sc $(label_of "$t"): $(label_of "$t") exited during the run (logs in $tmp)"
		for key in "${!R[@]}"; do
			case $key in
			"$sc.$t" | "$sc"-*."$t") unset "R[$key]" ;;
			esac
		done
	fi
	sleep 1
}

# Check one request end to end before measuring a target.
smoke() {	# target
	local t=$1 out=$tmp/smoke.$1
	if ! "$build/bench-paced" -1 -d 5 -a "127.0.0.1:$(port_of "$t")" \
	    -u "$(path_for "$t")" -b "$(body_for "$t" "mock:events=3" true)" \
	    -k "$(auth_for "$t")" \
	    -e "$(stream_end_for "$t")" -m "$(marker_for "$t")" -E 3 \
	    >"$out" 2>&1; then
		cat "$out" >&2
		die "$(label_of "$t") does not relay a stream"
	fi
}

# ---------------------------------------------------------- measurements

# Record where the CPU went during a run (percent of one CPU each); what
# the machine spent beyond target, look-alike and client is "other".
cpu_line() {	# scenario target target% upstream% client% machine%
	local other up
	other=$(calc %.0f "($6 - $3 - $4 - $5 < 0) ? 0 : $6 - $3 - $4 - $5")
	[ -n "$other" ] || other=0
	[ "$other" -gt "$max_other" ] && max_other=$other
	# The look-alike is one process: near a whole CPU, it set the rate.
	up=$(calc %.0f "$4")
	if [ "${up:-0}" -ge 90 ]; then
		warnings+=("$1 $(label_of "$2"): the look-alike used ${up}% of a CPU, so that rate is the look-alike's limit more than the target's; compare CPU per request")
	fi
	cpu_lines+=("$(printf '%-10s %-15s  target %4.0f  look-alike %4.0f  client %4.0f  other %4.0f  machine %4.0f' \
	    "$1" "$(label_of "$2")" "$3" "$4" "$5" "$other" "$6")")
}

# wrk against a target; R[scenario.target] = req/s, CPU us/request.
measure_burst() {	# target
	measure_wrk burst "$1" true
}

measure_nonstream() {	# target
	measure_wrk nonstream "$1" false
}

# The features section's burst run: shorter, after a 1 s warm-up.
measure_fburst() {	# target
	measure_wrk fburst "$1" true 1 "$feat_seconds"
}

# One wrk run: R[scenario.target] = req/s, R[scenario-cpu.target] = CPU
# us/request; to the TLS look-alike also R[scenario-hs.target], its full
# handshakes per 1,000 requests, and HS[] for the footer.
measure_wrk() {	# scenario target stream(true|false) [warm-up s [seconds]]
	local sc=$1 t=$2 body url end out=$tmp/wrk.$1.$2 pids up auth
	local warm=${4:-$bench_warmup} len=${5:-$bench_seconds}
	local c0 c1 m0 m1 k0 k1 w0 w1 dur secs req errs bad hz=$clk_tck
	local hw="" h0="" h1="" hs
	body=$(body_for "$t" "mock:events=$burst_events" "$3")
	auth=$(auth_for "$t")
	up=$(upstream_pid_of "$t")
	url="http://127.0.0.1:$(port_of "$t")$(path_for "$t")"
	if [ "$3" = true ]; then
		end=$(stream_end_for "$t")
	else
		end="w$((burst_events - 1)) "
	fi
	log "$sc: $(label_of "$t"): warm-up ${warm}s, then ${len}s"
	is_tls "$t" && { tls_counts hw || true; }
	BENCH_BODY=$body BENCH_END=$end BENCH_AUTH=$auth run_client "$out.warm" \
	    wrk -t2 -c"$bench_conns" -d"${warm}s" --timeout 10s \
	    -s "$here/wrk.lua" "$url" ||
	    { fail "$sc $(label_of "$t"): wrk warm-up failed"; return 0; }
	# The handshake counts are read outside the CPU figures.
	is_tls "$t" && { tls_counts h0 || true; }
	pids=$(pids_of "$t" | tr , ' ')
	# shellcheck disable=SC2086
	c0=$(ticks $pids)
	m0=$(ticks "$up")
	k0=$(machine_ticks)
	children_ms w0
	BENCH_BODY=$body BENCH_END=$end BENCH_AUTH=$auth run_client "$out" \
	    wrk -t2 -c"$bench_conns" -d"${len}s" --timeout 10s \
	    -s "$here/wrk.lua" "$url" ||
	    { fail "$sc $(label_of "$t"): wrk failed"; return 0; }
	# shellcheck disable=SC2086
	c1=$(ticks $pids)
	m1=$(ticks "$up")
	k1=$(machine_ticks)
	children_ms w1
	is_tls "$t" && { tls_counts h1 || true; }
	req=$(wrkv "$out" requests)
	dur=$(wrkv "$out" duration_us)
	if [ -z "$req" ] || [ -z "$dur" ] || [ "$dur" -le 0 ]; then
		fail "$sc $(label_of "$t"): no result from wrk"
		return 0
	fi
	R[$sc.$t]=$(calc %.0f "$req * 1000000 / $dur")
	[ "$req" -gt 0 ] &&
	    R[$sc-cpu.$t]=$(calc %.1f "($c1 - $c0) * 1000000 / $hz / $req")
	if is_tls "$t"; then
		if [ -z "$h0" ] || [ -z "$h1" ]; then
			fail "$sc $(label_of "$t"): cannot read the TLS look-alike's handshake counters (curl, /mock/stats)"
		else
			hs=$(hs_diff "$h0" "$h1")
			HS[$sc.$t]="$hs $req"
			[ -n "$hw" ] && HS[$sc-warm.$t]=$(hs_diff "$hw" "$h0")
			[ "$req" -gt 0 ] &&
			    R[$sc-hs.$t]=$(calc %.2f "${hs%% *} * 1000 / $req")
		fi
	fi
	errs=$(($(wrkv "$out" connect) + $(wrkv "$out" read) +
	    $(wrkv "$out" write) + $(wrkv "$out" timeout)))
	bad="$(wrkv "$out" bad_status) non-200, $(wrkv "$out" bad_end) incomplete, $errs socket errors"
	if [ "$errs" -ne 0 ] || [ "$(wrkv "$out" bad_status)" -ne 0 ] ||
	    [ "$(wrkv "$out" bad_end)" -ne 0 ]; then
		NOTE[$sc.$t]="$bad"
		NOTE[$sc-cpu.$t]="$bad"
		NOTE[$sc-hs.$t]="$bad"
		notes+=("$sc, $(label_of "$t"): $bad of $req responses")
		log "$sc: $(label_of "$t"): $bad"
	fi
	secs=$(calc %.6f "$dur / 1000000")
	cpu_line "$sc" "$t" "$(calc %.1f "($c1 - $c0) * 100 / $hz / $secs")" \
	    "$(calc %.1f "($m1 - $m0) * 100 / $hz / $secs")" \
	    "$(calc %.1f "($w1 - $w0) / 10 / $secs")" \
	    "$(calc %.1f "($k1 - $k0) * 100 / $hz / $secs")"
	log "$sc: $(label_of "$t"): ${R[$sc.$t]} req/s, ${R[$sc-cpu.$t]:-?} us/request${HS[$sc.$t]:+, TLS handshakes (full resumed requests) ${HS[$sc.$t]}}"
}

# Run bench-paced against a target with a window of secs seconds, its
# output in file out, and check every stream; sets paced_bad to what
# failed ("" when all passed).  1 when it gave no figures.
run_paced() {	# target out secs run-label
	local t=$1 out=$2 ramp body sf ce
	paced_bad=""
	ramp=$((paced_events * paced_interval))
	body=$(body_for "$t" "mock:events=$paced_events mock:interval=$paced_interval" true)
	log "$4: $(label_of "$t"): $paced_clients streams, ramp ${ramp}ms + 500ms, then ${3}s"
	if ! run_client "$out" "$build/bench-paced" -a "127.0.0.1:$(port_of "$t")" \
	    -u "$(path_for "$t")" -b "$body" -k "$(auth_for "$t")" \
	    -c "$paced_clients" -r "$ramp" -w $((ramp + 500)) -d "$3" \
	    -e "$(stream_end_for "$t")" -m "$(marker_for "$t")" \
	    -E "$paced_events" -P "$(pids_of "$t")" \
	    -U "$(upstream_pid_of "$t")"; then
		cat "$out.err" >&2 || true
		fail "$4 $(label_of "$t"): bench-paced failed"
		return 1
	fi
	if [ "$(kv "$out" streams_complete)" = 0 ]; then
		fail "$4 $(label_of "$t"): no stream completed ($(kv "$out" streams_failed) failed, $(kv "$out" conn_errors) connection errors)"
		return 1
	fi
	cpu_line "$4" "$t" "$(kv "$out" cpu_pct)" "$(kv "$out" upstream_cpu_pct)" \
	    "$(kv "$out" client_cpu_pct)" "$(kv "$out" machine_busy_pct)"
	sf=$(kv "$out" streams_failed)
	ce=$(kv "$out" conn_errors)
	if [ "${sf:-0}" -ne 0 ] || [ "${ce:-0}" -ne 0 ]; then
		paced_bad="$sf failed streams, $ce connection errors"
		notes+=("$4, $(label_of "$t"): $sf streams failed ($(kv "$out" bad_status) non-200, $(kv "$out" bad_end) unterminated, $(kv "$out" bad_count) short), $ce connection errors; $(kv "$out" streams_complete) complete")
	fi
	return 0
}

# bench-paced against a target, one round of the paced rows: every
# round's CPU us/event into PACED_CPUS, the rest from the first; to the
# TLS look-alike the first round's handshakes into HS[paced.target].
measure_paced() {	# target
	local t=$1 out=$tmp/paced.$1.$paced_run round=paced h0="" h1=""
	[ "$paced_run" -gt 1 ] && round="paced $paced_run"
	if is_tls "$t" && [ "$paced_run" -eq 1 ]; then
		tls_counts h0 || true
	fi
	run_paced "$t" "$out" "$bench_seconds" "$round" || return 0
	PACED_CPUS[$t]+=" $(calc %.2f "$(kv "$out" cpu_us_per_event)")"
	[ -n "$paced_bad" ] && NOTE[paced-cpu.$t]=$paced_bad
	if [ "$paced_run" -gt 1 ]; then
		# The processes are no longer fresh: only CPU is taken again.
		log "paced run $paced_run: $(label_of "$t"): $(kv "$out" cpu_us_per_event) us/event"
		return 0
	fi
	if is_tls "$t"; then
		if tls_counts h1 && [ -n "$h0" ]; then
			HS[paced.$t]=$(hs_diff "$h0" "$h1")
		else
			fail "paced $(label_of "$t"): cannot read the TLS look-alike's handshake counters (curl, /mock/stats)"
		fi
	fi
	if [ -n "$paced_bad" ]; then
		NOTE[paced-eps.$t]=$paced_bad
		NOTE[paced-rss.$t]=$paced_bad
	fi
	R[paced-eps.$t]=$(calc %.0f "$(kv "$out" events_per_s)")
	R[paced-cpu.$t]=$(calc %.2f "$(kv "$out" cpu_us_per_event)")
	R[paced-rss.$t]=$(calc %.1f "$(kv "$out" rss_kib_per_stream)")
	rss_lines+=("$(printf '%-12s idle %s KiB; with %s streams open: %s KiB' \
	    "$(label_of "$t")" "$(kv "$out" rss_idle_kib)" \
	    "$(kv "$out" open_median)" \
	    "$(kv "$out" rss_kib_samples | tr , ' ')")")
	R[paced-open.$t]=$(kv "$out" open_median)
	log "paced: $(label_of "$t"): ${R[paced-eps.$t]} events/s, ${R[paced-cpu.$t]} us/event, ${R[paced-rss.$t]} KiB/stream ($(kv "$out" rss_idle_kib) KiB idle, samples $(kv "$out" rss_kib_samples) at $(kv "$out" open_samples) open)${HS[paced.$t]:+, TLS handshakes (full resumed) ${HS[paced.$t]}}"
}

# The features section's paced run: one round, CPU us/event only.
measure_fpaced() {	# target
	local t=$1 out=$tmp/fpaced.$1
	run_paced "$t" "$out" "$feat_seconds" fpaced || return 0
	R[fpaced-cpu.$t]=$(calc %.2f "$(kv "$out" cpu_us_per_event)")
	[ -n "$paced_bad" ] && NOTE[fpaced-cpu.$t]=$paced_bad
	log "fpaced: $(label_of "$t"): ${R[fpaced-cpu.$t]} us/event"
}

# bench-latency against a target.
measure_latency() {	# target
	local t=$1 out=$tmp/latency.$1 body
	body=$(body_for "$t" "mock:events=$lat_events mock:interval=$lat_interval mock:stamp" true)
	log "latency: $(label_of "$t"): $lat_streams streams for ${lat_seconds}s"
	if ! run_client "$out" "$build/bench-latency" -a "127.0.0.1:$(port_of "$t")" \
	    -u "$(path_for "$t")" -b "$body" -c "$lat_streams" \
	    -r "$lat_interval" -d "$lat_seconds" -e "$(stream_end_for "$t")"; then
		cat "$out.err" >&2 || true
		fail "latency $(label_of "$t"): bench-latency took no sample"
		return 0
	fi
	R[latency-p50.$t]=$(calc %.3f "$(kv "$out" p50_us) / 1000")
	R[latency-p99.$t]=$(calc %.3f "$(kv "$out" p99_us) / 1000")
	R[latency-n.$t]=$(kv "$out" samples)
	local sf
	sf=$(kv "$out" streams_failed)
	if [ "${sf:-0}" -ne 0 ] || [ "$(kv "$out" negative)" -ne 0 ]; then
		NOTE[latency-p50.$t]="$sf failed streams"
		notes+=("latency, $(label_of "$t"): $sf streams failed, $(kv "$out" negative) negative delays")
	fi
	log "latency: $(label_of "$t"): p50 ${R[latency-p50.$t]} ms, p99 ${R[latency-p99.$t]} ms, max $(calc %.3f "$(kv "$out" max_us) / 1000") ms, ${R[latency-n.$t]} samples"
}

# bench-history is not one of the Makefile's bench clients: build it with
# the Makefile's own rule for $(BUILD)/bench-NAME.
build_history() {
	make -C "$root" --no-print-directory -s BUILD="$build" \
	    "$build/bench-history" >&2 || die "cannot build $build/bench-history"
}

# Start what the long-history rows need: redis-server on a free port and
# three proxies (continuity off, in memory, in Redis), each with one
# worker like proxy 1w and logging at info: the access log's
# conversation= says how each measured request was handled.  Sets
# hist_ok=1 when they run.
start_history() {
	local ports rport xport mport hport w="" out
	command -v redis-server >/dev/null || {
		warnings+=("redis-server is not installed: long-history rows not measured")
		return 0
	}
	[ "$workers_ok" -eq 1 ] && w=1
	ports=$("$build/bench-freeport" 4 | tr '\n' ' ')
	read -r rport xport mport hport <<<"$ports"
	write_proxy_config "$tmp/probe.json" 1 "$w" info \
	    "$(printf '"continuity": true\n"redis_url": "redis://127.0.0.1:%s"' "$rport")"
	if ! out=$(check_proxy_config "$tmp/probe.json"); then
		log "the long-history configs are refused: $out"
		warnings+=("this build refuses continuity or redis_url: long-history rows not measured ($out)")
		return 0
	fi
	log "starting redis-server on port $rport"
	mkdir -p "$tmp/redis"
	redis-server --port "$rport" --bind 127.0.0.1 --save '' \
	    --appendonly no --dir "$tmp/redis" --daemonize no \
	    >"$tmp/redis.log" 2>&1 &
	redis_pid=$!
	pids_started+=("$redis_pid")
	wait_port "$rport" "$redis_pid" redis-server "$tmp/redis.log" ||
	    die "redis-server did not start"
	redis_v=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
	start_proxy hx "$xport" "$w" info '"continuity": false'
	start_proxy hm "$mport" "$w" info '"continuity": true'
	start_proxy hr "$hport" "$w" info \
	    "$(printf '"continuity": true\n"redis_url": "redis://127.0.0.1:%s"' "$rport")"
	grep -q 'conversations: in Redis' "$tmp/hr.log" ||
	    fail "history proxy Redis: its log does not say it keeps conversations in Redis (log: $tmp/hr.log)"
	hist_ok=1
}

stop_history() {
	local t
	for t in hx hm hr; do
		stop_pid "$(main_pid_of "$t")"
	done
	stop_pid "$redis_pid"
}

# bench-history against a target: every request the last turn of a chat
# of its own, ~100 KB; memory and Redis prime each chat's turn before.
# One round of hist_runs: each round sends chats of its own (-G), its
# CPU and rate join the lists the rows take the median of, and the
# access log is counted for its requests only.
measure_history() {	# target
	local t=$1 out=$tmp/history.$1.$hist_run fmt=openai prime=() extra=()
	local bad n c k want=continued round=history first
	local -A seen=() got=()
	case $t in
	ng) fmt=dify ;;
	hm) prime=(-p) ;;
	hr) prime=(-p); extra=(-X "$redis_pid") ;;
	esac
	[ "$t" = hx ] && want=off
	[ "$hist_run" -gt 1 ] && round="history $hist_run"
	first=$(( (hist_run - 1) * 1000000 ))
	if [ "$t" != ng ]; then
		seen[all]=$(grep -c ' access id=hm-' "$tmp/$t.log" || true)
		for c in continued new lost off; do
			seen[$c]=$(grep -cE " access id=hm-.* conversation=$c( |$)" \
			    "$tmp/$t.log" || true)
		done
	fi
	log "history $hist_run: $(label_of "$t"): $hist_requests requests${prime:+ (each chat primed first)}"
	if ! run_client "$out" "$build/bench-history" \
	    -a "127.0.0.1:$(port_of "$t")" -f "$fmt" "${prime[@]}" \
	    -n "$hist_requests" -c "$hist_conns" -s "$hist_bytes" \
	    -t "$hist_turns" -E "$hist_events" -G "$first" \
	    -P "$(pids_of "$t")" -U "$mock_pid" "${extra[@]}"; then
		cat "$out.err" >&2 || true
		fail "history $(label_of "$t"): bench-history failed"
		return 0
	fi
	[ -s "$out.err" ] && sed 's/^/    /' "$out.err" >&2
	HIST_RATES[$t]+=" $(kv "$out" req_per_s)"
	HIST_CPUS[$t]+=" $(kv "$out" cpu_us_per_request)"
	# shellcheck disable=SC2086
	R[history.$t]=$(calc %.0f "$(median ${HIST_RATES[$t]})")
	# shellcheck disable=SC2086
	R[history-cpu.$t]=$(calc %.1f "$(median ${HIST_CPUS[$t]})")
	if [ "$hist_run" -eq 1 ]; then
		for k in requests batch body_bytes prime_body_bytes \
		    dify_body_bytes primed p50_us; do
			HIST[$k.$t]=$(kv "$out" "$k")
		done
	fi
	HIST[extra_us.$t]+=" $(kv "$out" extra_us_per_request)"
	HIST[measured.$t]=$(( ${HIST[measured.$t]:-0} + $(kv "$out" requests) ))
	bad="$(kv "$out" bad_status) non-200, $(kv "$out" bad_end) incomplete, $(kv "$out" bad_count) short, $(kv "$out" conn_errors) connection errors"
	if [ "$(kv "$out" complete)" != "$(kv "$out" requests)" ]; then
		NOTE[history.$t]="$bad"
		notes+=("history $hist_run, $(label_of "$t"): $bad of $(kv "$out" requests) requests")
	fi
	if [ "$(kv "$out" prime_failed)" != 0 ]; then
		NOTE[history.$t]="priming failed"
		notes+=("history $hist_run, $(label_of "$t"): $(kv "$out" prime_failed) of $(kv "$out" primed) priming requests failed")
	fi
	cpu_line "$round" "$t" "$(kv "$out" cpu_pct)" \
	    "$(kv "$out" upstream_cpu_pct)" "$(kv "$out" client_cpu_pct)" \
	    "$(kv "$out" machine_busy_pct)"
	# How the proxy handled this round's measured requests (X-Request-Id
	# hm-N); the access line is written as the exchange is freed, just
	# after its response.
	if [ "$t" != ng ]; then
		sleep 0.2
		n=$(( $(grep -c ' access id=hm-' "$tmp/$t.log" || true) - seen[all] ))
		for c in continued new lost off; do
			got[$c]=$(( $(grep -cE " access id=hm-.* conversation=$c( |$)" \
			    "$tmp/$t.log" || true) - seen[$c] ))
			HIST[$c.$t]=$(( ${HIST[$c.$t]:-0} + got[$c] ))
		done
		if [ "${got[$want]}" != "$(kv "$out" requests)" ]; then
			NOTE[history.$t]="${got[$want]} of $(kv "$out" requests) $want"
			notes+=("history $hist_run, $(label_of "$t"): $want ${got[$want]} of $(kv "$out" requests) measured requests (access log: $n lines; continued ${got[continued]}, new ${got[new]}, lost ${got[lost]}, off ${got[off]})")
		fi
	fi
	log "history $hist_run: $(label_of "$t"): $(calc %.0f "$(kv "$out" req_per_s)") req/s, $(calc %.1f "$(kv "$out" cpu_us_per_request)") us/request${got[continued]:+, continued ${got[continued]} of $(kv "$out" requests)}"
}

# The long-history rows: each proxy variant against the same nginx run.
history_rows() {
	local v t
	for v in tr:hx mem:hm redis:hr; do
		t=${v#*:}
		v=${v%%:*}
		[ -n "${R[history.$t]:-}" ] && R[hist-$v.p1]=${R[history.$t]}
		[ -n "${R[history-cpu.$t]:-}" ] && R[hist-$v-cpu.p1]=${R[history-cpu.$t]}
		[ -n "${NOTE[history.$t]:-}" ] && NOTE[hist-$v.p1]=${NOTE[history.$t]}
		[ -n "${R[history.ng]:-}" ] && R[hist-$v.ng]=${R[history.ng]}
		[ -n "${R[history-cpu.ng]:-}" ] && R[hist-$v-cpu.ng]=${R[history-cpu.ng]}
		[ -n "${NOTE[history.ng]:-}" ] && NOTE[hist-$v.ng]=${NOTE[history.ng]}
	done
	return 0
}

# What share of a proxy's measured requests the access log shows as
# continued ("-" when it was not read).
hist_share() {	# target
	local n=${HIST[continued.$1]:-} all=${HIST[measured.$1]:-}
	if [ -z "$n" ] || [ -z "$all" ] || [ "$all" -eq 0 ]; then
		echo "-"
	else
		echo "$n of $all ($(calc %.1f "$n * 100 / $all") %)"
	fi
}

# ------------------------------------------------------- TLS, features

# The members that send a proxy to the TLS look-alike, verifying it.
tls_members() {
	printf '"dify_api_url": "https://localhost:%s/v1"\n"tls_ca_file": "%s"' \
	    "$tlsmock_port" "$tls_cert"
}

# Start the proxies of the TLS rows (the TLS look-alike and nginx's TLS
# server blocks are already up), as proxy 1w and Nw but relaying to the
# TLS look-alike; sets tls_ok=1 when they run.
start_tls_proxies() {	# 1w-port Nw-port
	local w="" out
	[ "$workers_ok" -eq 1 ] && w=1
	write_proxy_config "$tmp/probe.json" 1 "$w" "" "$(tls_members)"
	if ! out=$(check_proxy_config "$tmp/probe.json"); then
		log "the TLS config is refused: $out"
		warnings+=("this build refuses dify_api_url https or tls_ca_file: TLS rows not measured ($out)")
		return 0
	fi
	start_proxy tp1 "$1" "$w" "" "$(tls_members)"
	[ "$workers_ok" -eq 1 ] && start_proxy tpn "$2" "$ncpu" "" "$(tls_members)"
	tls_ok=1
}

# The TLS rows: each TLS target's figures in the column of its plain
# counterpart (tp1 under proxy 1w, tng under nginx 1w, ...).
tls_rows() {
	local k t
	for k in burst burst-cpu nonstream nonstream-cpu paced-cpu burst-hs; do
		for t in p1 ng pn nn; do
			[ -n "${R[$k.t$t]:-}" ] && R[tls-$k.$t]=${R[$k.t$t]}
			[ -n "${NOTE[$k.t$t]:-}" ] && NOTE[tls-$k.$t]=${NOTE[$k.t$t]}
		done
	done
	return 0
}

# nginx's non-streaming call is the blocking one: its figures get rows of
# their own (the non-streaming rows compare nginx relaying the stream).
blocking_rows() {
	local p k t
	for p in "" tls-; do
		for k in nonstream nonstream-cpu; do
			for t in ng nn; do
				[ -n "${R[$p$k.$t]:-}" ] &&
				    R[$p${k/nonstream/blocking}.$t]=${R[$p$k.$t]}
				[ -n "${NOTE[$p$k.$t]:-}" ] &&
				    NOTE[$p${k/nonstream/blocking}.$t]=${NOTE[$p$k.$t]}
			done
		done
	done
	return 0
}

# A TLS target's handshakes for the footer: "label: warm-up F full, R
# resumed; measured F full, R resumed in N requests" per wrk run, and
# the first paced round's.
tls_hs_line() {	# target
	local t=$1 l sc f r n
	l="$(label_of "$t"):"
	for sc in burst nonstream; do
		[ -n "${HS[$sc.$t]:-}" ] || continue
		read -r f r n <<<"${HS[$sc.$t]}"
		l+=" $sc $f full + $r resumed in $n requests"
		if [ -n "${HS[$sc-warm.$t]:-}" ]; then
			read -r f r <<<"${HS[$sc-warm.$t]}"
			l+=" (warm-up $f + $r)"
		fi
		l+=";"
	done
	if [ -n "${HS[paced.$t]:-}" ]; then
		read -r f r <<<"${HS[paced.$t]}"
		l+=" paced round 1, whole run: $f full + $r resumed;"
	fi
	echo "${l%;}"
}

# The limits of the rate-limits variant: the most the config takes, so
# that they count every request and refuse none.
feat_limit=100000000

# The features section: proxies configured as proxy 1w with one thing
# changed each ((a) nothing), started fresh, measured paced then burst
# with the variants taking turns.  A variant the build refuses is left
# out with a warning.  Sets feat_key (the rate-limits variant's client
# key) and feat_ok=1 when measured.
features() {
	local out sha w="" t i=0 ports
	local -a ids=(fa fc fm fr fs) feat=()
	local -A cfg
	[ "$workers_ok" -eq 1 ] && w=1
	out=$("$build/openai-dify-proxy" -k bench 2>&1) ||
	    die "openai-dify-proxy -k failed: $out"
	feat_key=$(printf '%s\n' "$out" | sed -n 's/^key: *//p')
	sha=$(printf '%s\n' "$out" | sed -n 's/^sha256: *//p')
	if [ -z "$feat_key" ] || [ -z "$sha" ]; then
		die "openai-dify-proxy -k printed no key and digest: $out"
	fi
	cfg[fa]=""
	cfg[fc]='"continuity": false'
	cfg[fm]='"metrics_listen": "off"'
	cfg[fr]=$(printf '"apps": [{"model": "bench", "key": "app-chat", "rpm": %s, "max_streams": %s}]\n"api_keys": [{"name": "bench", "sha256": "%s", "rpm": %s, "max_streams": %s}]' \
	    "$feat_limit" "$feat_limit" "$sha" "$feat_limit" "$feat_limit")
	cfg[fs]='"split_think": false'
	read -ra ports <<<"$("$build/bench-freeport" "${#ids[@]}" | tr '\n' ' ')"
	for t in "${ids[@]}"; do
		write_proxy_config "$tmp/probe.json" 1 "$w" "" "${cfg[$t]}"
		if ! out=$(check_proxy_config "$tmp/probe.json"); then
			FEAT_SKIP[$t]=$out
			warnings+=("features $(label_of "$t"): this build refuses its config, not measured ($out)")
		else
			start_proxy "$t" "${ports[$i]}" "$w" "" "${cfg[$t]}"
			smoke "$t"
			feat+=("$t")
		fi
		i=$((i + 1))
	done
	for t in "${feat[@]}"; do
		measure fpaced "$t"
	done
	for t in "${feat[@]}"; do
		measure fburst "$t"
	done
	for t in "${feat[@]}"; do
		stop_pid "$(main_pid_of "$t")"
	done
	feat_ok=1
}

# --------------------------------------------------------------- output

# A cell: the figure, "*" if its checks failed, "n/a" when not measured.
cell() {	# key target
	local v=${R[$1.$2]:-}
	if [ -z "$v" ]; then
		if [ "${1#tls-}" != "$1" ] && [ "$tls_ok" -eq 0 ]; then
			echo "n/a"
		elif [ "$2" = pn ] && [ "$workers_ok" -eq 0 ]; then
			echo "n/a"
		elif [ "$2" != pn ] && [ "$2" != nn ] && [ "$hist_ok" -eq 0 ] &&
		    [ "${1#hist-}" != "$1" ]; then
			echo "n/a"
		else
			echo "-"
		fi
		return
	fi
	[ -n "${NOTE[$1.$2]:-}" ] && v="$v*"
	echo "$v"
}

# R[key.a] / R[key.b] (proxy 1w / nginx 1w by default).
ratio() {	# key [a b]
	ratio_to "$1" "${2:-p1}" "$1" "${3:-ng}"
}

# R[key1.a] / R[key2.b]; "-" when either is missing or the second is 0.
ratio_to() {	# key1 a key2 b
	local x=${R[$1.$2]:-} y=${R[$3.$4]:-}
	if [ -z "$x" ] || [ -z "$y" ] || [ "$(calc %d "$y == 0")" = 1 ]; then
		echo "-"
	else
		calc %.2f "$x / $y"
	fi
}

# The rows: key and label.
rows=(
	"burst|burst streams (req/s)"
	"burst-cpu|burst: CPU us/request"
	"nonstream|non-streaming (req/s)"
	"nonstream-cpu|non-streaming: CPU us/request"
	"blocking|  nginx, blocking call (req/s)"
	"blocking-cpu|  nginx, blocking call: CPU us/req"
	"paced-eps|paced: events/s"
	"paced-cpu|paced: CPU us/event"
	"paced-rss|paced: RSS KiB/open stream"
	"latency-p50|token latency p50 (ms)"
	"latency-p99|token latency p99 (ms)"
	"tls-burst|TLS burst streams (req/s)"
	"tls-burst-cpu|TLS burst: CPU us/request"
	"tls-nonstream|TLS non-streaming (req/s)"
	"tls-nonstream-cpu|TLS non-streaming: CPU us/request"
	"tls-blocking|  nginx, blocking call (req/s)"
	"tls-blocking-cpu|  nginx, blocking call: CPU us/req"
	"tls-paced-cpu|TLS paced: CPU us/event"
	"tls-burst-hs|TLS full handshakes/1,000 req"
	"hist-tr|history, transcript (req/s)"
	"hist-tr-cpu|history, transcript: CPU us/req"
	"hist-mem|history, memory (req/s)"
	"hist-mem-cpu|history, memory: CPU us/req"
	"hist-redis|history, Redis (req/s)"
	"hist-redis-cpu|history, Redis: CPU us/req"
)

# The features section's rows: target and label.
feat_rows=(
	'fa|(a) defaults'
	'fc|(b) "continuity": false'
	'fm|(c) "metrics_listen": "off"'
	'fr|(d) rate limits (apps, api_keys)'
	'fs|(e) "split_think": false'
)

# The row whose nginx figures a row compares with.  The proxy streams
# from Dify for a client that did not ask to stream, so its non-streaming
# call is compared with nginx relaying the same stream (the burst run);
# nginx's blocking call, less work than either, has rows of its own.
nginx_key() {	# key
	case $1 in
	nonstream|nonstream-cpu|tls-nonstream|tls-nonstream-cpu)
		echo "${1/nonstream/burst}" ;;
	*)	echo "$1" ;;
	esac
}

# The main table's columns after the label, one line per row.
table_cells() {	# key
	local nk
	nk=$(nginx_key "$1")
	printf '%s\n' "$(cell "$1" p1)" "$(cell "$nk" ng)" \
	    "$(ratio_to "$1" p1 "$nk" ng)" "$(cell "$1" pn)" \
	    "$(cell "$nk" nn)" "$(ratio_to "$1" pn "$nk" nn)"
}

print_table() {
	local row key label c
	printf '%s\n' "$title"
	printf '%-34s %11s %11s %11s %11s %11s %14s\n' "" "proxy 1w" \
	    "nginx 1w" "proxy/nginx" "$(label_of pn)" "$(label_of nn)" \
	    "proxy/nginx ${ncpu}w"
	for row in "${rows[@]}"; do
		key=${row%%|*}
		label=${row#*|}
		mapfile -t c < <(table_cells "$key")
		printf '%-34s %11s %11s %11s %11s %11s %14s\n' "$label" "${c[@]}"
	done
	if [ "$feat_ok" -eq 1 ]; then
		printf '\nFeatures on and off: proxy 1w, each variant its own process, %s s runs; ratios to (a)\n' "$feat_seconds"
		printf '%-34s %17s %7s %19s %7s\n' "" "burst CPU us/req" "/ (a)" \
		    "paced CPU us/event" "/ (a)"
		for row in "${feat_rows[@]}"; do
			key=${row%%|*}
			label=${row#*|}
			printf '%-34s %17s %7s %19s %7s\n' "$label" \
			    "$(feat_cell fburst-cpu "$key")" \
			    "$(ratio fburst-cpu "$key" fa)" \
			    "$(feat_cell fpaced-cpu "$key")" \
			    "$(ratio fpaced-cpu "$key" fa)"
		done
	fi
	printf '\n'
	print_footer
}

# A features cell: as cell(), "n/a" for a variant the build refuses.
feat_cell() {	# key target
	if [ -n "${FEAT_SKIP[$2]:-}" ]; then
		echo "n/a"
	else
		cell "$1" "$2"
	fi
}

# What 1 -> N workers changed, per row with both figures of a target.
scaling_lines() {
	local row key label a b
	for row in "${rows[@]}"; do
		key=${row%%|*}
		label=${row#*|}
		a=$(ratio "$key" pn p1)
		b=$(ratio "$key" nn ng)
		[ "$a" = - ] && [ "$b" = - ] && continue
		printf '  %-34s proxy x%-6s nginx x%s\n' "$label" "$a" "$b"
	done
}

print_footer() {
	local l
	printf '%s\n' "${footer[@]}"
	l=$(scaling_lines)
	if [ -n "$l" ]; then
		printf '\nScaling, 1 -> %s workers (the %sw figure / the 1w figure, same run; for CPU and RSS below 1 means less per request):\n%s\n' \
		    "$ncpu" "$ncpu" "$l"
	fi
	if [ "${#rss_lines[@]}" -gt 0 ]; then
		printf '\nRSS during the paced run (5 samples):\n'
		for l in "${rss_lines[@]}"; do
			printf '  %s\n' "$l"
		done
	fi
	if [ "${#cpu_lines[@]}" -gt 0 ]; then
		printf '\nCPU during each measured run, %% of one CPU (the machine has %s00; client: wrk or the bench client; other: processes not in this run):\n' "$ncpu"
		for l in "${cpu_lines[@]}"; do
			printf '  %s\n' "$l"
		done
	fi
	printf '\n'
	if [ "${#warnings[@]}" -gt 0 ]; then
		printf 'Warnings:\n'
		for l in "${warnings[@]}"; do
			printf '  %s\n' "$l"
		done
	fi
	if [ "${#notes[@]}" -eq 0 ]; then
		printf 'Checks: every response was a complete 200; no socket errors.\n'
	else
		printf 'Checks (* in the table):\n'
		for l in "${notes[@]}"; do
			printf '  %s\n' "$l"
		done
	fi
}

write_markdown() {
	local md=$build/bench-results.md row key label c
	{
		printf '%s\n\n' "$title"
		printf '| | proxy 1w | nginx 1w | proxy/nginx | %s | %s | proxy/nginx %sw |\n' \
		    "$(label_of pn)" "$(label_of nn)" "$ncpu"
		printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
		for row in "${rows[@]}"; do
			key=${row%%|*}
			label=${row#*|}
			mapfile -t c < <(table_cells "$key")
			printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" \
			    "${c[@]}"
		done
		if [ "$feat_ok" -eq 1 ]; then
			printf '\n| features, proxy 1w (%s s runs) | burst CPU us/req | / (a) | paced CPU us/event | / (a) |\n' \
			    "$feat_seconds"
			printf '| --- | ---: | ---: | ---: | ---: |\n'
			for row in "${feat_rows[@]}"; do
				key=${row%%|*}
				label=${row#*|}
				printf '| %s | %s | %s | %s | %s |\n' "$label" \
				    "$(feat_cell fburst-cpu "$key")" \
				    "$(ratio fburst-cpu "$key" fa)" \
				    "$(feat_cell fpaced-cpu "$key")" \
				    "$(ratio fpaced-cpu "$key" fa)"
			done
		fi
		printf '\n```\n'
		print_footer
		printf '```\n'
	} >"$md"
	log "wrote $md"
}

# ----------------------------------------------------------------- main

main() {
	local ports t sc

	need_uint BENCH_SECONDS "$bench_seconds"
	need_uint BENCH_WARMUP "$bench_warmup"
	need_uint BENCH_CONNECTIONS "$bench_conns"
	need_uint BENCH_PACED_CLIENTS "$paced_clients"
	need_uint BENCH_PACED_RUNS "$paced_runs"
	[ "$paced_runs" -ge 1 ] || die "BENCH_PACED_RUNS must be at least 1"
	need_uint BENCH_LATENCY_STREAMS "$lat_streams"
	need_uint BENCH_LATENCY_SECONDS "$lat_seconds"
	need_uint BENCH_HISTORY_REQUESTS "$hist_requests"
	need_uint BENCH_HISTORY_CONNECTIONS "$hist_conns"
	need_uint BENCH_HISTORY_RUNS "$hist_runs"
	[ "$hist_runs" -ge 1 ] || die "BENCH_HISTORY_RUNS must be at least 1"
	need_uint BENCH_FEATURE_SECONDS "$feat_seconds"
	case $tls_on in
	0 | 1) ;;
	*) die "BENCH_TLS must be 0 or 1, got \"$tls_on\"" ;;
	esac
	case $feat_on in
	0 | 1) ;;
	*) die "BENCH_FEATURES must be 0 or 1, got \"$feat_on\"" ;;
	esac
	build_history
	for t in openai-dify-proxy mock-dify bench-paced bench-latency \
	    bench-freeport bench-history; do
		[ -x "$build/$t" ] || die "$build/$t is missing (run make bench)"
	done

	sh "$root/scripts/deps.sh" bench
	command -v nginx >/dev/null || die "nginx is not installed"
	command -v wrk >/dev/null || die "wrk is not installed"
	if [ "$tls_on" -eq 1 ]; then
		command -v openssl >/dev/null || die "openssl is not installed"
		command -v curl >/dev/null || die "curl is not installed"
	fi

	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/odp-bench.XXXXXX")

	ncpu=$(nproc)
	clk_tck=$(getconf CLK_TCK)
	raise_fd_limit
	check_quiet
	proxy_env
	start_mock
	[ "$tls_on" -eq 1 ] && start_tls_mock
	probe_workers
	ports=$("$build/bench-freeport" 8 | tr '\n' ' ')
	read -r p1port ngport pnport nnport tp1port tpnport ngtport nntport \
	    <<<"$ports"
	[ "$tls_on" -eq 1 ] || ngtport="" nntport=""
	start_proxy p1 "$p1port" "$([ "$workers_ok" -eq 1 ] && echo 1)"
	start_nginx ng 1 "$ngport" "$ngtport"
	start_nginx nn "$ncpu" "$nnport" "$nntport"
	targets=(p1 ng)
	if [ "$workers_ok" -eq 1 ]; then
		start_proxy pn "$pnport" "$ncpu"
		targets+=(pn)
	fi
	targets+=(nn)
	[ "$tls_on" -eq 1 ] && start_tls_proxies "$tp1port" "$tpnport"
	if [ "$tls_ok" -eq 1 ]; then
		targets+=(tp1 tng)
		[ "$workers_ok" -eq 1 ] && targets+=(tpn)
		targets+=(tnn)
	fi
	for t in "${targets[@]}"; do
		smoke "$t"
	done

	local nginx_v wrk_v libevent_v kernel commit dirty proxy_v
	nginx_v=$(nginx -v 2>&1 | sed 's|.*nginx/||')
	wrk_v=$(wrk -v 2>&1 | head -n 1 | awk '{print $2}' | sed 's|.*/||')
	libevent_v=$(pkg-config --modversion libevent_core 2>/dev/null || echo "?")
	kernel=$(uname -r)
	proxy_v=$("$build/openai-dify-proxy" -V 2>/dev/null | awk '{print $2}')
	commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")
	dirty=""
	[ -n "$(git -C "$root" status --porcelain -- src include 2>/dev/null)" ] &&
	    dirty=" + uncommitted changes in src/ include/"
	title="openai-dify-proxy bench  $(date +%F)  ($ncpu CPUs, Linux $kernel, libevent $libevent_v, nginx $nginx_v)"
	cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)

	# 3. Paced streams first, on fresh processes: memory the earlier runs
	# freed would otherwise be reused and hide part of each stream's cost.
	# CPU per event moves by 10-25 % between runs on a shared VM, so it
	# is the median of paced_runs rounds (targets taking turns in each);
	# memory and events/s come from the first, fresh, round.
	for paced_run in $(seq "$paced_runs"); do
		for t in "${targets[@]}"; do
			measure paced "$t"
		done
	done
	for t in "${targets[@]}"; do
		[ -n "${PACED_CPUS[$t]:-}" ] || continue
		# shellcheck disable=SC2086
		R[paced-cpu.$t]=$(median ${PACED_CPUS[$t]})
	done
	# 4. Token latency, 1. burst streams, 2. non-streaming calls.
	for t in p1 ng; do
		measure latency "$t"
	done
	for sc in burst nonstream; do
		for t in "${targets[@]}"; do
			measure "$sc" "$t"
		done
	done
	tls_rows
	blocking_rows
	# 5. Long histories: nginx relaying the transcript call, the proxy
	# without continuity, with it in memory and in Redis.
	start_history
	if [ "$hist_ok" -eq 1 ]; then
		for hist_run in $(seq "$hist_runs"); do
			for t in ng hx hm hr; do
				measure history "$t"
			done
		done
		stop_history
		history_rows
		if grep -q 'buffered to a temporary file' "$tmp/ng/error.log"; then
			warnings+=("nginx wrote request bodies to temporary files (client_body_buffer_size)")
		fi
	fi
	# 6. Features on and off: the proxy 1w with one thing changed.
	[ "$feat_on" -eq 1 ] && features

	local paced_list="" t
	for t in "${targets[@]}"; do
		paced_list+=" $(label_of "$t")${PACED_CPUS[$t]:- -};"
	done
	paced_list=${paced_list%;}
	local hist_list=""
	for t in ng hx hm hr; do
		[ -n "${HIST_CPUS[$t]:-}" ] || continue
		hist_list+=" $(label_of "$t")${HIST_CPUS[$t]} us,${HIST_RATES[$t]} req/s;"
	done
	hist_list=${hist_list%;}
	local pnote="proxy ${ncpu}w: \"workers\": $ncpu"
	[ "$workers_ok" -eq 1 ] || pnote="proxy ${ncpu}w: n/a, workers: not supported by this build"
	footer=(
		"Build: openai-dify-proxy $proxy_v, commit $commit$dirty; $cpu_model; wrk $wrk_v; open files $fd_limit; the run took $((SECONDS / 60)) min $((SECONDS % 60)) s."
		"Upstream: one mock-dify (test/mock), shared by all targets; the proxy is sent OpenAI requests, nginx the Dify requests they become."
		"proxy: log_level error, upstream_pool_size 256 (as nginx's keepalive 256), otherwise defaults; proxy 1w: $([ "$workers_ok" -eq 1 ] && echo '"workers": 1' || echo 'no workers key (single process)'); $pnote."
		"nginx: nginx 1w worker_processes 1, nginx ${ncpu}w worker_processes $ncpu with listen ... reuseport (a listening socket per worker, as the proxy's workers have); both proxy_buffering off, proxy_http_version 1.1, keepalive 256 to the upstream, access_log off."
		"burst: wrk -t2 -c$bench_conns, ${bench_warmup} s warm-up then ${bench_seconds} s; each request streams $burst_events events written at once (mock:events=$burst_events); complete = 200 ending in [DONE] (proxy) or message_end (nginx)."
		"non-streaming: the same with stream:false (proxy; it still streams from the look-alike) or response_mode blocking (nginx); complete = 200 with the last word.  The proxy's figure is compared with nginx relaying the same Dify stream (nginx's burst figure: the same work); nginx's blocking call is in the rows below it, for information (Dify gives agent apps no blocking mode and Dify Cloud cuts it at about 100 s)."
		"paced (run first, on freshly started targets): bench-paced, $paced_clients streams started over $((paced_events * paced_interval)) ms, each $paced_events events $paced_interval ms apart, window ${bench_seconds} s after $((paced_events * paced_interval + 500)) ms; events/s = complete streams x $paced_events / window; CPU = utime+stime (/proc/PID/stat) over the window / events, the median of $paced_runs rounds with the targets taking turns (each round:$paced_list); events/s and RSS from the first round; RSS = median over 5 samples of (RSS - idle RSS) / open streams."
		"paced uses its own epoll client, not wrk: wrk opens all connections at once, so 2 s streams would end in waves (a 10 s window would count 4 or 5 of them), and it cannot read /proc at known open-stream counts; bench-paced staggers the starts, counts only streams that complete inside the window, and reads /proc itself (its own CPU is the client figure below)."
		"latency: bench-latency, $lat_streams streams for ${lat_seconds} s, $lat_events events $lat_interval ms apart (mock:stamp); delay = client read time - look-alike write time (CLOCK_MONOTONIC); first event of each stream dropped; samples: proxy ${R[latency-n.p1]:-0}, nginx ${R[latency-n.ng]:-0}."
		"CPU us/request and us/event: the target's own processes only (the proxy: master and workers; nginx: its workers)."
		"Ratios are proxy 1w / nginx 1w and proxy ${ncpu}w / nginx ${ncpu}w (history rows: that row's proxy / nginx relaying the transcript call): above 1 is better for req/s and events/s, below 1 is better for CPU, memory, latency and handshakes."
	)
	if [ "$tls_ok" -eq 1 ]; then
		footer+=(
			"TLS rows: a second mock-dify with --tls-cert/--tls-key (a self-signed ECDSA P-256 certificate made for the run, subjectAltName DNS:localhost, IP:127.0.0.1); proxy 1w and ${ncpu}w TLS: as proxy 1w and ${ncpu}w with dify_api_url https://localhost:$tlsmock_port/v1 and tls_ca_file (the certificate is verified); nginx 1w and ${ncpu}w TLS: a second server block of the same nginx processes, proxy_pass https:// to an upstream block with keepalive 256, proxy_ssl_session_reuse on, proxy_ssl_verify on, proxy_ssl_trusted_certificate (the certificate), proxy_ssl_name localhost, proxy_ssl_server_name on, proxy_ssl_protocols TLSv1.2 TLSv1.3; burst, non-streaming and paced runs as above."
			"TLS handshakes: the TLS look-alike's counters (GET /mock/stats, read with curl before and after each run; curl's own handshake taken out); the table's row = full handshakes during the measured burst run per 1,000 completed requests.  Full + resumed per target:"
		)
		for t in tp1 tng tpn tnn; do
			[ -n "${HS[burst.$t]:-}${HS[paced.$t]:-}" ] &&
			    footer+=("  $(tls_hs_line "$t")")
		done
	fi
	if [ "$feat_ok" -eq 1 ]; then
		footer+=(
			"features: proxies configured as proxy 1w, each started fresh with one change: (a) none; (b) \"continuity\": false; (c) \"metrics_listen\": \"off\" (the others count, on 127.0.0.1:0); (d) \"apps\" [model bench, key app-chat, rpm and max_streams $feat_limit] and \"api_keys\" [a key made with openai-dify-proxy -k, the same limits], requests sent with that key and model bench; (e) \"split_think\": false.  paced: as above, one round, window ${feat_seconds} s; burst: as above, 1 s warm-up then ${feat_seconds} s; the variants take turns, all paced runs first.  Checks as above (a refused request is a non-200)."
			"features, noise: (a) / proxy 1w in the table above (the same config, another process and moment): burst CPU $(ratio_to fburst-cpu fa burst-cpu p1), paced CPU $(ratio_to fpaced-cpu fa paced-cpu p1); proxy 1w's paced rounds:${PACED_CPUS[p1]:- -} us/event."
		)
	fi
	if [ "$hist_ok" -eq 1 ]; then
		footer+=(
			"history: bench-history (test/bench/history.c), $hist_conns keep-alive connections, per target ${HIST[requests.ng]:-$hist_requests} requests measured in batches of up to ${HIST[batch.ng]:-?} chats after one warm-up batch; every request is the next turn of a chat of its own: a system prompt naming the chat, $hist_turns user/assistant pairs and a new user message, ${HIST[body_bytes.hm]:-?} bytes of OpenAI JSON, streamed (mock:events=$hist_events); nginx is sent the Dify call the proxy makes of it without continuity (${HIST[dify_body_bytes.ng]:-?} bytes, the whole history as the query) and relays it as is; complete = 200, [DONE] or message_end, $hist_events pieces.  CPU and req/s are the median of $hist_runs rounds, the targets taking turns and each round sending chats of its own (each round:$hist_list)."
			"history, memory and Redis: before a batch is measured, each of its chats' turn before (${HIST[prime_body_bytes.hm]:-?} bytes, up to the ${hist_turns}th user message) is sent once, unmeasured (${HIST[primed.hm]:-?} and ${HIST[primed.hr]:-?} of them a round, warm-up included), so the proxy knows the history each measured request continues and sends the look-alike only the new message with the conversation_id; no chat is sent twice (a take consumes what was remembered).  Only the measured requests are timed; CPU = sum_exec_runtime of the target's threads (/proc/PID/task/*/schedstat) over them, 20 ms after each batch's last response, / requests."
			"history proxies: $([ "$workers_ok" -eq 1 ] && echo '"workers": 1' || echo 'no workers key'), log_level info (for the check below; nginx logs nothing), \"continuity\": false (transcript), true (memory), true with redis_url (Redis: redis-server ${redis_v:-?} on 127.0.0.1, --save '' --appendonly no, which used a further $([ -n "${HIST[extra_us.hr]:-}" ] && median ${HIST[extra_us.hr]} || echo '?') us of CPU per measured request, the median of the rounds, not in the proxy's figure)."
			"history, continued per the access log (conversation= of the measured requests, X-Request-Id hm-N): memory $(hist_share hm), Redis $(hist_share hr); transcript: conversation=off ${HIST[off.hx]:-?} of ${HIST[measured.hx]:-?}."
		)
	fi

	if [ "$max_other" -gt 15 ]; then
		warnings+=("other processes used up to ${max_other}% of a CPU during a measured run: the figures are distorted; run again on a quiet machine")
	fi
	printf '\n'
	print_table
	write_markdown
	[ "$failed" -eq 0 ] || exit 1
}

# test/bench/scale.sh reads the helpers above without running the bench.
[ "${BENCH_SOURCED:-0}" = 1 ] || main "$@"
