#!/bin/sh
#
# Checks the Docker packaging against the binary, scripts/deps.sh, the
# README and docker-compose.yml, without a Docker engine: the runtime
# stage's packages against the libraries the binary links (ldd + dpkg -S),
# the ENTRYPOINT against where the build stage's binary is copied, the
# non-root user, the port, the drain timeout against Docker's stop timeout,
# and the compose file.  Where an engine answers (`docker info`), it also
# builds the image and runs it: -t, /healthz, docker stop, exit code 0.
#
# Usage: scripts/check-docker.sh [build-dir]     (make test-docker)
#
#   DOCKERFILE=path    check another Dockerfile (default: ./Dockerfile)
#   COMPOSE=path       check another compose file (default: ./docker-compose.yml)
#   DOCKER_ENGINE=0    skip the engine part even where `docker info` works
#   IMAGE=name:tag     tag for the engine part (default: openai-dify-proxy:check)
#
# Prints each check; exits 1 if any fails.
set -euf

cd "$(dirname "$0")/.."
build=${1:-build}
prog=openai-dify-proxy
dockerfile=${DOCKERFILE:-Dockerfile}
compose=${COMPOSE:-docker-compose.yml}
image=${IMAGE:-$prog:check}
# What debian:bookworm-slim has already: libc's libraries (libc.so.6,
# ld-linux, libm, ...).  Everything else the binary links must come from a
# package the runtime stage installs.
base_pkgs="libc6"
# Docker's default `docker stop` timeout, seconds.
docker_stop=10

fails=0
ok() { echo "ok:   $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
note() { echo "      $*"; }
skip() { echo "skip: $*"; }

tmp=$(mktemp -d)
container=""
cleanup() {
	[ -n "$container" ] && docker rm -f "$container" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "check-docker: $dockerfile, $compose, $build/$prog"
[ -f "$dockerfile" ] || { bad "no $dockerfile"; exit 1; }

# The Dockerfile as one instruction a line: "stage<TAB>INSTRUCTION<TAB>args",
# comments dropped and continuation lines joined, as Docker reads it.
awk '
/^[ \t]*#/ { next }
/^[ \t]*$/ { next }
{
	line = $0
	if (line ~ /\\[ \t]*$/) {
		sub(/\\[ \t]*$/, "", line)
		cont = cont line " "
		next
	}
	line = cont line
	cont = ""
	sub(/^[ \t]+/, "", line)
	instr = line; sub(/[ \t].*/, "", instr); instr = toupper(instr)
	args = line; sub(/^[^ \t]+[ \t]*/, "", args)
	if (instr == "FROM") stage++
	gsub(/\t/, " ", args)
	if (instr != "HEALTHCHECK" && instr !~ /^(CMD|ENTRYPOINT|SHELL)$/)
		gsub(/ +/, " ", args)
	print stage "\t" instr "\t" args
}' "$dockerfile" >"$tmp/df"

# instr STAGE INSTRUCTION: the arguments of each such instruction
instr() {
	awk -F '\t' -v s="$1" -v i="$2" '$1 == s && $2 == i { print $3 }' "$tmp/df"
}
# apt_pkgs STAGE: the packages the stage's RUN lines apt-get install
apt_pkgs() {
	instr "$1" RUN | tr ';&|' '\n\n\n' | awk '{
		apt = 0
		for (i = 1; i <= NF; i++) {
			if ($i ~ /(^|\/)apt(-get)?$/) apt = 1
			else if (apt && $i == "install") {
				for (j = i + 1; j <= NF; j++)
					if ($j !~ /^-/) { p = $j; sub(/=.*/, "", p); print p }
				break
			}
		}
	}' | sort -u
}
# json_words 'ARGS': the strings of an exec-form ["...", ...] list, a line each
json_words() {
	printf '%s\n' "$1" | grep -o '"[^"]*"' | tr -d '"'
}
has_word() {	# word list...
	w=$1; shift
	for x in "$@"; do [ "$x" = "$w" ] && return 0; done
	return 1
}

last=$(awk -F '\t' '$2 == "FROM" { s = $1 } END { print s + 0 }' "$tmp/df")
if [ "$last" -lt 2 ]; then
	bad "Dockerfile has $last stage(s); expected a build stage and a runtime stage"
	exit 1
fi
ok "Dockerfile has $last stages; the last one ($(instr "$last" FROM)) is the runtime stage"

# The build stage is the one the runtime stage copies the binary from.
copy=$(instr "$last" COPY | grep -e '--from=' | head -1 || true)
from=$(printf '%s\n' "$copy" | sed -n 's/.*--from=\([^ ]*\).*/\1/p')
bstage=$(awk -F '\t' -v n="$from" '$2 == "FROM" {
	k = split($3, w, /[ \t]+/)
	if ((k >= 3 && tolower(w[k - 1]) == "as" && w[k] == n) || $1 - 1 == n) print $1
}' "$tmp/df" | head -1)
if [ -z "$copy" ] || [ -z "$bstage" ]; then
	bad "runtime stage has no COPY --from=<build stage> (got: '${copy:-none}')"
	bstage=1
else
	ok "runtime stage copies from stage $bstage ($from: $(instr "$bstage" FROM))"
fi

for s in "$bstage" "$last"; do
	f=$(instr "$s" FROM | awk '{ print $1 }')
	case "$f" in
	debian:bookworm*) ok "stage $s is Debian 12: $f" ;;
	*) bad "stage $s is $f, not debian:bookworm (the project builds on Debian 12)" ;;
	esac
