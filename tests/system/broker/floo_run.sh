#!/usr/bin/env bash
# The broker on Floo (hallows-broker-floo) driven by kcat and librdkafka
# across a TAP device inside a private network namespace:
#
#   kcat, rdk_client (netns, 198.18.0.1 on tapX) <== TAP ==> Floo + broker (198.18.0.2:9092)
#
# Then the same broker in the appliance loop (--appliance: broker_appl.c,
# the store on blkdev). Usage: floo_run.sh BROKER_BIN TOOLS_DIR TAP_OUT.
# Everything created here (namespace, TAP, data files) is removed by the
# EXIT trap.
set -u
broker=$1
tools=$2
out=$3
ns="bfl$$"
tap="bftap$$"
tap=${tap:0:15}
work=$(mktemp -d /tmp/brokerfl.XXXXXX)
addr=198.18.0.2
bk="$addr:9092"
pid=
: > "$out"

tap_line() { echo "$1" >> "$out"; echo "$1"; }
ok() { tap_line "ok - brokerfl-floo: $1"; }
notok() { tap_line "not ok - brokerfl-floo: $1"; }
check() { # check NAME CMD... (seconds taken on stdout)
	local name=$1; shift
	local t0=$SECONDS
	if "$@" > "$work/last" 2>&1; then ok "$name"; else notok "$name"; sed "s/^/#   /" "$work/last" | tail -8; fi
	echo "# $((SECONDS - t0)) s"
}

in_ns() { ip netns exec "$ns" "$@"; }

stop_broker() { # exit status of the broker (sanitizers report through it)
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	local rc=0
	wait "$pid" || rc=$?
	pid=
	return $rc
}

cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	[ -n "${BFL_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

start_broker() { # extra args
	# not through in_ns: a function sent to the background is a subshell,
	# and $! must be the broker for kill and wait
	ip netns exec "$ns" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$broker" --tap "$tap" \
		--addr "$addr/24" --data "$work/${data:-data.img}" --size $((256 << 20)) \
		--group-delay-ms 300 --partitions 3 "$@" >> "$work/broker.out" 2>> "$work/broker.log" &
	pid=$!
	for _ in $(seq 100); do
		grep -q "listening on" "$work/broker.out" 2>/dev/null &&
			in_ns ping -c1 -W1 "$addr" > /dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

kc() { in_ns timeout 60 kcat -b "$bk" "$@"; }

if ! ip netns add "$ns" 2> "$work/err"; then
	tap_line "ok - brokerfl-floo: all # SKIP cannot create network namespaces ($(head -1 "$work/err"))"
	exit 0
fi
if ! in_ns ip tuntap add dev "$tap" mode tap 2> "$work/err"; then
	tap_line "ok - brokerfl-floo: all # SKIP cannot create a TAP device ($(head -1 "$work/err"))"
	exit 0
fi
in_ns ip link set lo up
in_ns ip addr add 198.18.0.1/24 dev "$tap"
in_ns ip link set "$tap" up

# 2 MiB of input per connection (kcat's 1 MB requests fit; a pipelining
# client overflows it: backpressure)
if ! start_broker --max-input $((2 << 20)); then
	notok "broker on Floo starts and answers ping"
	cat "$work/broker.log"
	exit 0
fi
ok "broker on Floo starts and answers ping"

t_list() {
	printf 'x\n' | kc -P -t listme || return 1
	kc -L | tee /dev/stderr | grep -q "broker 1 at $bk" && kc -L | grep -q 'topic "listme"'
}

# 3000 keyed records into 3 partitions, every one back in order per key.
t_roundtrip() {
	seq 1 3000 | sed 's/^/k&:value-&/' > "$work/rt.in"
	kc -P -t rt -K : < "$work/rt.in" || return 1
	kc -C -t rt -o beginning -e -q -K : -f '%k:%s\n' | sort > "$work/rt.out"
	sort "$work/rt.in" | cmp - "$work/rt.out"
}

t_acks_codecs() { # every acks setting with every codec
	local n=0 a z
	: > "$work/ac.in"
	for a in 0 1 -1; do
		for z in none gzip snappy lz4 zstd; do
			seq 1 200 | sed "s/^/acks$a-$z-/" > "$work/one"
			cat "$work/one" >> "$work/ac.in"
			kc -P -t ac -p 0 -z "$z" -X "request.required.acks=$a" < "$work/one" || return 1
			n=$((n + 200))
		done
	done
	kc -C -t ac -p 0 -o beginning -e -q > "$work/ac.out"
	# acks=0 gives no delivery guarantee, but on a clean link every record arrives
	[ "$(wc -l < "$work/ac.out")" = "$n" ] && sort "$work/ac.in" | cmp - <(sort "$work/ac.out")
}

# 8 MB of 4 KiB records: responses of many references, more than Floo's
# reference slots, sent while the client's window fills and drains.
t_big_fetch() {
	[ -s "$work/big.in" ] || python3 -c "
import random, sys
r = random.Random(7)
for i in range(2000):
    sys.stdout.write('%05d-' % i + ''.join(r.choice('abcdefghij') for _ in range(4000)) + '\n')
" > "$work/big.in"
	kc -P -t big -p 0 < "$work/big.in" || return 1
	kc -C -t big -p 0 -o beginning -e -q -X fetch.message.max.bytes=4000000 > "$work/big.out"
	cmp "$work/big.in" "$work/big.out"
}

t_group() { # a consumer group commits its offsets: a second run sees only new records
	seq 1 50 | sed 's/^/g/' | kc -P -t grp || return 1
	local first second
	first=$(kc -G fgrp -o beginning -e -q grp | wc -l)
	seq 51 60 | sed 's/^/g/' | kc -P -t grp || return 1
	# earliest only where the group committed nothing (kcat's sticky
	# partitioner may have left a partition empty); -o would override
	# the committed offsets
	second=$(kc -G fgrp -X auto.offset.reset=earliest -e -q grp | sort -V | tr '\n' ' ')
	echo "first $first second $second"
	[ "$first" = 50 ] && [ "$second" = "g51 g52 g53 g54 g55 g56 g57 g58 g59 g60 " ]
}

t_librdkafka() { # the librdkafka test program, acks=all and zstd
	in_ns timeout 60 "$tools/rdk_client" produce "$bk" rdk 500 300 -1 zstd r > "$work/rdk.p" || return 1
	grep -q "delivered 500 failed 0" "$work/rdk.p" || { cat "$work/rdk.p"; return 1; }
	[ "$(in_ns timeout 60 "$tools/rdk_client" consume "$bk" rdk 30 | grep -c '^r-')" = 500 ]
}

t_garbage() { # malformed frames are refused and the broker keeps serving
	in_ns python3 - "$addr" <<'EOF' || return 1
import socket, struct, sys
for payload in [b"\xff\xff\xff\xff" + b"x" * 64, struct.pack(">i", 12) + b"\x00\x12\x00\x63" + b"\x00" * 8,
                struct.pack(">i", 100) + b"short", b"GET / HTTP/1.1\r\n\r\n"]:
    s = socket.create_connection((sys.argv[1], 9092), timeout=1)
    s.sendall(payload)
    try:
        s.recv(100)
    except OSError:
        pass
    s.close()
EOF
	kc -L > /dev/null && kc -C -t rt -o beginning -c 5 -e -q | grep -q value
}

t_many_conns() { # 50 clients at once, each listing metadata
	local i pids=()
	for i in $(seq 50); do kc -L > "$work/many.$i" 2>&1 & pids+=($!); done
	wait "${pids[@]}"
	for i in $(seq 50); do grep -q "broker 1 at $bk" "$work/many.$i" || return 1; done
}

check "kcat -L lists the broker and topics (Metadata)" t_list
check "kcat produce 3000 keyed records, consume all back (-P, -C)" t_roundtrip
check "kcat acks 0, 1, all x codecs none, gzip, snappy, lz4, zstd" t_acks_codecs
check "kcat 8 MB fetch of 4 KiB records, byte-identical" t_big_fetch
check "kcat consumer group (-G) commits and resumes" t_group
check "librdkafka produce acks=all zstd and consume" t_librdkafka
check "malformed frames refused, broker still serves" t_garbage
check "50 concurrent clients" t_many_conns
check "produce requests split at every byte boundary, a corrupted batch refused (gathered decode)" \
	in_ns timeout 120 python3 "$(dirname "$0")/split_produce.py" "$addr"
check "20000 pipelined requests while not reading: all answered in order (backpressure)" \
	in_ns timeout 60 python3 "$(dirname "$0")/pipeline.py" "$addr" 20000

# Stop: clean exit (ASan/UBSan/LeakSanitizer), every packet buffer back,
# responses sent by reference.
if stop_broker; then ok "broker exits cleanly on SIGTERM (sanitizers quiet)"; else
	notok "broker exits cleanly on SIGTERM (sanitizers quiet)"; tail -20 "$work/broker.log" | sed 's/^/#   /'; fi
stats=$(grep 'tx .* bytes by reference' "$work/broker.log" | tail -1)
echo "# $stats" | tee -a "$out"
pb=$(grep -o 'free pbufs [0-9]* of [0-9]*' "$work/broker.log" | tail -1)
set -- $pb
if [ -n "$pb" ] && [ "$3" = "$5" ]; then ok "no packet buffer leaked"; else notok "no packet buffer leaked ($pb)"; fi
held=$(echo "$stats" | sed -n 's/.*held pbufs \([0-9]*\).*/\1/p')
if [ -n "$held" ] && [ "$held" -gt 0 ]; then ok "input held back when the buffer was full ($held packet buffers)"; else
	notok "input held back when the buffer was full ($stats)"; fi
gath=$(echo "$stats" | sed -n 's/.*gathered \([0-9]*\),.*/\1/p')
if [ -n "$gath" ] && [ "$gath" -gt 500000 ]; then ok "large produce requests decoded in the packet buffers ($gath bytes)"; else
	notok "large produce requests decoded in the packet buffers ($stats)"; fi
txb=$(echo "$stats" | sed -n 's/.*tx \([0-9]*\) bytes by reference.*/\1/p')
if [ -n "$txb" ] && [ "$txb" -gt 8000000 ]; then ok "responses went to Floo by reference ($txb bytes, none copied)"; else
	notok "responses went to Floo by reference ($stats)"; fi

# Restart on the same data file: the log store recovers what was flushed.
if start_broker && [ "$(kc -C -t rt -o beginning -e -q | wc -l)" = 3000 ]; then
	ok "restart on the same data: 3000 records recovered and served"
else notok "restart on the same data: 3000 records recovered and served"; fi
stop_broker || notok "second run exits cleanly"

# The Hallows appliance's loop (user/kafka/floo/broker_appl.c) with the
# store on the block-driver interface (store_blk over a file-backed
# blkdev): the fetch path copies no payload byte between disk and Floo.
data=appl.img
: > "$work/broker.log"
if start_broker --appliance; then
	ok "appliance loop (store on blkdev) starts"
	check "appliance: kcat produce 3000 keyed records, consume all back" t_roundtrip
	check "appliance: kcat 8 MB fetch of 4 KiB records, byte-identical" t_big_fetch
	check "appliance: kcat consumer group (-G) commits and resumes" t_group
	if stop_broker; then ok "appliance exits cleanly on SIGTERM (sanitizers quiet)"; else
		notok "appliance exits cleanly on SIGTERM (sanitizers quiet)"; tail -20 "$work/broker.log" | sed 's/^/#   /'; fi
	stats=$(grep 'store read' "$work/broker.log" | tail -1)
	echo "# $stats" | tee -a "$out"
	rd=$(echo "$stats" | sed -n 's/.*store read \([0-9]*\) bytes by DMA, \([0-9]*\) copied.*/\1 \2/p')
	set -- $rd
	if [ -n "$rd" ] && [ "$1" -gt 8000000 ] && [ "$2" = 0 ]; then
		ok "appliance: fetch path copied 0 payload bytes ($1 read by the disk, sent by reference)"
	else notok "appliance: fetch path copied 0 payload bytes ($stats)"; fi
	pb=$(grep -o 'free pbufs [0-9]* of [0-9]*' "$work/broker.log" | tail -1)
	set -- $pb
	if [ -n "$pb" ] && [ "$3" = "$5" ]; then ok "appliance: no packet buffer leaked"; else
		notok "appliance: no packet buffer leaked ($pb)"; fi
	if start_broker --appliance && [ "$(kc -C -t rt -o beginning -e -q | wc -l)" = 3000 ]; then
		ok "appliance: restart on the same disk: 3000 records recovered and served"
	else notok "appliance: restart on the same disk: 3000 records recovered and served"; fi
	stop_broker || notok "appliance: second run exits cleanly"
else
	notok "appliance loop (store on blkdev) starts"
	sed 's/^/#   /' "$work/broker.log" | tail -10
fi
exit 0
