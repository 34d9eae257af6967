#!/usr/bin/env bash
# scripts/engine.sh NAME: make a Redis or Valkey engine runnable without installing it.
#
# Prints the directory holding `redis-server` and `redis-cli` for engine NAME (put it first
# on PATH, or point REDISTEST_SERVER at its redis-server). Progress and the exact version go
# to stderr. `scripts/engine.sh list` prints the names.
#
#   name        Debian suite                    package
#   redis-6.0   bullseye                        redis-server/redis-tools
#   redis-7.0   bookworm (the machine's apt)    redis-server/redis-tools
#   redis-8.0   trixie                          redis-server/redis-tools
#   redis-8.6   experimental (libs from sid)    redis-server/redis-tools
#   valkey-8.1  trixie                          valkey-server/valkey-tools
#   valkey-9.1  sid                             valkey-server/valkey-tools
#
# redis-7.0 is the machine's own redis-server when it is 7.0.x (installed with
# scripts/ensure-redis.sh when missing); every other engine is fetched from Debian's archive
# with a private apt configuration (nothing installed system-wide, the machine's apt state
# untouched): `apt-get download` of the server and tools packages and of the suite's own libc
# and libraries, `dpkg-deb -x` into one root, and wrapper scripts named redis-server and
# redis-cli that exec the binary through that suite's own dynamic loader (newer suites need
# their own libc).
#
# Engines are named by suite and major.minor: sid and experimental move, so the exact version
# is printed and the engine is kept once fetched:
#   - $ENGINE_DIR (default .engines/ in the repository, git-ignored): the extracted engine;
#     a second call does not touch the network.
#   - $ENGINE_CACHE (default /var/cache/terraform-provider-redis when writable, else
#     .engines/cache): apt lists and the downloaded .deb files with, per engine, the list of
#     files it was built from, so a fresh checkout on the same machine (repeated CI runs)
#     rebuilds the engine without the archive.
# ENGINE_MIRROR overrides the Debian mirror (default: the one the machine's apt sources name,
# else http://deb.debian.org/debian). `scripts/engine.sh NAME --refresh` fetches again.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
engines="redis-6.0 redis-7.0 redis-8.0 redis-8.6 valkey-8.1 valkey-9.1"

log() { echo "engine: $*" >&2; }
die() {
	echo "engine: $*" >&2
	exit 1
}

usage() {
	cat >&2 <<EOF
usage: scripts/engine.sh NAME [--refresh]
       scripts/engine.sh list
Prints the directory holding redis-server and redis-cli for engine NAME.
Engines: $engines
EOF
	exit 2
}

[ $# -ge 1 ] || usage
name=$1
refresh=false
[ "${2:-}" = --refresh ] && refresh=true
if [ "$name" = list ]; then
	tr ' ' '\n' <<<"$engines"
	exit 0
fi

# suite: where the server comes from; libsuite: where its libc and libraries come from.
case $name in
redis-6.0) suite=bullseye libsuite=bullseye pkg=redis major=6.0 ;;
redis-7.0) suite=bookworm libsuite=bookworm pkg=redis major=7.0 ;;
redis-8.0) suite=trixie libsuite=trixie pkg=redis major=8.0 ;;
redis-8.6) suite=experimental libsuite=sid pkg=redis major=8.6 ;;
valkey-8.1) suite=trixie libsuite=trixie pkg=valkey major=8.1 ;;
valkey-9.1) suite=sid libsuite=sid pkg=valkey major=9.1 ;;
*) echo "engine: unknown engine \"$name\"" >&2 && usage ;;
esac

engine_dir=${ENGINE_DIR:-$repo/.engines}
dest=$engine_dir/$name
bin=$dest/bin

# check_version DIR: the engine in DIR answers --version with NAME's major.minor; prints it.
check_version() {
	local out v
	out=$("$1/redis-server" --version 2>&1) || die "$1/redis-server --version failed: $out"
	v=$(sed -n 's/.* v=\([0-9][0-9.]*\) .*/\1/p' <<<"$out")
	case $v in
	"$major".*) ;;
	*) die "$name: $1/redis-server is version \"$v\", want $major.x ($out)" ;;
	esac
	"$1/redis-cli" --version >/dev/null 2>&1 || die "$name: $1/redis-cli --version failed"
	echo "$out"
}

done_engine() {
	local v
	v=$(check_version "$bin") || exit 1
	log "$name: ${v%% sha=*} ($bin)"
	echo "$bin"
	exit 0
}

if ! $refresh && [ -x "$bin/redis-server" ] && [ -f "$dest/ok" ]; then
	done_engine
fi

# redis-7.0: the machine's own package when it is 7.0.
if [ "$name" = redis-7.0 ]; then
	"$repo/scripts/ensure-redis.sh"
	sys=$(command -v redis-server)
	if "$sys" --version 2>/dev/null | grep -q ' v=7\.0\.'; then
		rm -rf "$dest"
		mkdir -p "$bin"
		for b in redis-server redis-cli; do
			printf '#!/bin/sh\nexec %q "$@"\n' "$(command -v $b)" >"$bin/$b"
			chmod +x "$bin/$b"
		done
		touch "$dest/ok"
		done_engine
	fi
	log "redis-7.0: the machine's redis-server is not 7.0 ($("$sys" --version)); fetching bookworm's"
fi

command -v apt-get >/dev/null || die "apt-get is needed to fetch $name from Debian's archive"
command -v dpkg-deb >/dev/null || die "dpkg-deb is needed to unpack $name"