done

# --- The build stage installs what scripts/deps.sh build wants, so the
# build/.deps-build stamp installs nothing (and never needs sudo).
bpkgs=$(apt_pkgs "$bstage" | tr '\n' ' ')
want=$(sed -n '/^case "\$what"/q; s/^[[:space:]]*need_command [^ ]* \([^ ]*\).*/\1/p;
	s/^[[:space:]]*need_pkgconfig [^ ]* \([^ ]*\).*/pkg-config \1/p' scripts/deps.sh |
	tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' ')
if [ -z "$want" ]; then
	bad "could not read the build list of scripts/deps.sh"
fi
missing=""
for p in $want; do has_word "$p" $bpkgs || missing="$missing $p"; done
if [ -n "$missing" ]; then
	bad "build stage does not install scripts/deps.sh's build packages:$missing"
else
	ok "build stage installs scripts/deps.sh's build list: $want"
fi
# gcc only recommends libc6-dev, so --no-install-recommends needs it named.
if instr "$bstage" RUN | grep -q -e '--no-install-recommends' &&
    ! has_word libc6-dev $bpkgs; then
	bad "build stage uses --no-install-recommends without libc6-dev (no C headers)"
else
	ok "build stage has the C library headers (libc6-dev)"
fi
bwork=$(instr "$bstage" WORKDIR | tail -1)
bwork=${bwork:-/}
target=$(instr "$bstage" RUN | sed -n 's/.*\bmake\b\(.*\)/\1/p' | tail -1 |
	sed 's/&&.*//; s/;.*//' | tr ' ' '\n' | grep -v -e '^-' -e '=' -e '^$' | head -1 || true)
target=${target:-build/$prog}
case "$target" in
/*) built=$target ;;
*) built=${bwork%/}/$target ;;
esac
if instr "$bstage" RUN | grep -q '\bmake\b'; then
	ok "build stage runs make in $bwork: binary at $built"
else
	bad "build stage never runs make"
fi

# --- (b) ENTRYPOINT is the binary the runtime stage's COPY puts in place.
set -- $(printf '%s\n' "$copy" | tr ' ' '\n' | grep -v -e '^--' -e '^$')
csrc=${1:-}; cdst=${2:-}
case "$cdst" in */) cdst=$cdst$(basename "$csrc") ;; esac
if [ "$csrc" = "$built" ]; then
	ok "COPY --from=$from takes $csrc, what make built"
else
	bad "COPY --from=$from takes '$csrc', but the build stage's make builds $built"
