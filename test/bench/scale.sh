#!/usr/bin/env bash
#
# make bench-scale: how many concurrent streams one worker holds before
# token latency degrades, the proxy and nginx side by side (issue 3,
# docs/benchmarks.md "Scale").
#
# Usage: test/bench/scale.sh [build-dir]     (make bench-scale builds first)
#
# For each point N, each target (proxy with "workers": 1, nginx with one
# worker) carries N paced streams (bench-paced) while bench-latency
# measures 20 more streams of stamped events; both read the same window.
#
# Environment (defaults in brackets):
#   BENCH_SCALE_POINTS     concurrent stream counts ["1000 2500 5000 7500 10000"]
#   BENCH_SCALE_EVENTS     events per paced stream [20]
#   BENCH_SCALE_INTERVAL   ms between a paced stream's events [500]
#   BENCH_SECONDS          measured seconds at each point [10]
#
# A point above what the open-file limit allows (two descriptors per
# stream in the proxy and in nginx) is lowered to fit, and the table says
# so.  Exits non-zero only when the harness fails.
#
set -eu

here=$(cd "$(dirname "$0")" && pwd)
BENCH_SOURCED=1
# shellcheck source=test/bench/run.sh
. "$here/run.sh"

scale_points=${BENCH_SCALE_POINTS:-"1000 2500 5000 7500 10000"}
scale_events=${BENCH_SCALE_EVENTS:-20}
scale_interval=${BENCH_SCALE_INTERVAL:-500}
scale_lat_streams=20
scale_lat_interval=20
scale_lat_events=50
scale_lines=()

# One point: N paced streams through target t and the latency probe.
scale_point() {	# target N
	local t=$1 n=$2 ramp warm out=$tmp/scale.$1.$2 lat=$tmp/scale-lat.$1.$2
	local pbody lbody ppid lrc=0 prc=0
	ramp=$((scale_events * scale_interval))
	warm=$((ramp + 500))
	pbody=$(body_for "$t" "mock:events=$scale_events mock:interval=$scale_interval" true)
	lbody=$(body_for "$t" "mock:events=$scale_lat_events mock:interval=$scale_lat_interval mock:stamp" true)
	log "scale: $(label_of "$t"): $n streams, ramp ${ramp}ms + 500ms, then ${bench_seconds}s"
	"$build/bench-paced" -a "127.0.0.1:$(port_of "$t")" -u "$(path_for "$t")" \
	    -b "$pbody" -c "$n" -r "$ramp" -w "$warm" -d "$bench_seconds" \
	    -e "$(stream_end_for "$t")" -m "$(marker_for "$t")" \
	    -E "$scale_events" -P "$(pids_of "$t")" -U "$mock_pid" \
	    >"$out" 2>"$out.err" &
	ppid=$!
	client_pid=$ppid
	# The probe runs inside the paced window.
	sleep "$(calc %.3f "$warm / 1000")"
	"$build/bench-latency" -a "127.0.0.1:$(port_of "$t")" -u "$(path_for "$t")" \
	    -b "$lbody" -c "$scale_lat_streams" -r "$scale_lat_interval" \
	    -d "$bench_seconds" -e "$(stream_end_for "$t")" \
	    >"$lat" 2>"$lat.err" || lrc=$?
	wait "$ppid" || prc=$?
	client_pid=""
	if [ "$prc" -ne 0 ] || [ "$(kv "$out" streams_complete)" = 0 ]; then
		cat "$out.err" >&2 || true
		fail "scale $(label_of "$t") at $n: bench-paced failed"
		return 0
	fi
	[ "$lrc" -eq 0 ] || { cat "$lat.err" >&2 || true;
	    fail "scale $(label_of "$t") at $n: bench-latency took no sample"; }
	scale_lines+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' \
	    "$(label_of "$t")" "$n" "$(kv "$out" open_median)" \
	    "$(calc %.0f "$(kv "$out" events_per_s)")" \
	    "$(kv "$out" cpu_pct)" \
	    "$(calc %.2f "$(kv "$out" cpu_us) / ($(kv "$out" events) + $(kv "$lat" samples) + $(kv "$lat" dropped_first))")" \
	    "$(calc %.1f "$(kv "$out" rss_kib_per_stream)")" \
	    "$(calc %.2f "$(kv "$lat" p50_us) / 1000")" \
	    "$(calc %.2f "$(kv "$lat" p99_us) / 1000")" \
	    "$(calc %.2f "$(kv "$lat" max_us) / 1000")" \
	    "$(kv "$out" machine_busy_pct)")")
	local sf ce
	sf=$(kv "$out" streams_failed)
	ce=$(kv "$out" conn_errors)
	if [ "${sf:-0}" -ne 0 ] || [ "${ce:-0}" -ne 0 ] ||
	    [ "$(kv "$lat" streams_failed)" != 0 ]; then
		notes+=("$(label_of "$t") at $n: $sf paced streams failed, $ce connection errors, $(kv "$lat" streams_failed) probe streams failed")
	fi
	log "scale: $(label_of "$t") at $n: $(kv "$out" events_per_s) events/s, cpu $(kv "$out" cpu_pct)%, p50 $(kv "$lat" p50_us) us, p99 $(kv "$lat" p99_us) us"
	sleep 2
}

