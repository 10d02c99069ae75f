#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The kernel-matrix scenarios: real traffic traced by the real tracer, the raw
# output sent back line by line for test_kernel_matrix.py to judge. Nothing is
# asserted here; this script only runs things and reports what happened.
#
# Runs as /init's child inside the qemu guest (a Debian kernel), and on
# the host kernel inside a fresh network namespace (`unshare -n`), with the
# same busybox shell, so both kernels get exactly the same checks.
#
# Environment:
#   TF_BIN   the tracer               (default /bin/tcpflow-trace)
#   TCPGEN   tests/tools/tcpgen       (default /bin/tcpgen)
#   OUT      where report lines go    (default /dev/ttyS1: the guest's 2nd serial port)
#   WORK     scratch directory        (default /tmp/tf)
#   BB       busybox                  (default busybox)
#
# Report lines:  "@@ <scenario> <channel> <payload>"
#   channel  trace   one line of the tracer's stdout (JSON)
#            err     one line of the tracer's stderr
#            gen.X   one line of tcpgen process X's stdout (JSON)
#            rc.X    exit status of process X
#            nft     "<counter> <packets>"
#            http    one line of a /metrics scrape;  httprc: wget's status
#            info    "key=value"
#            cg.X    process X's cgroup v2 group, as its /proc/PID/cgroup showed
#                    it once it had joined the group it runs in (CG_DIR below)
#            verbose one line of `tcpflow-trace --verbose` (only after a failed start)
#   "@@ - done" ends a complete run.
#
# Every wait is bounded: tcpgen has --timeout-ms, the tracer --duration, and
# the loops below give up after a fixed number of tries.

TF_BIN=${TF_BIN:-/bin/tcpflow-trace}
TCPGEN=${TCPGEN:-/bin/tcpgen}
OUT=${OUT:-/dev/ttyS1}
WORK=${WORK:-/tmp/tf}
BB=${BB:-busybox}

mkdir -p "$WORK" || exit 1
if [ -c "$OUT" ]; then
	# A write to a tty fails (EINTR) when a signal is already pending
	# (n_tty_write checks before it copies), and the shell's SIGCHLD from a
	# background tcpgen landed there often enough to lose a report line now
	# and then. The report goes to a file, copied to the tty at exit by cat,
	# which retries interrupted writes.
	REPORT="$WORK/report"
	: > "$REPORT" || exit 1
	exec 3>>"$REPORT" || exit 1
	trap '$BB cat "$REPORT" > "$OUT"' EXIT
else
	exec 3>>"$OUT" || exit 1
fi

ip link set lo up 2>/dev/null	# a fresh namespace (the host run) has lo down
NETNS=$($BB stat -L -c %i /proc/self/ns/net)
TPID=
TNAME=
VERBOSE_SENT=

say() {		# scenario channel payload...
	s=$1 c=$2
	shift 2
	printf '@@ %s %s %s\n' "$s" "$c" "$*" >&3
}

