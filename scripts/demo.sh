#!/usr/bin/env bash
# The terraform-provider-redis demo: six redis-server "hosts" on this machine
# become a 3 x (1 master + 1 replica) Redis Cluster with one `terraform apply`.
#
#   scripts/demo.sh        (make demo)       start six nodes, build the provider, apply
#   scripts/demo.sh down   (make demo-down)  terraform destroy, stop the nodes
#   scripts/demo.sh failover (make demo-failover)  after make demo: kill -9 a
#                          master, watch plan show the failover, apply fail back
#                          (go run ./cmd/demo-failover: the story in Go)
#
# Each node is its own "host": 127.0.0.11 .. 127.0.0.16, port 6379, bound with
# --bind and --bind-source-addr to that address (without bind-source-addr the
# cluster bus never joins across distinct loopback addresses). Linux only: it
# relies on the whole of 127.0.0.0/8 being routed to lo.
#
# Environment:
#   REDIS_PASSWORD  requirepass/masterauth of the nodes and the provider's
#                   password (default "demo-password").
#
# Everything lives under .demo/ in the repository root (git-ignored):
#   .demo/nodes/<ip>/  node dir: redis.conf, nodes.conf, redis.pid, redis.log
#   .demo/bin/         the provider built from this checkout
#   .demo/terraformrc  dev_overrides pointing Terraform at .demo/bin
#   .demo/work/        copy of examples/six-node-cluster, state of the demo
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="$ROOT/.demo"
NODES_DIR="$DEMO/nodes"
BIN_DIR="$DEMO/bin"
WORK="$DEMO/work"
RC_FILE="$DEMO/terraformrc"
EXAMPLE="$ROOT/examples/six-node-cluster"

HOSTS=(127.0.0.11 127.0.0.12 127.0.0.13 127.0.0.14 127.0.0.15 127.0.0.16)
PORT=6379

export REDIS_PASSWORD="${REDIS_PASSWORD:-demo-password}"
# redis-cli reads the password from here, so it never shows up in `ps`.
export REDISCLI_AUTH="$REDIS_PASSWORD"
export TF_CLI_CONFIG_FILE="$RC_FILE"
export TF_INPUT=0

# HCL list of the six node addresses, for -var "nodes=...".
NODES_VAR="[$(printf '"%s:'"$PORT"'",' "${HOSTS[@]}" | sed 's/,$//')]"

