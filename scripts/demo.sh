#!/usr/bin/env bash
# The terraform-provider-redis demo: six redis-server "hosts" on this machine
# become a 3 x (1 master + 1 replica) Redis Cluster with one `terraform apply`.
#
#   scripts/demo.sh        (make demo)       start six nodes, build the provider, apply
#   scripts/demo.sh down   (make demo-down)  terraform destroy, stop the nodes
#   scripts/demo.sh failover (make demo-failover)  after make demo: kill -9 a
#                          master, watch plan show the failover, apply fail back
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
	echo "removed .demo/nodes, .demo/work and .demo/failover"
}

# ---------------------------------------------------------------------------
# scripts/demo.sh failover (make demo-failover): the walkthrough's failover
# story through the real Terraform CLI, on the cluster `make demo` built.
#
# redis1 (127.0.0.11, master of shard 1) is killed with kill -9. Its replica
# 127.0.0.15 wins the failover election (the demo nodes run the default
# cluster-node-timeout of 15 s, so this takes about 20 s). `terraform plan`
# then shows the drift, once while 127.0.0.11 is dead and once after it came
# back (as a replica of 127.0.0.15, from its nodes.conf); `terraform apply`
# hands mastership back; plan is empty again and every key written before the
# kill is still there. Each expectation is checked; the run exits 1 if any
# failed.
#
# Re-runnable: a run stopped midway (Ctrl-C, a timeout) can leave 127.0.0.11
# down or the roles swapped. The next run starts any stopped demo node with its
# own config and runs `terraform apply` before it begins.

FO_MASTER=127.0.0.11  # redis1, declared master of shard 1
FO_REPLICA=127.0.0.15 # its declared replica
FO_KEYS=1000
FO_PREFIX="demo:failover"
FO_FAILOVER_TIMEOUT_MS=90000 # node timeout (15 s) + election, with room
FO_RESYNC_TIMEOUT_MS=60000   # rejoin + full sync (repl-diskless-sync-delay 5 s)
FO_LOG="$DEMO/failover"      # terraform output of each step

FO_FAILED=()

step() { printf '\n==> (%s) %s\n' "$1" "$2"; }

# check DESCRIPTION CMD...: runs CMD, prints [ok] or [FAILED], and remembers
# failures (the run goes on, so the cluster is put back, and exits 1 at the end).
check() {
	local what="$1"
	shift
	if "$@"; then
		printf '    [ok] %s\n' "$what"
	else
		printf '    [FAILED] %s\n' "$what"
		FO_FAILED+=("$what")
	fi
}

# rcli HOST ARGS...: redis-cli to a demo node, bounded to 5 s.
rcli() {
	local host="$1"
	shift
	timeout 5 redis-cli -h "$host" -p "$PORT" "$@"
}

# repl_field HOST FIELD prints FIELD of INFO replication (empty if unreachable).
repl_field() {
	rcli "$1" info replication 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"
}

# flags_seen_by VIEWER ADDR prints the flags VIEWER's CLUSTER NODES shows for ADDR.
flags_seen_by() {
	rcli "$1" cluster nodes 2>/dev/null | awk -v a="$2@" 'index($2, a) == 1 { print $3 }'
}

pings() { [ "$(timeout 1 redis-cli -h "$1" -p "$PORT" ping 2>/dev/null || true)" = "PONG" ]; }

# plain FILE: terraform/redis-cli output without colour codes.
plain() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }

# tf_run LOG ARGS...: terraform ARGS in .demo/work, output shown and kept in
# LOG; its exit code in TF_RC.
TF_RC=0
tf_run() {
	local log="$1"
	shift
	set +e
	tf "$@" 2>&1 | tee "$log"
	TF_RC=${PIPESTATUS[0]}
	set -e
}

# tf_quiet LOG ARGS...: the same, output only kept in LOG.
tf_quiet() {
	local log="$1"
	shift
	set +e
	tf "$@" >"$log" 2>&1
	TF_RC=$?
	set -e
}

# diag_block LOG TITLE prints the diagnostic box titled TITLE from LOG, plain.
diag_block() {
	plain "$1" | awk -v t="$2" 'index($0, "Warning: " t) || index($0, "Error: " t) { on = 1 } on { print } on && /^╵/ { on = 0 }'
}

