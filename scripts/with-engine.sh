#!/usr/bin/env bash
# scripts/with-engine.sh CMD ARGS...: run CMD with the engine REDIS_ENGINE names first on PATH.
#
# REDIS_ENGINE unset or empty: the machine's redis-server (installed by ensure-redis.sh when
# missing). Set (e.g. valkey-9.1, see `scripts/engine.sh list`): scripts/engine.sh fetches it
# once, then CMD runs with its redis-server and redis-cli first on PATH and REDISTEST_SERVER
# pointing at its redis-server. Either way the engine's exact version is printed first.
set -euo pipefail

scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ -n "${REDIS_ENGINE:-}" ]; then
	bin=$("$scripts/engine.sh" "$REDIS_ENGINE")
	export PATH="$bin:$PATH"
	export REDISTEST_SERVER="$bin/redis-server"
else
	"$scripts/ensure-redis.sh"
	echo "engine: $(redis-server --version | sed 's/ sha=.*//') ($(command -v redis-server))" >&2
fi
exec "$@"