say() { printf '\n==> %s\n' "$*"; }
warn() { printf 'demo: %s\n' "$*" >&2; }
die() {
	warn "$*"
	exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

cli() {
	local host="$1"
	shift
	redis-cli -h "$host" -p "$PORT" "$@"
}

# now_ms prints milliseconds since the epoch (GNU date).
now_ms() { date +%s%3N; }

# proc_alive succeeds if process $1 exists and is not a zombie (a daemonized
# node killed with -9 stays a zombie until PID 1 reaps it).
proc_alive() {
	kill -0 "$1" 2>/dev/null || return 1
	if [ -r "/proc/$1/stat" ]; then
		[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != "Z" ] || return 1
	fi
}

# node_pid prints the pid of the demo node on $1 if it is running.
node_pid() {
	local pidfile="$NODES_DIR/$1/redis.pid" pid
	[ -f "$pidfile" ] || return 1
	pid="$(cat "$pidfile" 2>/dev/null || true)"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	proc_alive "$pid" || return 1
	if [ -r "/proc/$pid/comm" ]; then
		grep -q redis "/proc/$pid/comm" || return 1
	fi
	echo "$pid"
}

# stop_nodes stops the six demo nodes, by pidfile; a node still answering on a
# demo address with the demo password (its pidfile lost) gets SHUTDOWN NOSAVE.
# Bounded: 10 s of SIGTERM, then SIGKILL.
stop_nodes() {
	local host pid pids=() i
	for host in "${HOSTS[@]}"; do
		if pid="$(node_pid "$host")"; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		elif [ "$(timeout 1 redis-cli -h "$host" -p "$PORT" ping 2>/dev/null || true)" = "PONG" ]; then
			timeout 2 redis-cli -h "$host" -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
		fi
	done
	[ "${#pids[@]}" -gt 0 ] || return 0
	for ((i = 0; i < 100; i++)); do
		local alive=0
		for pid in "${pids[@]}"; do
			if proc_alive "$pid"; then alive=1; fi
		done
		[ "$alive" -eq 1 ] || break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do
		if proc_alive "$pid"; then
			warn "node pid $pid did not stop within 10s; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	echo "stopped ${#pids[@]} node(s)"
}

# start_node starts an empty cluster-enabled node on $1:6379. The settings go
# through a config file (mode 600) rather than flags so the password is not in
# the process list; they are exactly:
#   redis-server --port 6379 --bind IP --bind-source-addr IP --cluster-enabled yes
#     --cluster-config-file nodes.conf --dir .demo/nodes/IP --requirepass PW
#     --masterauth PW --daemonize yes --pidfile ... --logfile ... --save "" --appendonly no
start_node() {
	local host="$1" dir="$NODES_DIR/$1" pw
	mkdir -p "$dir"
	# Quote for redis.conf: a double-quoted string with \ and " escaped.
	pw="${REDIS_PASSWORD//\\/\\\\}"
	pw="${pw//\"/\\\"}"
	(
		umask 077
		cat >"$dir/redis.conf" <<-EOF
			port $PORT
			bind $host
			bind-source-addr $host
			cluster-enabled yes
			cluster-config-file nodes.conf
			dir $dir
			requirepass "$pw"
			masterauth "$pw"
			daemonize yes
			pidfile $dir/redis.pid
			logfile $dir/redis.log
			save ""
			appendonly no
		EOF
	)
	if ! redis-server "$dir/redis.conf"; then
		tail -n 20 "$dir/redis.log" >&2 2>/dev/null || true
		die "redis-server on $host:$PORT did not start (log: $dir/redis.log)"
	fi
}

# port_taken succeeds if something accepts connections on $1:6379.
port_taken() {
	# shellcheck disable=SC2016 # $1 and $2 expand in the child shell
	timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$PORT" 2>/dev/null
}

# wait_ping waits (at most 10 s) until the node on $1 answers PING.
wait_ping() {
	local host="$1" deadline
	deadline=$(($(now_ms) + 10000))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		if [ "$(timeout 1 redis-cli -h "$host" -p "$PORT" ping 2>/dev/null || true)" = "PONG" ]; then
			return 0
		fi
		sleep 0.1
	done
	warn "last lines of $NODES_DIR/$host/redis.log:"
	tail -n 20 "$NODES_DIR/$host/redis.log" >&2 2>/dev/null || true
	die "$host:$PORT did not answer PING within 10s (make demo-down stops the other nodes)"
}

write_terraformrc() {
	cat >"$RC_FILE" <<-EOF
		# Written by scripts/demo.sh: use the provider built from this checkout.
		provider_installation {
		  dev_overrides {
		    "registry.terraform.io/tfredis/redis" = "$BIN_DIR"
		  }
		  direct {}
		}
	EOF
}

tf() { terraform -chdir="$WORK" "$@"; }

up() {
	have go || die "go not found on PATH (Go is needed to build the provider)"
	have terraform || die "terraform not found on PATH"
	[ -d "$EXAMPLE" ] || die "$EXAMPLE not found"

	say "Checking for redis-server and redis-cli"
	"$ROOT/scripts/ensure-redis.sh"
	local version major
	version="$(redis-server --version | sed -n 's/.* v=\([0-9][0-9.]*\).*/\1/p')"
	major="${version%%.*}"
	echo "redis-server $version"
	if [ -z "$major" ] || [ "$major" -lt 7 ]; then
		die "redis-server ${version:-(unknown version)} is too old for this demo: bind-source-addr needs Redis 7 or later"
	fi

	# Build first: a provider that does not compile leaves no nodes running.
	say "Building the provider: go build -o .demo/bin/terraform-provider-redis ."
	mkdir -p "$BIN_DIR"
	(cd "$ROOT" && go build -o "$BIN_DIR/terraform-provider-redis" .)
	write_terraformrc
	echo "TF_CLI_CONFIG_FILE=$RC_FILE (dev_overrides -> $BIN_DIR; no terraform init needed)"

	say "Stopping nodes left from a previous demo run (if any)"
	stop_nodes
	# Fresh nodes make any previous state meaningless.
	rm -rf "$NODES_DIR" "$WORK"

	say "Starting six empty cluster-enabled nodes: ${HOSTS[*]} (port $PORT)"
	local host
	for host in "${HOSTS[@]}"; do
		if port_taken "$host"; then
			die "$host:$PORT is already in use by a process this demo did not start; stop it and retry"
		fi
	done
	for host in "${HOSTS[@]}"; do
		start_node "$host"
	done
	for host in "${HOSTS[@]}"; do
		wait_ping "$host"
		printf '  %s:%s  answers PING\n' "$host" "$PORT"
	done

	mkdir -p "$WORK"
	cp "$EXAMPLE"/*.tf "$WORK/"

	say "terraform apply -auto-approve -var 'nodes=$NODES_VAR'   (in .demo/work)"
	local start end ms
	start="$(now_ms)"
	tf apply -auto-approve -var "nodes=$NODES_VAR"
	end="$(now_ms)"
	ms=$((end - start))

	say "redis-cli -h ${HOSTS[0]} -p $PORT -a \"\$REDIS_PASSWORD\" --no-auth-warning --cluster check ${HOSTS[0]}:$PORT"
	if ! redis-cli -h "${HOSTS[0]}" -p "$PORT" -a "$REDIS_PASSWORD" --no-auth-warning \
		--cluster check "${HOSTS[0]}:$PORT"; then
		die "redis-cli --cluster check reported errors (see above)"
	fi

	say "terraform output"
	tf output

	say "Done"
	printf 'terraform apply took %d.%03d s (building the cluster and waiting until every node reports cluster_state:ok and agrees on slots and roles).\n' \
		$((ms / 1000)) $((ms % 1000))
	cat <<-EOF

		Try it:
		  export TF_CLI_CONFIG_FILE=$RC_FILE   # and REDIS_PASSWORD (default: demo-password)
		  terraform -chdir=$WORK plan -var 'nodes=$NODES_VAR'
		  redis-cli -c -h ${HOSTS[0]} -p $PORT -a "\$REDIS_PASSWORD" --no-auth-warning cluster nodes

		Tear down:
		  make demo-down
	EOF
}

down() {
	if [ -f "$WORK/terraform.tfstate" ] && [ -x "$BIN_DIR/terraform-provider-redis" ] && have terraform; then
		say "terraform destroy -auto-approve -var 'nodes=$NODES_VAR'   (in .demo/work)"
		if ! tf destroy -auto-approve -var "nodes=$NODES_VAR"; then
			warn "terraform destroy failed (ignored: the nodes are stopped and removed next)"
		fi
	fi
	say "Stopping the demo nodes"
	stop_nodes
	rm -rf "$NODES_DIR" "$WORK" "$DEMO/failover"
	echo "removed .demo/nodes and .demo/work"
}

# scripts/demo.sh failover (make demo-failover): the failover story, in Go
# (cmd/demo-failover, internal/failoverdemo), on the cluster `make demo` built.
failover() {
	have go || die "go not found on PATH"
	cd "$ROOT" && exec go run ./cmd/demo-failover "$@"
}

case "${1:-up}" in
up) up ;;
down) down ;;
failover)
	shift
	failover "$@"
	;;
-h | --help | help)
	sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	;;
*)
	die "unknown command '$1' (use: $0 [up|down|failover])"
	;;
esac