# mentions_all TEXT WORD...: TEXT contains every WORD (fixed strings).
mentions_all() {
	local text="$1" w
	shift
	for w in "$@"; do
		[[ "$text" == *"$w"* ]] || return 1
	done
}

# mentions_none TEXT WORD...: TEXT contains none of the WORDs.
mentions_none() {
	local text="$1" w
	shift
	for w in "$@"; do
		[[ "$text" != *"$w"* ]] || return 1
	done
}

# one_line: joins a diagnostic's wrapped lines ("│ " prefixes dropped).
one_line() { sed 's/^│ \{0,1\}//' | tr '\n' ' ' | tr -s ' '; }

# restart_node HOST starts a stopped demo node again with its own redis.conf:
# same dir, same nodes.conf (node ID and its view of the cluster).
restart_node() {
	local host="$1"
	if ! redis-server "$NODES_DIR/$host/redis.conf"; then
		tail -n 20 "$NODES_DIR/$host/redis.log" >&2 2>/dev/null || true
		die "redis-server on $host:$PORT did not start (log: $NODES_DIR/$host/redis.log)"
	fi
	wait_ping "$host"
}

secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# last_election_ms HOST prints when HOST last started or won a failover
# election (ms since the epoch, from its log), 0 if it never did.
last_election_ms() {
	local line
	line="$(grep -h -E 'Starting a failover election|Failover election won' "$NODES_DIR/$1/redis.log" 2>/dev/null | tail -n 1)"
	if [ -z "$line" ]; then
		echo 0
		return
	fi
	date -d "$(awk '{ print $2, $3, $4, $5 }' <<<"$line")" +%s%3N 2>/dev/null || echo 0
}

# wait_election_reset HOST: Redis 7.0 keeps a replica's failover election
# (the time it started, the votes it got, its epoch) after it won and even
# after it was turned back into a replica. If its master fails within
# auth_timeout = max(2 x cluster-node-timeout, 2 s) of that election's start,
# the replica counts the old votes, "wins" at once with its old config epoch,
# and the other nodes ignore it (the dead master keeps its slots; when it
# returns it takes them back and the replica copies whatever the returning
# node loaded). Between auth_timeout and 2 x auth_timeout it starts no
# election at all. The masters also vote for a shard at most once per
# 2 x cluster-node-timeout. So, before killing the replica's master, wait
# until the master's failure will be detected (after cluster-node-timeout)
# later than 2 x auth_timeout after the replica's last election.
wait_election_reset() {
	local host="$1" nt auth last until now
	nt="$(rcli "$host" config get cluster-node-timeout 2>/dev/null | tail -n 1)"
	[[ "$nt" =~ ^[0-9]+$ ]] || nt=15000
	auth=$((2 * nt > 2000 ? 2 * nt : 2000))
	last="$(last_election_ms "$host")"
	[ "$last" -gt 0 ] || return 0
	until=$((last + 2 * auth - nt + 2000))
	now="$(now_ms)"
	[ "$now" -lt "$until" ] || return 0
	echo "    $host:$PORT ran a failover election $(secs $((now - last))) s ago. Redis 7.0 reuses a replica's"
	echo "    election (votes and config epoch) for $((2 * auth / 1000)) s: a failover now would \"win\" with a stale"
	echo "    epoch that the other nodes ignore. Waiting $(secs $((until - now))) s first."
	sleep "$(secs $((until - now)))"
}

# slot0_owner_seen_by HOST prints the address HOST's CLUSTER NODES gives as the
# owner of slot 0.
slot0_owner_seen_by() {
	rcli "$1" cluster nodes 2>/dev/null | awk '{
		for (i = 9; i <= NF; i++) if ($i == "0" || $i ~ /^0-/) { split($2, a, "@"); print a[1] }
	}'
}

# wait_not_serving ADDR waits (bounded) until no live demo node sees the dead
# node ADDR as a master that owns slots any more, i.e. its replica took over.
wait_not_serving() {
	local addr="$1" host deadline serving said=""
	deadline=$(($(now_ms) + FO_FAILOVER_TIMEOUT_MS))
	while true; do
		serving=""
		for host in "${HOSTS[@]}"; do
			[ "$host:$PORT" != "$addr" ] || continue
			if rcli "$host" cluster nodes 2>/dev/null |
				awk -v a="$addr@" 'index($2, a) == 1 && $3 ~ /master/ && NF > 8 { found = 1 } END { exit !found }'; then
				serving="$host"
				break
			fi
		done
		[ -n "$serving" ] || return 0
		if [ "$(now_ms)" -ge "$deadline" ]; then
			warn "$serving still sees $addr as the master of its slots after $((FO_FAILOVER_TIMEOUT_MS / 1000)) s; starting it anyway (it comes back empty)"
			return 0
		fi
		if [ -z "$said" ]; then
			echo "waiting for its replica to take over first ($serving still sees it owning slots): restarted now it would come back empty"
			said=1
		fi
		sleep 0.5
	done
}