fi
rpkgs=$(apt_pkgs "$last" | tr '\n' ' ')
ep=$(instr "$last" ENTRYPOINT | tail -1)
epinit=""
epbin=""
case "$ep" in
\[*)
	set -- $(json_words "$ep")
	case "$(basename "${1:-}")" in
	tini | tini-static | dumb-init)
		epinit=$1
		shift
		while [ $# -gt 0 ] && [ "$1" != -- ] && [ "${1#-}" != "$1" ]; do shift; done
		[ "${1:-}" = -- ] && shift
		;;
	esac
	epbin=${1:-}
	if [ -n "$cdst" ] && [ "$epbin" = "$cdst" ]; then
		ok "(b) ENTRYPOINT runs $epbin (exec form, so SIGTERM reaches it), where COPY puts the binary"
	else
		bad "(b) ENTRYPOINT runs '$epbin', but COPY puts the binary at '$cdst'"
	fi
	case "$epinit" in
	"") note "ENTRYPOINT has no init: the proxy is PID 1 (see the PID 1 check)" ;;
	/usr/bin/tini | /usr/bin/tini-static | /usr/bin/dumb-init)
		ipkg=$(basename "$epinit" | sed 's/-static$//')
		if has_word "$ipkg" $rpkgs; then
			ok "(b) ENTRYPOINT's init $epinit comes from package $ipkg, which the runtime stage installs"
		else
			bad "(b) ENTRYPOINT's init $epinit: the runtime stage does not install $ipkg"
		fi
		;;
	*) bad "(b) ENTRYPOINT's init $epinit is not where Debian's package puts it" ;;
	esac
	;;
"") bad "(b) runtime stage has no ENTRYPOINT" ;;
*) bad "(b) ENTRYPOINT is in shell form ($ep): /bin/sh would be PID 1 and keep SIGTERM from the proxy" ;;
esac

# --- (a) Every library the binary links comes from a runtime package.
note "runtime stage installs: $rpkgs"
bin=$build/$prog
host_release=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}" || true)
sanitized() { ldd "$1" 2>/dev/null | grep -q -E 'lib(a|ub|t|l|hwa)san\.so'; }
if [ -x "$bin" ] && sanitized "$bin"; then
	note "$bin is a sanitizer build; the image builds without: using build/$prog"
	bin=build/$prog
	if [ -x "$bin" ] && sanitized "$bin"; then bin=""; fi
fi
if ! command -v ldd >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
	skip "(a) libraries: no ldd or dpkg on this machine"
elif [ "$host_release" != bookworm ]; then
	skip "(a) libraries: this machine is '${host_release:-unknown}', not Debian 12 (bookworm): its packages are not the image's"
elif [ -z "$bin" ] || [ ! -x "$bin" ]; then
	bad "(a) libraries: no unsanitized binary at $build/$prog or build/$prog (make $build/$prog)"
else
	ldd "$bin" >"$tmp/ldd" 2>&1 || { bad "ldd $bin failed: $(cat "$tmp/ldd")"; }
	if grep -q 'not found' "$tmp/ldd"; then
		bad "ldd $bin: $(grep 'not found' "$tmp/ldd" | tr -s ' \t' ' ')"
	fi
	needed=""
	# "name => /path (addr)" and the loader's own "/path (addr)"; not the vdso.
	for lib in $(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' "$tmp/ldd"); do
		real=$(readlink -f "$lib")
		alt=$(printf '%s\n' "$real" | sed 's|^/usr/lib/|/lib/|')
		pkg=""
		for p in "$lib" "$real" "$alt" "/usr$lib"; do
			pkg=$(dpkg -S "$p" 2>/dev/null | grep -v '^diversion' | head -1 | cut -d: -f1) || true
			[ -n "$pkg" ] && break
		done
		if [ -z "$pkg" ]; then
			bad "(a) $lib ($real): no Debian package owns it (dpkg -S)"
		elif has_word "$pkg" $base_pkgs; then
			ok "(a) $(basename "$lib") <- $pkg (in the base image)"
		elif has_word "$pkg" $rpkgs; then
			ok "(a) $(basename "$lib") <- $pkg (runtime stage installs it)"
			needed="$needed $pkg"
		else
			bad "(a) $(basename "$lib") <- $pkg, which the runtime stage does not install"
			needed="$needed $pkg"
		fi
	done
	for p in $rpkgs; do
		case "$p" in ca-certificates | tini | dumb-init) continue ;; esac
		has_word "$p" $needed || note "runtime package $p provides no library $bin links"
	done
fi
if has_word ca-certificates $rpkgs; then
	ok "runtime stage installs ca-certificates (Dify over https)"
else
	bad "runtime stage does not install ca-certificates: https to Dify cannot verify"
fi
if command -v apt-cache >/dev/null 2>&1 && [ "$host_release" = bookworm ]; then
	for p in $rpkgs; do
		if apt-cache show --no-all-versions "$p" >/dev/null 2>&1; then
			ok "Debian 12 has package $p ($(apt-cache show --no-all-versions "$p" | sed -n 's/^Version: //p'))"
		else
			bad "Debian 12 has no package '$p' (apt-cache show)"
		fi
	done
