#!/usr/bin/env bash
# Floo benchmarks: a Linux client in a namespace against floo-demo over a
# TAP device, and the same client against a Linux-kernel server reached
# over a veth pair (kernel <-> kernel), each in private namespaces.
# Appends JSON lines to $1.
set -u
out=$1
root=$(cd "$(dirname "$0")/../../.." && pwd)
demo="$root/build/hosted/floo-demo"
bench="$root/build/hosted/floo-bench"
secs=${NET_BENCH_SECONDS:-5}
bulk=${NET_BENCH_BYTES:-100000000}
ns="fb$$"; nss="fbs$$"; tap="fbt$$"; tap=${tap:0:15}
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	ip netns pids "$nss" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$ns" 2>/dev/null; ip netns del "$nss" 2>/dev/null
}
trap cleanup EXIT

if ! ip netns add "$ns" 2>/dev/null; then
	echo "bench-net: cannot create network namespaces; skipped" >&2
	exit 0
fi
ip netns add "$nss"
ip -n "$ns" link set lo up
if ! ip -n "$ns" tuntap add dev "$tap" mode tap 2>/dev/null; then
	echo "bench-net: cannot create a TAP device; skipped" >&2
	exit 0
fi
ip -n "$ns" addr add 198.18.0.1/24 dev "$tap"
ip -n "$ns" link set "$tap" up
ip link add "v$ns" type veth peer name "w$ns"
ip link set "v$ns" netns "$ns"
ip link set "w$ns" netns "$nss"
ip -n "$ns" addr add 198.18.1.1/24 dev "v$ns"
ip -n "$nss" addr add 198.18.1.2/24 dev "w$ns"
ip -n "$ns" link set "v$ns" up
ip -n "$nss" link set "w$ns" up
ip -n "$nss" link set lo up

# shellcheck disable=SC2086 # FLOO_DEMO_ARGS is a list of options (--cc cubic)
ip netns exec "$ns" "$demo" --tap "$tap" --addr 198.18.0.2/24 ${FLOO_DEMO_ARGS:-} 2>/dev/null &
pids+=($!)
ip netns exec "$nss" "$bench" server &
pids+=($!)
for _ in $(seq 50); do
	ip netns exec "$ns" ping -c1 -W1 198.18.0.2 >/dev/null 2>&1 && break
	sleep 0.1
done
sleep 0.3

emit() { # system metric value unit
	printf '{"name":"net.%s.%s","value":%s,"unit":"%s","mode":"host","config":{"client":"linux netns","path":"%s","rr_msg_bytes":64,"rr_seconds":%s,"bulk_bytes":%s}}\n' \
		"$1" "$2" "$3" "$4" "$5" "$secs" "$bulk" | tee -a "$out"
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

for sys in hallows linux; do
	if [ $sys = hallows ]; then host=198.18.0.2; path="tap to floo-demo"; else host=198.18.1.2; path="veth to linux kernel"; fi
	r=$(ip netns exec "$ns" "$bench" rr $host "$secs" 64) || { echo "bench-net: rr $sys failed" >&2; exit 1; }
	emit $sys tcp_rr_rate_per_s "$(echo "$r" | field rate)" "1/s" "$path"
	emit $sys tcp_rr_p50_us "$(echo "$r" | field p50)" "us" "$path"
	emit $sys tcp_rr_p99_us "$(echo "$r" | field p99)" "us" "$path"
	b=$(ip netns exec "$ns" "$bench" bulk $host "$bulk") || { echo "bench-net: bulk $sys failed" >&2; exit 1; }
	emit $sys tcp_bulk_mbps "$(echo "$b" | field mbps)" "Mbit/s" "$path"
done

# 4 MB echo through the impairing forwarder (5% loss, 10% reordering,
# 2% duplication, 1 ms delay, both directions), floo-demo against the
# Linux stack on the same path with the same seed: median of the runs.
# Twice: with the Linux stacks' default congestion control (this host's:
# bbr on the development machine, which barely answers random loss) and
# with cubic (Linux's upstream default), set per socket on the client and
# on the Linux server (FLOO_BENCH_CC). Floo runs its default (BBR), and
# once with CUBIC (floo-demo --cc cubic) against the Linux default.
imp() { bash "$(dirname "$0")/impaired_median.sh" "$out" "$@"; }
imp floo hallows.impaired_echo_4mb_s
FLOO_DEMO_ARGS="--cc cubic" bash "$(dirname "$0")/impaired_median.sh" "$out" floo hallows.impaired_echo_floo_cubic_4mb_s
imp linux linux.impaired_echo_4mb_s
imp floo hallows.impaired_echo_cubic_4mb_s cubic
imp linux linux.impaired_echo_cubic_4mb_s cubic
