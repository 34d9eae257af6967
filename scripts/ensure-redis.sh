#!/usr/bin/env bash
# Make sure redis-server and redis-cli are on PATH.
#
# Tests, benchmarks and the demo start real redis-server processes. When either
# binary is missing this installs Debian/Ubuntu's redis-server and redis-tools
# with apt-get (through sudo when not root). Quiet and idempotent when both are
# already installed.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have redis-server && have redis-cli; then
	exit 0
fi

missing=()
have redis-server || missing+=(redis-server)
have redis-cli || missing+=(redis-cli)

fail() {
	echo "ensure-redis: $*" >&2
	echo "ensure-redis: install Redis (>= 7 recommended) so that redis-server and redis-cli are on PATH, then retry." >&2
	exit 1
}

if ! have apt-get; then
	fail "${missing[*]} not found on PATH and apt-get is not available to install it."
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if have sudo; then
		sudo=(sudo)
	else
		fail "${missing[*]} not found on PATH; installing it needs root, and you are not root and sudo is not installed."
	fi
fi

echo "ensure-redis: ${missing[*]} not found; installing redis-server and redis-tools with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
if ! ${sudo[@]+"${sudo[@]}"} apt-get update -qq; then
	fail "apt-get update failed."
fi
# -o Dpkg::Options: keep existing config files if the package was installed before.
if ! ${sudo[@]+"${sudo[@]}"} apt-get install -y -qq --no-install-recommends \
	-o Dpkg::Options::=--force-confold redis-server redis-tools >/dev/null; then
	fail "apt-get install redis-server redis-tools failed."
fi
hash -r
if ! have redis-server || ! have redis-cli; then
	fail "apt-get installed redis-server and redis-tools, but redis-server or redis-cli is still not on PATH."
fi
echo "ensure-redis: installed $(redis-server --version | awk '{print $3}')" >&2