# Start a fresh target: memory an earlier point freed but kept would hide
# part of each stream's cost.
scale_start() {	# target
	local port
	port=$("$build/bench-freeport" 1)
	if [ "$1" = p1 ]; then
		start_proxy p1 "$port" 1
	else
		start_nginx ng 1 "$port"
	fi
	smoke "$1"
}

# Stop a target started by scale_start.
scale_stop() {	# target
	if [ "$1" = p1 ]; then
		stop_pid "$p1_pid"
	else
		stop_pid "$ng_master"
	fi
}

scale_main() {
	local n max points="" t ports

	need_uint BENCH_SECONDS "$bench_seconds"
	need_uint BENCH_SCALE_EVENTS "$scale_events"
	need_uint BENCH_SCALE_INTERVAL "$scale_interval"
	max=0
	for n in $scale_points; do
		need_uint "a BENCH_SCALE_POINTS entry" "$n"
		[ "$n" -gt "$max" ] && max=$n
	done
	[ "$max" -gt 0 ] || die "BENCH_SCALE_POINTS is empty"
	for t in openai-dify-proxy mock-dify bench-paced bench-latency \
	    bench-freeport; do
		[ -x "$build/$t" ] || die "$build/$t is missing (run make bench-scale)"
	done
	sh "$root/scripts/deps.sh" bench
	command -v nginx >/dev/null || die "nginx is not installed"

	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/odp-scale.XXXXXX")
	ncpu=$(nproc)
	clk_tck=$(getconf CLK_TCK)
	# raise_fd_limit lowers paced_clients to what fits, probe included.
	paced_clients=$((max + scale_lat_streams))
	raise_fd_limit
	for n in $scale_points; do
		if [ "$n" -gt $((paced_clients - scale_lat_streams)) ]; then
			n=$((paced_clients - scale_lat_streams))
		fi
		case " $points " in
		*" $n "*) ;;
		*) points="$points $n" ;;
		esac
	done
	check_quiet
	proxy_env
	start_mock
	workers_ok=1
	for n in $points; do
		for t in p1 ng; do
			scale_start "$t"
			scale_point "$t" "$n"
			scale_stop "$t"
		done
	done

	printf '\nopenai-dify-proxy bench-scale  %s  (%s CPUs, Linux %s, commit %s, open files %s)\n\n' \
	    "$(date +%F)" "$ncpu" "$(uname -r)" \
	    "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')" \
	    "$fd_limit"
	printf '| target | streams | open (median) | events/s | CPU %% | CPU us/event | RSS KiB/stream | latency p50 ms | p99 ms | max ms | machine busy %% of %s00 |\n' "$ncpu"
	printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
	printf '%s\n' "${scale_lines[@]}"
	printf '\nEach paced stream: %s events %s ms apart, started over %s ms; window %s s.\n' \
	    "$scale_events" "$scale_interval" "$((scale_events * scale_interval))" "$bench_seconds"
	printf 'Latency probe: %s more streams, events %s ms apart, stamped by the look-alike at write time; CPU us/event counts the probe'"'"'s events with the paced ones.\n' \
	    "$scale_lat_streams" "$scale_lat_interval"
	printf 'Look-alike, clients and target share the machine: "machine busy" near %s00 means the figures measure the machine, not the target.\n' "$ncpu"
	if [ "${#warnings[@]}" -gt 0 ]; then
		printf 'Warnings:\n'
		printf '  %s\n' "${warnings[@]}"
	fi
	if [ "${#notes[@]}" -gt 0 ]; then
		printf 'Checks:\n'
		printf '  %s\n' "${notes[@]}"
	fi
	[ "$failed" -eq 0 ] || exit 1
}

scale_main