# Send a file's lines on a channel.
send_file() {	# scenario channel file
	[ -f "$3" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		printf '@@ %s %s %s\n' "$1" "$2" "$line" >&3
	done < "$3"
}

# Wait until FILE contains TEXT (fixed string); give up after TRIES*0.1 s or
# when process PID (if given) has exited.
wait_text() {	# file text tries [pid]
	i=0
	while [ "$i" -lt "$3" ]; do
		grep -qF "$2" "$1" 2>/dev/null && return 0
		if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
			grep -qF "$2" "$1" 2>/dev/null
			return $?
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# ---- tracer -----------------------------------------------------------------

# Start the tracer for scenario NAME; returns non-zero (and reports why, with
# libbpf's log) when it does not say it is tracing. With TWIN=1, a second
# tracer (same arguments, its own programs and maps) runs beside it and
# reports as scenario NAME_twin: a witness independent of the first (see the
# drops scenario).
TVIEW=--json		# the view tracer_start asks for; empty: --metrics alone
TWIN=
tracer_start() {	# name args...
	TNAME=$1
	shift
	"$TF_BIN" $TVIEW --netns "$NETNS" --duration 150 "$@" \
		> "$WORK/$TNAME.trace" 2> "$WORK/$TNAME.err" &
	TPID=$!
	if wait_text "$WORK/$TNAME.err" "tcpflow-trace: tracing" 600 "$TPID"; then
		[ -n "$TWIN" ] && twin_start "$@"
		return 0
	fi
	kill -9 "$TPID" 2>/dev/null
	wait "$TPID"
	say "$TNAME" rc.tracer "$?"
	say "$TNAME" info "started=no"
	send_file "$TNAME" err "$WORK/$TNAME.err"
	# libbpf's log says why (verifier, CO-RE relocation, attach)
	"$TF_BIN" --verbose --json --netns "$NETNS" --duration 1 "$@" \
		> /dev/null 2> "$WORK/$TNAME.verbose"
	tail -n 400 "$WORK/$TNAME.verbose" > "$WORK/$TNAME.vtail"
	send_file "$TNAME" verbose "$WORK/$TNAME.vtail"
	TPID=
	return 1
}

TWPID=
twin_start() {		# args...
	"$TF_BIN" $TVIEW --netns "$NETNS" --duration 150 "$@" \
		> "$WORK/${TNAME}_twin.trace" 2> "$WORK/${TNAME}_twin.err" &
	TWPID=$!
	if wait_text "$WORK/${TNAME}_twin.err" "tcpflow-trace: tracing" 600 "$TWPID"; then
		say "${TNAME}_twin" info "started=yes"
	else
		say "${TNAME}_twin" info "started=no"
	fi
}

# Stop the tracer (and its twin) and report what it wrote.
tracer_stop() {
	[ -n "$TPID" ] || return 0
	sleep 0.5		# the last state changes of finished connections
	kill -INT "$TPID" $TWPID
	wait "$TPID"
	say "$TNAME" rc.tracer "$?"
	say "$TNAME" info "started=yes"
	send_file "$TNAME" trace "$WORK/$TNAME.trace"
	send_file "$TNAME" err "$WORK/$TNAME.err"
	if [ -n "$TWPID" ]; then
		wait "$TWPID"
		say "${TNAME}_twin" rc.tracer "$?"
		send_file "${TNAME}_twin" trace "$WORK/${TNAME}_twin.trace"
		send_file "${TNAME}_twin" err "$WORK/${TNAME}_twin.err"
		TWPID=
	fi
	# A degraded start ("note: ...", "feature X off: ..."): libbpf's log
	# says why, once per run
	if [ -z "$VERBOSE_SENT" ] &&
		grep -qE '^tcpflow-trace: (note:|feature [^ ]+ off:)' "$WORK/$TNAME.err"; then
		VERBOSE_SENT=1
		"$TF_BIN" --verbose --json --netns "$NETNS" --duration 1 \
			> /dev/null 2> "$WORK/$TNAME.verbose"
		tail -n 400 "$WORK/$TNAME.verbose" > "$WORK/$TNAME.vtail"
		send_file "$TNAME" verbose "$WORK/$TNAME.vtail"
	fi
	TPID=
}

# ---- cgroup v2 ---------------------------------------------------------------

# "MOUNTPOINT ROOT" of the cgroup2 hierarchy (mountinfo: ID PARENT MAJ:MIN
# ROOT MOUNTPOINT OPTIONS... - cgroup2 SOURCE ...); fails when none is mounted.
cg_mount() {
	while read -r _ _ _ root mnt rest; do
		case "$rest" in
		*" - cgroup2 "*) echo "$mnt $root"; return 0 ;;
		esac
	done < /proc/self/mountinfo
	return 1
}

# The guest boots with none mounted: mount it where the tracer looks for it.
if ! CGM=$(cg_mount); then
	mkdir -p /sys/fs/cgroup
	mount -t cgroup2 none /sys/fs/cgroup 2> "$WORK/cgmount.err"
	CGM=$(cg_mount)
fi
CG_MNT=${CGM% *}
CG_ROOT=${CGM#* }
# this script's group (every tcpgen not moved runs in it): as
# /proc/PID/cgroup shows it, and its directory under the mount
CG_OWN=$(sed -n 's/^0:://p' /proc/$$/cgroup)
CG_OWN_DIR=$CG_MNT${CG_OWN#"${CG_ROOT%/}"}
CG_DIR=		# when set: server() and client() start tcpgen in this group

# cg-exec DIR NOTE CMD...: join the group DIR, write the group as this
# process's /proc/PID/cgroup shows it to NOTE, become CMD (the same pid: $!
# and --pid still name it).
cat > "$WORK/cg-exec" <<'EOF'
d=$1 n=$2
shift 2
echo $$ > "$d/cgroup.procs" || exit 125
sed -n 's/^0:://p' /proc/$$/cgroup > "$n"
exec "$@"
EOF

# The prefix that starts tcpgen (label l of scenario s) in $CG_DIR, if set.
in_cg() {	# scenario label
	[ -n "$CG_DIR" ] && echo "$BB sh $WORK/cg-exec $CG_DIR $WORK/$1.$2.cg"
}

# ---- traffic ----------------------------------------------------------------

# Start a tcpgen server in the background; SRV_PID is its pid.
server() {	# scenario label addr port args...
	s=$1 l=$2 a=$3 p=$4
	shift 4
	$(in_cg "$s" "$l") "$TCPGEN" server --listen "$a" --port "$p" --timeout-ms 20000 "$@" \
		> "$WORK/$s.$l" 2> "$WORK/$s.$l.err" &
	SRV_PID=$!
	eval "PID_$l=$SRV_PID"
	wait_text "$WORK/$s.$l" '"event":"listening"' 100 "$SRV_PID" ||
		say "$s" info "$l=not-listening"
}

# Run a tcpgen client to the end (foreground).
client() {	# scenario label addr port args...
	s=$1 l=$2 a=$3 p=$4
	shift 4
	$(in_cg "$s" "$l") "$TCPGEN" client --connect "$a" --port "$p" --timeout-ms 20000 "$@" \
		> "$WORK/$s.$l" 2> "$WORK/$s.$l.err"
	say "$s" "rc.$l" "$?"
}

# Wait for a background process and report its status.
reap() {	# scenario label pid
	wait "$3"
	say "$1" "rc.$2" "$?"
}

send_gen() {	# scenario label...
	s=$1
	shift
	for l in "$@"; do
		send_file "$s" "gen.$l" "$WORK/$s.$l"
		send_file "$s" "generr.$l" "$WORK/$s.$l.err"
		send_file "$s" "cg.$l" "$WORK/$s.$l.cg"
	done
}

# One client/server exchange: server in the background, client to the end.
exchange() {	# scenario addr port "server args" "client args"
	server "$1" srv "$2" "$3" $4
	client "$1" cli "$2" "$3" $5
	reap "$1" srv "$SRV_PID"
	send_gen "$1" srv cli
}

# ---- the scenarios ----------------------------------------------------------

say - info "kernel=$(uname -r)"
say - info "netns=$NETNS"
say - info "btf=$([ -r /sys/kernel/btf/vmlinux ] && echo yes || echo no)"
say - info "version=$("$TF_BIN" --version 2>&1 | head -n 1)"
say - info "cgroup_mnt=$CG_MNT"
send_file - cgmount "$WORK/cgmount.err"
say - info "cgroup_own=$CG_OWN"
say - info "cgroup_own_id=$($BB stat -c %i "$CG_OWN_DIR")"

# 1. Lifecycles under one tracer with no filter but the namespace:
#    client-first and server-first close (the closer sends data first), a
#    refused connect, an SO_LINGER 0 reset, IPv6, a listener bound to 0.0.0.0.
#    Each on its own port; the servers listen after the tracer started (owner
#    learnt at listen()).
if tracer_start base; then
	exchange client_first 127.0.0.1 5001 "--close after-peer" "--close first --hold-ms 20 --send 3000"
	exchange server_first 127.0.0.1 5002 "--close first --hold-ms 20 --send 2000" "--close after-peer"
	client refused cli 127.0.0.1 5003 --close first
	send_gen refused cli
	exchange reset 127.0.0.1 5004 "--close after-peer" "--close linger0 --hold-ms 20"
	exchange ipv6 ::1 5005 "--close after-peer" "--close first --hold-ms 20"
	# a wildcard listener: the child's local address is the one connected to
	server wildcard srv 0.0.0.0 5016 --close after-peer
	client wildcard cli 127.0.0.1 5016 --close first --hold-ms 20
	reap wildcard srv "$SRV_PID"
	send_gen wildcard srv cli
	tracer_stop
fi

# 2. --port: traffic on two ports, the tracer asked for one.
if tracer_start port_filter --port 5006; then
	exchange port_filter 127.0.0.1 5006 "--close after-peer" "--close first"
	server port_filter other 127.0.0.1 5007 --close after-peer
	client port_filter ocli 127.0.0.1 5007 --close first
	reap port_filter other "$SRV_PID"
	send_gen port_filter other ocli
	tracer_stop
fi

# 3. --pid: two servers that were listening BEFORE the tracer started (their
#    owners come from the task_file iterator), and a client whose pid is known
#    before it connects (it waits on a fifo). --pid A --pid C: A's accepted
#    connections and C's own; nothing of server B or client D.
S=pid_filter
server $S srva 127.0.0.1 5008 --count 2 --close after-peer
server $S srvb 127.0.0.1 5009 --count 2 --close after-peer
rm -f "$WORK/go"
mkfifo "$WORK/go"
"$TCPGEN" client --connect 127.0.0.1 --port 5009 --count 2 --close first \
	--timeout-ms 20000 --wait-stdin < "$WORK/go" > "$WORK/$S.clic" 2> "$WORK/$S.clic.err" &
PID_clic=$!
exec 4<>"$WORK/go"	# read-write: opening a fifo this way never blocks
wait_text "$WORK/$S.clic" '"event":"ready"' 100 "$PID_clic"
say $S info "pid_a=$PID_srva"
say $S info "pid_b=$PID_srvb"
say $S info "pid_c=$PID_clic"
if tracer_start $S --pid "$PID_srva" --pid "$PID_clic"; then
	echo go >&4
	client $S clid 127.0.0.1 5008 --count 2 --close first
	reap $S clic "$PID_clic"
	reap $S srva "$PID_srva"
	reap $S srvb "$PID_srvb"
	tracer_stop
else
	echo go >&4
	kill "$PID_srva" "$PID_srvb" "$PID_clic" 2>/dev/null
	wait
fi
exec 4>&-
send_gen $S srva srvb clic clid

# 4. Losses made by nftables (drop the first k matching packets, inet input):
#    two dropped SYNs (5010), the active closer's first FIN (5011), the
#    passive closer's first FIN (5012), the first SYN and the first SYN-ACK
#    (5015: the server's SYN-ACK timer fires once, 1 s before the client's
#    next SYN). Classic SYN backoff where the kernel has the knob
#    (tcp_syn_linear_timeouts, Linux 6.5), so every kernel retransmits SYNs
#    at 1 s, 3 s.
#    Two rounds one after the other (drops, drops_r2), each with a twin
#    tracer: now and then the kernel's tracepoints reach no BPF program for
#    a softirq's worth of events, uncounted (docs/KERNEL.md); the twin, which
#    then misses the very same events, tells that loss from ours.
if [ -e /proc/sys/net/ipv4/tcp_syn_linear_timeouts ]; then
	sysctl -qw net.ipv4.tcp_syn_linear_timeouts=0
	say drops info "syn_linear_timeouts=$(cat /proc/sys/net/ipv4/tcp_syn_linear_timeouts)"
else
	say drops info "syn_linear_timeouts=absent"
fi
cat > "$WORK/drops.nft" <<'EOF'
table inet tfk {
	counter seen_syn { }
	counter drop_syn { }
	counter seen_cfin { }
	counter drop_cfin { }
	counter seen_sfin { }
	counter drop_sfin { }
	counter seen_syn1 { }
	counter drop_syn1 { }
	counter seen_synack { }
	counter drop_synack { }
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 5010 tcp flags & (syn|ack) == syn counter name "seen_syn"
		tcp dport 5010 tcp flags & (syn|ack) == syn numgen inc mod 1000000 < 2 counter name "drop_syn" drop
		tcp dport 5011 tcp flags & fin == fin counter name "seen_cfin"
		tcp dport 5011 tcp flags & fin == fin numgen inc mod 1000000 < 1 counter name "drop_cfin" drop
		tcp sport 5012 tcp flags & fin == fin counter name "seen_sfin"
		tcp sport 5012 tcp flags & fin == fin numgen inc mod 1000000 < 1 counter name "drop_sfin" drop
		tcp dport 5015 tcp flags & (syn|ack) == syn counter name "seen_syn1"
		tcp dport 5015 tcp flags & (syn|ack) == syn numgen inc mod 1000000 < 1 counter name "drop_syn1" drop
		tcp sport 5015 tcp flags & (syn|ack) == syn|ack counter name "seen_synack"
		tcp sport 5015 tcp flags & (syn|ack) == syn|ack numgen inc mod 1000000 < 1 counter name "drop_synack" drop
	}
}
EOF
drops_round() {		# suffix of the round's names ("" or _r2)
	R=$1
	S=drops$R
	if nft -f "$WORK/drops.nft" > "$WORK/nft.out" 2>&1; then
		say $S info "nft=yes"
	else
		say $S info "nft=no"
		send_file $S nfterr "$WORK/nft.out"
	fi
	TWIN=1
	if tracer_start $S --port 5010 --port 5011 --port 5012 --port 5015; then
		# concurrently: the SYN case alone takes ~3 s
		(exchange syn_drop$R 127.0.0.1 5010 "--close after-peer" "--close first") &
		P1=$!
		(exchange fin_drop_active$R 127.0.0.1 5011 "--close after-peer" "--close first --hold-ms 20") &
		P2=$!
		(exchange fin_drop_passive$R 127.0.0.1 5012 "--close after-peer --hold-ms 100" "--close first --hold-ms 20") &
		P3=$!
		(exchange synack_drop$R 127.0.0.1 5015 "--close after-peer" "--close first") &
		P4=$!
		wait $P1 $P2 $P3 $P4
		tracer_stop
	fi
	TWIN=
	for c in seen_syn drop_syn seen_cfin drop_cfin seen_sfin drop_sfin seen_syn1 drop_syn1 \
		seen_synack drop_synack; do
		n=$(nft list counter inet tfk $c 2>/dev/null | sed -n 's/.*packets \([0-9]*\).*/\1/p')
		say $S nft "$c ${n:-missing}"
	done
	nft delete table inet tfk 2>/dev/null
}
drops_round ""
drops_round _r2

# 5. --metrics scraped from inside: 3 orderly connections on 5013 and one
#    refused connect to 5014, then GET /metrics (and a 404 for another path).
S=metrics
MPORT=9464
if tracer_start $S --port 5013 --port 5014 --metrics 127.0.0.1:$MPORT; then
	exchange metrics 127.0.0.1 5013 "--count 3 --close after-peer" "--count 3 --close first"
	client $S refcli 127.0.0.1 5014 --close first
	send_gen $S refcli
	sleep 1.5		# the tracer folds finished connections into metrics as they arrive
	# (busybox 1.35's wget -T crashes here: bound it with timeout instead)
	$BB timeout 10 $BB wget -q -O "$WORK/metrics.txt" "http://127.0.0.1:$MPORT/metrics"
	say $S httprc "$?"
	send_file $S http "$WORK/metrics.txt"
	$BB timeout 10 $BB wget -q -O /dev/null "http://127.0.0.1:$MPORT/no-such-page" 2> "$WORK/404.err"
	say $S httprc404 "$?"
	send_file $S http404 "$WORK/404.err"
	tracer_stop
fi

# 5b. --metrics alone: where the kernel allows (5.12+), finished connections
#    are folded into the metrics in the kernel and no record crosses; the
#    same exchange as 5 on other ports, scraped the same way.
S=kmetrics
TVIEW=
if tracer_start $S --port 5016 --port 5017 --metrics 127.0.0.1:9465; then
	exchange kmetrics 127.0.0.1 5016 "--count 3 --close after-peer" "--count 3 --close first"
	client $S refcli 127.0.0.1 5017 --close first
	send_gen $S refcli
	sleep 1.5
	$BB timeout 10 $BB wget -q -O "$WORK/kmetrics.txt" "http://127.0.0.1:9465/metrics"
	say $S httprc "$?"
	send_file $S http "$WORK/kmetrics.txt"
	tracer_stop
fi
TVIEW=--json

# 5c. --metrics alone without --port: on_state_km then learns the listening
#    ports, code the verifier checks only in this configuration. Start-up only.
S=kmlearn
"$TF_BIN" --netns "$NETNS" --duration 1 --metrics 127.0.0.1:9466 > /dev/null 2> "$WORK/$S.err"
say $S rc.tracer "$?"
send_file $S err "$WORK/$S.err"

# 6. The socket's cgroup and --cgroup: a group G and its child G/in. A
#    server in G/in (its accepted connection has the listener's group) takes
#    a client from outside; a client in G/in connects to a server outside
#    (and shuts its side down: not orphaned, it counts the server's FIN).
#    --cgroup G, as /proc/PID/cgroup shows it: the two sockets made in G/in
#    (below G), none of their peers'.
S=cgroup
G=tfk-$$
GP=${CG_ROOT%/}/$G
if [ -n "$CG_MNT" ] && mkdir -p "$CG_MNT/$G/in"; then
	say $S info "group=$GP"
	say $S info "group_in_id=$($BB stat -c %i "$CG_MNT/$G/in")"
	if tracer_start $S --cgroup "$GP"; then
		CG_DIR=$CG_MNT/$G/in
		server $S srv 127.0.0.1 5017 --close after-peer
		CG_DIR=
		client $S cli 127.0.0.1 5017 --close first --send 1000
		reap $S srv "$SRV_PID"
		server $S osrv 127.0.0.1 5018 --close after-peer
		CG_DIR=$CG_MNT/$G/in
		client $S icli 127.0.0.1 5018 --close shutdown-wr --send 1000
		CG_DIR=
		reap $S osrv "$SRV_PID"
		tracer_stop
	fi
	send_gen $S srv cli osrv icli
	i=0	# a group is removable once its last task is released
	while [ -d "$CG_MNT/$G" ] && [ "$i" -lt 20 ]; do
		rmdir "$CG_MNT/$G/in" "$CG_MNT/$G" 2>/dev/null || sleep 0.1
		i=$((i + 1))
	done
else
	say $S info "group=none"
fi

say - done ok
exit 0