fi

# --- (f) PID 1: in a container the ENTRYPOINT's first program is PID 1.
# Run the binary the same way in a PID namespace of its own (ENTRYPOINT's
# init first, if any), with a master and two workers: /healthz must answer
# and SIGTERM to PID 1 must drain and exit 0.
pid1_check() {
	pbin=${bin:-$build/$prog}
	[ -x "$pbin" ] || { skip "(f) PID 1: no $pbin"; return; }
	command -v unshare >/dev/null 2>&1 || { skip "(f) PID 1: no unshare"; return; }
	us="unshare --pid --fork --mount-proc"
	if ! $us true 2>/dev/null; then
		us="unshare --user --map-root-user --pid --fork --mount-proc"
		$us true 2>/dev/null || { skip "(f) PID 1: cannot make a PID namespace here"; return; }
	fi
	pre=""
	how="as PID 1 itself (no init in ENTRYPOINT)"
	if [ -n "$epinit" ]; then
		if command -v "$(basename "$epinit")" >/dev/null 2>&1; then
			pre="$(basename "$epinit") --"
			how="under $(basename "$epinit") as PID 1"
		else
			# A stand-in for the init: PID 1 is a shell that runs the
			# proxy as its child and passes SIGTERM on, as tini does.
			cat >"$tmp/init.sh" <<'INIT'
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
"$@" &
child=$!
wait "$child"; rc=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
exit $rc
INIT
			pre="sh $tmp/init.sh"
			how="as the child of PID 1 (a shell standing in for $(basename "$epinit"), not on this machine)"
		fi
	fi
	$us env -i PATH=/usr/bin:/bin HOST=127.0.0.1 PORT=0 ODP_WORKERS=2 \
	    ODP_DRAIN_TIMEOUT=2 LOG_LEVEL=info $pre "$pbin" >"$tmp/pid1.log" 2>&1 &
	upid=$!
	i=0
	pport=""
	while [ $i -lt 50 ] && [ -z "$pport" ] && kill -0 "$upid" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
		pport=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/pid1.log" | head -1)
	done
	answer=""
	if [ -n "$pport" ]; then
		i=0
		while [ $i -lt 30 ]; do
			answer=$(bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$pport"' &&
				printf "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 &&
				cat <&3' 2>/dev/null | head -1 | tr -d '\r') || true
			case "$answer" in *" 200 "*) break ;; esac
			sleep 0.1
			i=$((i + 1))
		done
	fi
	init1=$(cat "/proc/$upid/task/$upid/children" 2>/dev/null | awk '{ print $1 }')
	[ -n "$init1" ] && kill -TERM "$init1" 2>/dev/null
	i=0
	while kill -0 "$upid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$upid" 2>/dev/null; then
		kill -KILL "$upid" 2>/dev/null
		[ -n "$init1" ] && kill -KILL "$init1" 2>/dev/null
	fi
	rc=0
	wait "$upid" || rc=$?
	case "$answer" in
	*" 200 "*)
		if [ "$rc" = 0 ] && grep -q 'info  stopped' "$tmp/pid1.log"; then
			ok "(f) PID 1: $how, 2 workers answer /healthz; SIGTERM drains, exit 0"
		else
			bad "(f) PID 1: $how, /healthz answered but SIGTERM gave exit $rc"
			sed 's/^/      | /' "$tmp/pid1.log" | tail -8
		fi
		;;
	*)
		bad "(f) PID 1: $how, the proxy never answered /healthz (exit $rc)"
		sed 's/^/      | /' "$tmp/pid1.log" | tail -8
		;;
	esac
}
pid1_check