# failover_precheck: `make demo` has run and the cluster is as declared;
# repairs what a run stopped midway leaves behind.
failover_precheck() {
	have terraform || die "terraform not found on PATH"
	have redis-cli || die "redis-cli not found on PATH"
	if [ ! -f "$WORK/terraform.tfstate" ] || [ ! -x "$BIN_DIR/terraform-provider-redis" ] || [ ! -f "$RC_FILE" ]; then
		die "the demo is not up (no $WORK/terraform.tfstate or no provider in $BIN_DIR): run make demo first"
	fi
	local host up=0 down=()
	for host in "${HOSTS[@]}"; do
		[ -f "$NODES_DIR/$host/redis.conf" ] || die "no $NODES_DIR/$host/redis.conf: run make demo first"
		if pings "$host"; then
			up=$((up + 1))
		else
			down+=("$host")
		fi
	done
	[ "$up" -gt 0 ] || die "none of the six demo nodes answers: run make demo first"
	for host in "${down[@]}"; do
		if node_pid "$host" >/dev/null || port_taken "$host"; then
			die "$host:$PORT is running but does not answer PING with the demo password; make demo-down, then make demo"
		fi
		echo "$host:$PORT is down (a previous run stopped midway?)"
		# The nodes keep no data on disk: a master restarted before its
		# replica took over comes back empty, and its replica would then
		# copy the empty dataset. Wait for the failover first.
		wait_not_serving "$host:$PORT"
		echo "starting $host:$PORT with its own config"
		restart_node "$host"
	done

	mkdir -p "$FO_LOG"
	tf_quiet "$FO_LOG/0-plan.txt" plan -detailed-exitcode -var "nodes=$NODES_VAR"
	case "$TF_RC" in
	0) echo "terraform plan: no changes; the cluster is as declared" ;;
	2)
		echo "terraform plan shows changes (a previous run stopped midway?); putting the declaration back first:"
		tf_run "$FO_LOG/0-apply.txt" apply -auto-approve -var "nodes=$NODES_VAR"
		[ "$TF_RC" -eq 0 ] || die "terraform apply failed (exit $TF_RC; output above and in $FO_LOG/0-apply.txt)"
		tf_quiet "$FO_LOG/0-plan.txt" plan -detailed-exitcode -var "nodes=$NODES_VAR"
		[ "$TF_RC" -eq 0 ] || die "terraform plan still shows changes after apply (exit $TF_RC; see $FO_LOG/0-plan.txt)"
		;;
	*)
		plain "$FO_LOG/0-plan.txt" | tail -n 30 >&2
		die "terraform plan failed (exit $TF_RC; output above): is the demo up? make demo"
		;;
	esac
	[ "$(repl_field "$FO_MASTER" role)" = "master" ] ||
		die "$FO_MASTER:$PORT is not a master although plan is empty: make demo-down, then make demo"
	[ "$(repl_field "$FO_REPLICA" master_host)" = "$FO_MASTER" ] ||
		die "$FO_REPLICA:$PORT does not replicate $FO_MASTER:$PORT although plan is empty: make demo-down, then make demo"
}

