#!/bin/sh
#
# Makes sure what a make target needs is installed, and installs what is
# missing from Debian/Ubuntu packages (as root, or through sudo).  Without
# either it prints the exact command to run and fails.
#
# Usage: scripts/deps.sh build|test|fuzz|bench
#
set -eu

what=${1:-build}

# Debian package that provides each pkg-config module or command.
need_pkgconfig() {	# module package
	if ! command -v pkg-config >/dev/null 2>&1; then
		missing="$missing pkg-config $2"
	elif ! pkg-config --exists "$1" 2>/dev/null; then
		missing="$missing $2"
	fi
}
need_command() {	# command package
	command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}

missing=""
need_command cc gcc
need_command make make
need_pkgconfig libevent_core libevent-dev
need_pkgconfig libevent_extra libevent-dev
need_pkgconfig libevent_openssl libevent-dev
need_pkgconfig openssl libssl-dev
need_pkgconfig jansson libjansson-dev
need_pkgconfig hiredis libhiredis-dev

case "$what" in
build) ;;
test)
	need_pkgconfig check check
	need_command openssl openssl
	need_command curl curl
	need_command node nodejs
	need_command npm npm
	need_command redis-server redis-server
	;;
fuzz)
	need_command clang clang
	# libFuzzer's runtime ships in libclang-rt-<version>-dev.
	if command -v clang >/dev/null 2>&1; then
		rt=$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null || true)
		if [ ! -f "$rt" ]; then
			ver=$(clang -dumpversion | cut -d. -f1)
			missing="$missing libclang-rt-$ver-dev"
		fi
	fi
	;;
bench)
	need_command nginx nginx
	need_command wrk wrk
	need_command redis-server redis-server
	# The TLS rows: a certificate made for the run, the look-alike's
	# handshake counters read over TLS.
	need_command openssl openssl
	need_command curl curl
	;;
*)
	echo "usage: $0 build|test|fuzz|bench" >&2
	exit 2
	;;
esac

[ -z "$missing" ] && exit 0

# De-duplicate while keeping the order.
pkgs=$(printf '%s\n' $missing | awk '!seen[$0]++' | tr '\n' ' ')
echo "deps: installing missing packages: $pkgs"

if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	sudo="sudo"
else
	echo "deps: not root and no password-less sudo; run this, then make again:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $pkgs" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: apt-get not found; install the equivalent of: $pkgs" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt-get (unattended upgrades, a parallel make) to end.
lock="-o DPkg::Lock::Timeout=300"
# shellcheck disable=SC2086
$sudo apt-get $lock update -qq
# shellcheck disable=SC2086
$sudo apt-get $lock install -y -qq --no-install-recommends $pkgs