# --- (c) The runtime stage creates its user, and that user is not root.
user=$(instr "$last" USER | tail -1)
u=${user%%:*}
g=""; case "$user" in *:*) g=${user#*:} ;; esac
if [ -z "$user" ]; then
	bad "(c) runtime stage sets no USER: the proxy would run as root"
elif [ "$u" = root ] || [ "$u" = 0 ] || [ "$g" = root ] || [ "$g" = 0 ]; then
	bad "(c) USER $user is root"
else
	created=$(instr "$last" RUN | tr ';&|' '\n\n\n' | awk -v u="$u" '
		$1 ~ /^(useradd|adduser)$/ {
			for (i = 2; i <= NF; i++)
				if ((($i == "-u" || $i == "--uid") && $(i + 1) == u) ||
				    $i == "--uid=" u || (i == NF && $i == u)) { print; exit }
		}')
	if [ -n "$created" ]; then
		ok "(c) USER $user is created in the runtime stage:$created"
	else
		bad "(c) USER $user: no useradd/adduser in the runtime stage creates it"
	fi
	if [ -n "$g" ]; then
		gmade=$(instr "$last" RUN | tr ';&|' '\n\n\n' | awk -v g="$g" '
			$1 ~ /^(groupadd|addgroup|useradd|adduser)$/ {
				for (i = 2; i <= NF; i++)
					if ((($i == "-g" || $i == "--gid") && $(i + 1) == g) ||
					    $i == "--gid=" g || ($1 ~ /group/ && i == NF && $i == g)) { print; exit }
			}')
		if [ -n "$gmade" ]; then ok "(c) group $g is created in the runtime stage"
		else bad "(c) group $g: no groupadd/useradd in the runtime stage creates it"; fi
	fi
fi

# --- (d) EXPOSE, ENV PORT/HOST and the proxy's default port agree.
readme_port=$(sed -n 's/^| `port` | `PORT` | `\([0-9]*\)` |.*/\1/p' README.md)
config_port=$(sed -n 's/^[[:space:]]*"port":[[:space:]]*\([0-9]*\).*/\1/p' config/openai-dify-proxy.json)
src_port=$(sed -n 's/.*c->port = \([0-9]*\);.*/\1/p' src/config.c)
expose=$(echo $(instr "$last" EXPOSE | tr ' ' '\n' | sed 's|/tcp$||'))
envs=$(instr "$last" ENV | tr ' ' '\n' | grep '=' || true)
envval() { printf '%s\n' "$envs" | sed -n "s/^$1=//p" | tail -1 | tr -d '"'; }
env_port=$(envval PORT)
if [ -n "$readme_port" ] && [ "$readme_port" = "$config_port" ] && [ "$readme_port" = "$src_port" ]; then
	ok "(d) default port $readme_port in README.md, config/openai-dify-proxy.json and src/config.c"
else
	bad "(d) default port: README '$readme_port', config '$config_port', src/config.c '$src_port'"
fi
if [ "$expose" = "${env_port:-$src_port}" ] && [ "${env_port:-$src_port}" = "$readme_port" ]; then
	ok "(d) EXPOSE $expose = ENV PORT ${env_port:-unset} = the default port"
else
	bad "(d) EXPOSE '$expose', ENV PORT '${env_port:-unset}', default port '$readme_port' differ"
fi
host=$(envval HOST)
case "${host:-0.0.0.0}" in
0.0.0.0 | "::" | "[::]") ok "(d) listens on ${host:-0.0.0.0 (default)}: reachable from outside the container" ;;
*) bad "(d) ENV HOST=$host: not reachable through a published port" ;;
esac

# Every ODP_<KEY> the image sets is a documented key.
drain=30
delay=0
for kv in $envs; do
	k=${kv%%=*}
	case "$k" in ODP_*) ;; *) continue ;; esac
	key=$(printf '%s\n' "${k#ODP_}" | tr 'A-Z' 'a-z')
	if grep -q "^| \`$key\` | \`$k\`" README.md; then
		ok "ENV $kv: $key is a README configuration key"
	else
		bad "ENV $kv: README.md's table has no key $key with variable $k"
	fi
	[ "$k" = ODP_DRAIN_TIMEOUT ] && drain=${kv#*=}
	[ "$k" = ODP_DRAIN_DELAY ] && delay=${kv#*=}
done
# A stop takes up to drain_delay + drain_timeout (README, Signals).
if [ $((delay + drain)) -lt "$docker_stop" ] 2>/dev/null; then
	ok "drain_delay ${delay}s + drain_timeout ${drain}s < docker stop's default ${docker_stop}s: requests drain before SIGKILL"
else
	bad "drain_delay ${delay}s + drain_timeout ${drain}s is not below docker stop's default ${docker_stop}s: set ODP_DRAIN_TIMEOUT"
fi
stopsig=$(instr "$last" STOPSIGNAL | tail -1)
case "${stopsig:-SIGTERM}" in
SIGTERM | TERM | 15 | SIGINT | INT | 2) ok "STOPSIGNAL ${stopsig:-SIGTERM (default)} drains" ;;
*) bad "STOPSIGNAL $stopsig: the proxy drains on SIGTERM or SIGINT only" ;;
esac
hc=$(instr "$last" HEALTHCHECK | tail -1)
case "$hc" in
*/healthz*)
	ok "HEALTHCHECK asks /healthz"
	for t in curl wget; do
		case "$hc" in
		*"$t"*) has_word "$t" $rpkgs || bad "HEALTHCHECK uses $t, which the runtime stage does not install" ;;
		esac
	done
	;;