failover() {
	say "Checking that the demo cluster is up and as declared (make demo)"
	failover_precheck

	local token want_sum got_sum ok_count on_master deadline start now last="" cur
	local t_failover t_resync t_apply
	local a_master="$FO_MASTER:$PORT" a_replica="$FO_REPLICA:$PORT"

	wait_election_reset "$FO_REPLICA"

	# (1) Keys -------------------------------------------------------------
	step 1 "Writing $FO_KEYS keys $FO_PREFIX:0..$((FO_KEYS - 1)) through redis-cli -c (cluster mode, follows MOVED)"
	token="$(date +%s%N)"
	ok_count="$(for ((i = 0; i < FO_KEYS; i++)); do printf 'SET %s:%d %s:%d\n' "$FO_PREFIX" "$i" "$token" "$i"; done |
		timeout 60 redis-cli -c -h "${HOSTS[1]}" -p "$PORT" 2>&1 | grep -c '^OK$' || true)"
	want_sum="$(for ((i = 0; i < FO_KEYS; i++)); do printf '%s:%d\n' "$token" "$i"; done | sha256sum | cut -c1-16)"
	on_master="$(rcli "$FO_MASTER" --scan --pattern "$FO_PREFIX:*" | wc -l)"
	echo "    $ok_count of $FO_KEYS SETs answered OK; values $token:<i>, checksum $want_sum"
	echo "    $on_master of them live on shard 1 (master $a_master, slots 0-5460)"
	[ "$ok_count" -eq "$FO_KEYS" ] || die "only $ok_count of $FO_KEYS writes succeeded"
	# Replication is asynchronous: wait until 127.0.0.15 has every write
	# 127.0.0.11 acknowledged, so the kill -9 below cannot lose any.
	local moff roff
	moff="$(repl_field "$FO_MASTER" master_repl_offset)"
	deadline=$(($(now_ms) + 10000))
	while roff="$(repl_field "$FO_REPLICA" slave_repl_offset)"; [ "${roff:-0}" -lt "$moff" ]; do
		[ "$(now_ms)" -lt "$deadline" ] || die "$a_replica did not catch up with $a_master within 10 s (offset ${roff:-?} < $moff)"
		sleep 0.05
	done
	echo "    $a_replica has every write of $a_master (replication offset $roff >= $moff)"

	# (2) kill -9 ------------------------------------------------------------
	local pid
	pid="$(node_pid "$FO_MASTER")" || die "no running redis-server for $a_master (pidfile $NODES_DIR/$FO_MASTER/redis.pid)"
	step 2 "kill -9 $pid   (redis1, $a_master, from $NODES_DIR/$FO_MASTER/redis.pid)"
	kill -9 "$pid"
	start="$(now_ms)"
	deadline=$((start + 10000))
	while proc_alive "$pid"; do
		[ "$(now_ms)" -lt "$deadline" ] || die "pid $pid still running 10 s after kill -9"
		sleep 0.05
	done
	echo "    $a_master is gone ($(secs $(($(now_ms) - start))) s)"

	# (3) Failover -----------------------------------------------------------
	step 3 "Waiting for $a_replica to win the failover (INFO replication role:master)"
	echo "    The others flag $a_master fail? after cluster-node-timeout (15 s), then fail; its replica then runs for election."
	deadline=$((start + FO_FAILOVER_TIMEOUT_MS))
	while true; do
		now="$(now_ms)"
		cur="$a_replica role:$(repl_field "$FO_REPLICA" role); it sees $a_master as $(flags_seen_by "$FO_REPLICA" "$a_master")"
		if [ "$cur" != "$last" ]; then
			printf '    %6ss  %s\n' "$(secs $((now - start)))" "$cur"
			last="$cur"
		fi
		[ "$(repl_field "$FO_REPLICA" role)" = "master" ] && break
		if [ "$now" -ge "$deadline" ]; then
			die "$a_replica was not promoted within $((FO_FAILOVER_TIMEOUT_MS / 1000)) s (run scripts/demo.sh failover again: it restarts $a_master and applies first)"
		fi
		sleep 0.2
	done
	t_failover=$(($(now_ms) - start))
	echo "    $a_replica is master $(secs "$t_failover") s after the kill"
	# The others must accept it as the owner of shard 1's slots (they do not
	# when it won with a stale epoch; see wait_election_reset).
	local host others
	deadline=$(($(now_ms) + 10000))
	while true; do
		others=""
		for host in "${HOSTS[@]}"; do
			[ "$host" != "$FO_MASTER" ] || continue
			[ "$(slot0_owner_seen_by "$host")" = "$a_replica" ] || others="$others $host"
		done
		if [ -z "$others" ] || [ "$(now_ms)" -ge "$deadline" ]; then break; fi
		sleep 0.1
	done
	echo "    The cluster as ${HOSTS[1]} sees it:"
	rcli "${HOSTS[1]}" cluster nodes | awk '{ printf "      %-22s %-22s %s\n", $2, $3, $9 }'
	check "every live node sees $a_replica as the owner of slots 0-5460" [ -z "$others" ]
	if [ -n "$others" ]; then
		die "still seen as not owning slot 0 by:$others (see the lines above). $a_master is left dead; make demo-down, then make demo"
	fi

	# (4) plan, redis1 dead --------------------------------------------------
	step 4 "terraform plan -detailed-exitcode   ($a_master still dead)"
	tf_run "$FO_LOG/4-plan.txt" plan -detailed-exitcode -var "nodes=$NODES_VAR"
	echo
	echo "    terraform plan exit code: $TF_RC (2 = changes)"
	echo "    Key lines:"
	plain "$FO_LOG/4-plan.txt" | grep -E '^\s*~ master\s+= ' | sed 's/^/      /' || true
	diag_block "$FO_LOG/4-plan.txt" "Cluster Node Unreachable" | sed 's/^/      /'
	check "plan exits 2 (changes)" [ "$TF_RC" -eq 2 ]
	check "plan warns that $a_master is unreachable" \
		grep -q "node $a_master: unreachable" <(diag_block "$FO_LOG/4-plan.txt" "Cluster Node Unreachable" | one_line)
	check "the diff hands shard 1 back: master \"$a_replica\" -> \"$a_master\"" \
		grep -Eq "~ master +=  *\"$a_replica\" -> \"$a_master\"" <(plain "$FO_LOG/4-plan.txt")

	# (5) redis1 back ----------------------------------------------------------
	step 5 "Restarting redis1 with its own config: redis-server $NODES_DIR/$FO_MASTER/redis.conf"
	echo "    Its nodes.conf still names it master of 0-5460 at an older config epoch; the others"
	echo "    tell it $a_replica owns them now, so it rejoins as that node's replica and syncs"
	echo "    (full sync after $a_replica's repl-diskless-sync-delay, 5 s by default)."
	restart_node "$FO_MASTER"
	start="$(now_ms)"
	deadline=$((start + FO_RESYNC_TIMEOUT_MS))
	last=""
	while true; do
		now="$(now_ms)"
		cur="$a_master role:$(repl_field "$FO_MASTER" role) master_host:$(repl_field "$FO_MASTER" master_host) master_link_status:$(repl_field "$FO_MASTER" master_link_status)"
		if [ "$cur" != "$last" ]; then
			printf '    %6ss  %s\n' "$(secs $((now - start)))" "$cur"
			last="$cur"
		fi
		[ "$cur" = "$a_master role:slave master_host:$FO_REPLICA master_link_status:up" ] && break
		if [ "$now" -ge "$deadline" ]; then
			die "$a_master did not become an in-sync replica of $a_replica within $((FO_RESYNC_TIMEOUT_MS / 1000)) s (run scripts/demo.sh failover again to put the cluster back)"
		fi
		sleep 0.2
	done
	t_resync=$(($(now_ms) - start))
	echo "    $a_master is a replica of $a_replica, in sync, $(secs "$t_resync") s after the restart"

	# (6) plan, drift --------------------------------------------------------
	step 6 "terraform plan -detailed-exitcode   (every node up; $a_master is a replica)"
	tf_run "$FO_LOG/6-plan.txt" plan -detailed-exitcode -var "nodes=$NODES_VAR"
	echo
	echo "    terraform plan exit code: $TF_RC (2 = changes)"
	echo "    Key lines:"
	plain "$FO_LOG/6-plan.txt" | grep -E '^\s*~ ("[^"]+" = \{|role\s+= )' | sed 's/^/      /' || true
	diag_block "$FO_LOG/6-plan.txt" "Cluster Drifted" | sed 's/^/      /'
	check "plan exits 2 (changes)" [ "$TF_RC" -eq 2 ]
	check "plan warns \"Cluster Drifted\" naming $a_master and $a_replica" \
		mentions_all "$(diag_block "$FO_LOG/6-plan.txt" "Cluster Drifted" | one_line)" "$a_master" "$a_replica"
	# The shards keep their declared shape after a plain failover; the nodes
	# show the hand-back: the declared master's role goes back to master.
	check "the diff hands shard 1 back: $a_master role = \"replica\" -> \"master\"" \
		grep -Eq "~ role +=  *\"replica\" -> \"master\"" <(plain "$FO_LOG/6-plan.txt" | grep -A4 -F "~ \"$a_master\" = {")
	check "no node is reported unreachable" \
		mentions_none "$(plain "$FO_LOG/6-plan.txt")" "Cluster Node Unreachable"

	# (7) apply ----------------------------------------------------------------
	step 7 "terraform apply -auto-approve   (fail back: CLUSTER FAILOVER on $a_master)"
	start="$(now_ms)"
	tf_run "$FO_LOG/7-apply.txt" apply -auto-approve -var "nodes=$NODES_VAR"
	t_apply=$(($(now_ms) - start))
	echo
	echo "    terraform apply exit code: $TF_RC, took $(secs "$t_apply") s"
	check "apply succeeds" [ "$TF_RC" -eq 0 ]

	# (8) plan, clean ------------------------------------------------------------
	step 8 "terraform plan -detailed-exitcode   (after the apply)"
	tf_run "$FO_LOG/8-plan.txt" plan -detailed-exitcode -var "nodes=$NODES_VAR"
	echo
	echo "    terraform plan exit code: $TF_RC (0 = no changes)"
	check "plan exits 0 (no changes)" [ "$TF_RC" -eq 0 ]

	# (9) keys and layout --------------------------------------------------------
	step 9 "Reading the $FO_KEYS keys back through redis-cli -c; redis-cli --cluster check"
	got_sum="$(for ((i = 0; i < FO_KEYS; i++)); do printf 'GET %s:%d\n' "$FO_PREFIX" "$i"; done |
		timeout 60 redis-cli -c -h "${HOSTS[1]}" -p "$PORT" 2>&1 | grep -v '^-> Redirected' | sha256sum | cut -c1-16)"
	local found back
	found="$(for ((i = 0; i < FO_KEYS; i++)); do printf 'EXISTS %s:%d\n' "$FO_PREFIX" "$i"; done |
		timeout 60 redis-cli -c -h "${HOSTS[1]}" -p "$PORT" 2>&1 | grep -c '^1$' || true)"
	back="$(rcli "$FO_MASTER" --scan --pattern "$FO_PREFIX:*" | wc -l)"
	echo "    $found of $FO_KEYS keys exist; checksum of their values $got_sum (written: $want_sum)"
	echo "    $back of them on $a_master again (before the kill: $on_master)"
	check "all $FO_KEYS keys exist" [ "$found" -eq "$FO_KEYS" ]
	check "every value is the one written (checksum)" [ "$got_sum" = "$want_sum" ]
	check "$a_master holds shard 1's $on_master keys again" [ "$back" -eq "$on_master" ]
	echo
	echo "    redis-cli --cluster check $a_master"
	set +e
	redis-cli -h "$FO_MASTER" -p "$PORT" --cluster check "$a_master" >"$FO_LOG/9-check.txt" 2>&1
	local crc=$?
	set -e
	plain "$FO_LOG/9-check.txt" | sed 's/^/      /'
	check "redis-cli --cluster check passes" [ "$crc" -eq 0 ]
	check "$a_master is a master (M:) with slots 0-5460" \
		mentions_all "$(plain "$FO_LOG/9-check.txt" | grep -A1 -E "^M: [0-9a-f]+ $a_master\$" | one_line)" "slots:[0-5460]"
	check "$a_replica is a replica (S:) again" \
		grep -Eq "^S: [0-9a-f]+ $a_replica\$" <(plain "$FO_LOG/9-check.txt")

	say "Summary"
	printf '  failover: %s s from kill -9 to %s role:master (default cluster-node-timeout 15 s)\n' "$(secs "$t_failover")" "$a_replica"
	printf '  rejoin:   %s s from restart to %s an in-sync replica\n' "$(secs "$t_resync")" "$a_master"
	printf '  apply:    %s s for terraform apply to fail back\n' "$(secs "$t_apply")"
	echo "  terraform output of each step: $FO_LOG/"
	if [ "${#FO_FAILED[@]}" -gt 0 ]; then
		warn "${#FO_FAILED[@]} expectation(s) failed:"
		printf '  - %s\n' "${FO_FAILED[@]}" >&2
		exit 1
	fi
	echo "  every expectation met"
}

case "${1:-up}" in
up) up ;;
down) down ;;
failover) failover ;;
-h | --help | help)
	sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	;;
*)
	die "unknown command '$1' (use: $0 [up|down|failover])"
	;;
esac