if [ -n "${ENGINE_CACHE:-}" ]; then
	cache=$ENGINE_CACHE
elif mkdir -p /var/cache/terraform-provider-redis 2>/dev/null && [ -w /var/cache/terraform-provider-redis ]; then
	cache=/var/cache/terraform-provider-redis
else
	cache=$engine_dir/cache
fi
mkdir -p "$cache/debs" "$cache/manifests"
exec 9>"$cache/.lock"
flock 9 # one fetch at a time per cache

manifest=$cache/manifests/$name

# cached_debs: the manifest's .deb files all exist.
cached_debs() {
	[ -s "$manifest" ] || return 1
	local f
	while read -r f; do
		[ -f "$cache/debs/$f" ] || return 1
	done <"$manifest"
}

mirror() {
	if [ -n "${ENGINE_MIRROR:-}" ]; then
		echo "$ENGINE_MIRROR"
		return
	fi
	local m
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -Eo 'https?://[^ ]*/debian/?( |$)' | grep -v security | head -1 | tr -d ' ')
	echo "${m:-http://deb.debian.org/debian}"
}

fetch() {
	local m suites s state keyring opts
	m=$(mirror)
	state=$cache/apt/$suite
	mkdir -p "$state/lists/partial" "$state/archives/partial"
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	[ -f "$keyring" ] || die "$keyring is missing: apt-get install debian-archive-keyring"
	suites=$suite
	[ "$libsuite" != "$suite" ] && suites="$suite $libsuite"
	: >"$state/sources.list"
	for s in $suites; do
		echo "deb [signed-by=$keyring] $m $s main" >>"$state/sources.list"
	done
	opts=(-o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state" -o Dir::State::status=/dev/null
		-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
		-o Acquire::Languages=none -o APT::Get::List-Cleanup=false
		-o Debug::NoLocking=true)
	[ "$(id -u)" -eq 0 ] && opts+=(-o APT::Sandbox::User=root)
	log "$name: apt-get update ($m $suites)"
	apt-get "${opts[@]}" -qq update >&2 || die "$name: apt-get update of $suites from $m failed"

	local pkgs=("$pkg-server/$suite" "$pkg-tools/$suite")
	local lib
	# The suite's own loader and the libraries the server links (checked below with the
	# loader's --list, so a missing one is named).
	for lib in libc6 libssl3t64 libssl3 libssl1.1 libjemalloc2 liblzf1 libsystemd0 libcap2 \
		libgcrypt20 libgpg-error0 liblz4-1 liblzma5 libzstd1 libatomic1 libstdc++6 libgcc-s1 \
		liblua5.1-0 lua-cjson lua-bitop libhiredis0.14 libhiredis1.1.0 libcrypt1; do
		if apt-cache "${opts[@]}" madison "$lib" 2>/dev/null | grep -q "^ *$lib | .* $libsuite/main "; then
			pkgs+=("$lib/$libsuite")
		fi
	done
	local dl=$state/dl
	rm -rf "$dl" && mkdir -p "$dl"
	log "$name: apt-get download ${pkgs[*]}"
	(cd "$dl" && apt-get "${opts[@]}" -qq download "${pkgs[@]}" >&2) || die "$name: apt-get download failed"
	local f
	: >"$manifest.tmp"
	for f in "$dl"/*.deb; do
		mv "$f" "$cache/debs/"
		basename "$f" >>"$manifest.tmp"
	done
	mv "$manifest.tmp" "$manifest"
}

if $refresh || ! cached_debs; then
	fetch
else
	log "$name: using the cached packages in $cache (manifests/$name)"
fi

rm -rf "$dest"
root=$dest/root
mkdir -p "$root" "$bin"
while read -r f; do
	dpkg-deb -x "$cache/debs/$f" "$root"
done <"$manifest"
cp "$manifest" "$dest/packages"

# The loader: a real file (absolute symlinks in the packages point at the machine's own).
loader=$(find "$root" -type f \( -name 'ld-linux-x86-64.so.2' -o -name 'ld-2.*.so' \) | head -1)
[ -n "$loader" ] || die "$name: no ld-linux-x86-64.so.2 in the unpacked libc6"
libpath=$root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu

# The server: Debian's redis-server/valkey-server is a symlink to the check-rdb binary, which
# picks its mode from argv[0]; the loader passes the path it is given as argv[0], so give it a
# path named like the server (a relative symlink inside the root).
link_binary() { # link_binary WANT NAME: the path to run for NAME
	local p=$root/usr/bin/$2 target
	[ -e "$p" ] || [ -L "$p" ] || die "$name: $2 not found in the packages"
	if [ -L "$p" ]; then
		target=$(readlink "$p")
		case $target in /*) ln -sfn "$root$target" "$p" ;; esac
	fi
	echo "$p"
}
server=$(link_binary server "$pkg-server")
cli=$(link_binary cli "$pkg-cli")

write_wrapper() { # write_wrapper NAME BINARY
	printf '#!/bin/sh\n# %s from Debian %s, run with its own libc (scripts/engine.sh).\nexec %q --library-path %q %q "$@"\n' \
		"$name" "$suite" "$loader" "$libpath" "$2" >"$bin/$1"
	chmod +x "$bin/$1"
}
write_wrapper redis-server "$server"
write_wrapper redis-cli "$cli"

missing=$("$loader" --library-path "$libpath" --list "$(readlink -f "$server")" 2>&1 | grep 'not found' || true)
[ -z "$missing" ] || die "$name: libraries missing from the unpacked packages:
$missing"
touch "$dest/ok"
done_engine