*) bad "runtime stage has no HEALTHCHECK on /healthz" ;;
esac

# --- (e) docker-compose.yml: YAML, and the same image and build context.
if [ ! -f "$compose" ]; then
	bad "(e) no $compose"
elif python3 -c 'import yaml' 2>/dev/null; then
	if python3 - "$compose" "$prog" "${expose%% *}" "$drain" "$delay" "$(pwd)" >"$tmp/compose" 2>&1 <<'EOF'
import os, re, sys, yaml
path, prog, port, drain, delay, top = sys.argv[1:7]
bad = []
def ok(m): print("ok:   (e) " + m)
def fail(m): print("FAIL: (e) " + m); bad.append(m)
try:
    doc = yaml.safe_load(open(path))
except yaml.YAMLError as e:
    fail("%s is not YAML: %s" % (path, " ".join(str(e).split())))
    sys.exit(1)
ok("%s parses as YAML" % path)
svcs = (doc or {}).get("services") or {}
proxy = None
for name, s in svcs.items():
    b = (s or {}).get("build")
    if b is not None:
        proxy = (name, s)
        break
if not proxy:
    fail("no service with build:")
    sys.exit(1)
name, s = proxy
b = s["build"]
ctx = b if isinstance(b, str) else b.get("context", ".")
dfile = "Dockerfile" if isinstance(b, str) else b.get("dockerfile", "Dockerfile")
base = os.path.dirname(os.path.abspath(path))
want = os.path.join(top, "Dockerfile")
got = os.path.normpath(os.path.join(base, ctx, dfile))
if os.path.normpath(os.path.join(base, ctx)) == top and got == want:
    ok("service %s builds context %s with %s: this tree's Dockerfile" % (name, ctx, dfile))
else:
    fail("service %s builds %s, not %s" % (name, got, want))
img = str(s.get("image", ""))
if img.split(":")[0].split("/")[-1] == prog:
    ok("service %s is image %s" % (name, img))
else:
    fail("service %s image is '%s', not %s" % (name, img, prog))
ports = [str(p) for p in s.get("ports", [])]
if any(p.split("/")[0].split(":")[-1] == port for p in ports):
    ok("service %s publishes container port %s (%s)" % (name, port, ", ".join(ports)))
else:
    fail("service %s does not publish port %s (%s)" % (name, port, ports))
env = s.get("environment") or {}
if isinstance(env, list):
    env = dict(e.split("=", 1) for e in env if "=" in e)
r = str(env.get("REDIS_URL", ""))
m = re.match(r"redis://(?:[^@/]*@)?([^:/]+)", r)
if m and m.group(1) in svcs:
    ok("REDIS_URL=%s names service %s" % (r, m.group(1)))
else:
    fail("REDIS_URL '%s' does not name a service of the file" % r)
if "DIFY_API_URL" in env and "${DIFY_API_URL" in str(env["DIFY_API_URL"]):
    ok("DIFY_API_URL comes from the environment: %s" % env["DIFY_API_URL"])
else:
    fail("DIFY_API_URL is not taken from the environment")
d = int(str(env.get("ODP_DRAIN_TIMEOUT", drain))) + int(str(env.get("ODP_DRAIN_DELAY", delay)))
g = str(s.get("stop_grace_period", "10s"))
mm = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", g)
secs = int(mm.group(1) or 0) * 60 + int(mm.group(2) or 0) if mm and g else None
if secs is not None and d < secs:
    ok("stop_grace_period %s > drain_delay + drain_timeout %ds" % (g, d))
else:
    fail("stop_grace_period %s is not above drain_delay + drain_timeout %ds" % (g, d))
hc = s.get("healthcheck") or {}
if "/healthz" in str(hc.get("test", "")) and hc.get("disable") is not True:
    ok("service %s has a healthcheck on /healthz" % name)
else:
    fail("service %s has no healthcheck on /healthz" % name)
