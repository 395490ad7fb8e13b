#!/bin/sh
#
# Check config/openai-dify-proxy.service with systemd-analyze verify,
# against the built binary, where systemd-analyze exists; and check the
# settings the proxy's notify support relies on.
#
# Usage: scripts/check-systemd.sh [build-dir]     (make test-systemd)
#
set -eu

build=${1:-build}
unit=config/openai-dify-proxy.service
bin=$(cd "$build" && pwd)/openai-dify-proxy

fail() {
	echo "check-systemd: $*" >&2
	exit 1
}

grep -q '^Type=notify$' "$unit" || fail "$unit: Type=notify missing"
grep -q '^WatchdogSec=' "$unit" || fail "$unit: WatchdogSec missing"
if grep -q '^NotifyAccess=' "$unit"; then
	grep -q '^NotifyAccess=main$' "$unit" ||
	    fail "$unit: notifications come from the main process only"
fi
for k in DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict \
    PrivateTmp=yes RestrictAddressFamilies= LimitNOFILE=; do
	grep -q "^$k" "$unit" || fail "$unit: $k missing"
done
echo "check-systemd: $unit has Type=notify, WatchdogSec and the hardening"

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "check-systemd: no systemd-analyze here; verify skipped"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/local/bin/openai-dify-proxy|$bin|" "$unit" > "$tmp/openai-dify-proxy.service"
if ! out=$(systemd-analyze verify "$tmp/openai-dify-proxy.service" 2>&1); then
	echo "$out" >&2
	fail "systemd-analyze verify failed"
fi
if [ -n "$out" ]; then
	echo "$out" >&2
	fail "systemd-analyze verify warned"
fi
echo "check-systemd: systemd-analyze verify: clean"
