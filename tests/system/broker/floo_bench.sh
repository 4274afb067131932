#!/usr/bin/env bash
# make bench-brokerfl: kcat produce and consume throughput against the
# broker on Floo over a TAP (release build of hallows-broker-floo), in
# this program's own loop (store on a file) and in the appliance loop
# (--appliance: store on the block-driver interface over a file). One
# JSON line per figure appended to $2.
#   usage: floo_bench.sh BROKER_BIN OUT_JSONL
set -u
broker=$1
out=$2
ns="bflb$$"
tap="bfbtap$$"
tap=${tap:0:15}
work=$(mktemp -d /tmp/brokerfl-bench.XXXXXX)
addr=198.18.0.2
pid=
records=20000 # of 4,000-byte lines: 80 MB

cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns" && ip netns exec "$ns" ip tuntap add dev "$tap" mode tap || exit 1
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" ip addr add 198.18.0.1/24 dev "$tap"
ip netns exec "$ns" ip link set "$tap" up
base64 -w 4000 /dev/urandom | head -n "$records" > "$work/in"
bytes=$(stat -c %s "$work/in")

secs() { # CMD... -> wall seconds
	local t0 t1
	t0=$(date +%s.%N)
	"$@" > /dev/null || return 1
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
emit() { # loop metric value unit
	printf '{"name":"brokerfl.%s.%s","value":%.2f,"unit":"%s","mode":"host","config":{"client":"kcat 1.7.1 in a netns","path":"tap to floo","records":%s,"record_bytes":4000,"commit":"%s"}}\n' \
		"$1" "$2" "$3" "$4" "$records" "$(git rev-parse --short HEAD 2>/dev/null)" | tee -a "$out"
}

for loop in own appliance; do
	extra=
	[ $loop = appliance ] && extra=--appliance
	rm -f "$work/data.img"
	ip netns exec "$ns" "$broker" --tap "$tap" --addr "$addr/24" --data "$work/data.img" \
		--size $((1 << 30)) --partitions 1 $extra > "$work/out" 2> "$work/log" &
	pid=$!
	for _ in $(seq 100); do
		grep -q "listening on" "$work/out" && ip netns exec "$ns" ping -c1 -W1 $addr > /dev/null 2>&1 && break
		sleep 0.1
	done
	p=$(secs ip netns exec "$ns" kcat -b $addr:9092 -P -t bench -p 0 -l "$work/in") || exit 1
	c=$(secs ip netns exec "$ns" kcat -b $addr:9092 -C -t bench -p 0 -o beginning -e -q) || exit 1
	emit $loop produce_MBps "$(awk -v b="$bytes" -v s="$p" 'BEGIN { print b / s / 1e6 }')" MB/s
	emit $loop consume_MBps "$(awk -v b="$bytes" -v s="$c" 'BEGIN { print b / s / 1e6 }')" MB/s
	kill -TERM "$pid"
	wait "$pid"
	pid=
	grep 'hallows-broker-floo: ' "$work/log" | sed 's/^/# /'
done