sys.exit(1 if bad else 0)
EOF
	then
		cat "$tmp/compose"
	else
		cat "$tmp/compose"
		grep -q '^FAIL' "$tmp/compose" || bad "(e) $compose: python3 could not read it"
		fails=$((fails + $(grep -c '^FAIL' "$tmp/compose" || true)))
	fi
else
	# No PyYAML: the little that can be said without a parser.
	if grep -q "$(printf '\t')" "$compose"; then
		bad "(e) $compose has tabs (YAML indents with spaces)"
	elif grep -q '^services:' "$compose" && grep -q '^    build:' "$compose" &&
	    grep -q "image: $prog" "$compose" && grep -q "${expose%% *}" "$compose"; then
		ok "(e) $compose has services:, build:, image: $prog and port ${expose%% *} (no PyYAML: not parsed)"
	else
		bad "(e) $compose lacks services:, build:, image: $prog or port ${expose%% *}"
	fi
fi

if [ "$fails" -gt 0 ]; then
	echo "check-docker: $fails check(s) failed"
	exit 1
fi

# --- With an engine: build the image and run it.
if [ "${DOCKER_ENGINE:-1}" = 0 ]; then
	skip "engine part: DOCKER_ENGINE=0"
	echo "check-docker: all checks passed (image not built)"
	exit 0
fi
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
	skip "engine part: no Docker engine answers 'docker info'; the image was not built"
	echo "check-docker: all checks passed (image not built)"
	exit 0
fi

echo "check-docker: building $image"
if ! docker build -q -t "$image" -f "$dockerfile" . >"$tmp/build" 2>&1; then
	tail -30 "$tmp/build"
	bad "docker build failed"
	exit 1
fi
ok "docker build -t $image"
if out=$(docker run --rm "$image" -t 2>&1); then
	ok "docker run $image -t: $out"
else
	bad "docker run $image -t: $out"
fi
if docker run --rm -e ODP_DRAIN_TIMEOUT=soon "$image" -t >/dev/null 2>&1; then
	bad "docker run -e ODP_DRAIN_TIMEOUT=soon $image -t accepted a bad setting"
else
	ok "docker run -e ODP_DRAIN_TIMEOUT=soon $image -t refuses it"
fi
if out=$(docker run --rm --entrypoint ldd "$image" "$epbin" 2>&1) &&
    ! printf '%s\n' "$out" | grep -q 'not found'; then
	ok "ldd $epbin in the image resolves every library"
else
	bad "ldd $epbin in the image: $out"
fi
container=$(docker run -d --health-interval=1s \
	-p 127.0.0.1::"${expose%% *}" "$image")
i=0
health=""
while [ $i -lt 30 ]; do
	health=$(docker inspect -f '{{.State.Health.Status}}' "$container" 2>/dev/null || true)
	[ "$health" = healthy ] && break
	i=$((i + 1))
	sleep 1
done
if [ "$health" = healthy ]; then
	ok "the container's HEALTHCHECK says healthy"
else
	bad "the container's health is '$health' after 30 s"
	docker logs "$container" 2>&1 | tail -20
fi
hp=$(docker port "$container" "${expose%% *}/tcp" | head -1)
out=$(bash -c 'exec 3<>/dev/tcp/'"${hp%:*}/${hp##*:}"' &&
	printf "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 &&
	cat <&3' 2>&1 | tr -d '\r' || true)
case "$out" in
*" 200 "*'{"status":"ok"}'*) ok "GET http://$hp/healthz from the host: 200 {\"status\":\"ok\"}" ;;
*) bad "GET http://$hp/healthz from the host: $out" ;;
esac
uid=$(docker exec "$container" id -u 2>&1 || true)
case "$u" in
*[!0-9]*) want_uid=$(docker exec "$container" id -u "$u" 2>&1 || true) ;;
*) want_uid=$u ;;
esac
if [ -n "$uid" ] && [ "$uid" != 0 ] && [ "$uid" = "$want_uid" ]; then
	ok "the proxy runs as uid $uid (USER $user)"
else
	bad "the proxy runs as uid '$uid', USER is $user"
fi
docker stop "$container" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$container")
if [ "$code" = 0 ] && docker logs "$container" 2>&1 | grep -q 'stopped'; then
	ok "docker stop: drained and exited 0"
else
	bad "docker stop: exit code $code"
	docker logs "$container" 2>&1 | tail -20
fi

if [ "$fails" -gt 0 ]; then
	echo "check-docker: $fails check(s) failed"
	exit 1
fi
echo "check-docker: all checks passed, image $image built and run"
