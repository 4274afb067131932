#!/usr/bin/env bash
# A TCP echo through the impairing forwarder (tools/net-impair.c), against
# floo-demo or against the Linux kernel's stack, on the same path:
#
#   client netns                     server netns
#   Linux 198.18.0.1 on tapC  <== net-impair ==>  tapS --+-- bridge --- tapF: floo-demo 198.18.0.2
#                                                        (floo)
#                                                 tapS: Linux 198.18.0.2, floo-bench server
#                                                        (linux)
#
#   impaired.sh floo|linux|webd RUNS BYTES SEED [LIMIT_S]
#
# webd: Hallows itself (webd's echo in QEMU on tapF, build/initrd-webd-
# bench.cpio and build/hallows.elf from `make test-webd`'s prerequisites).
#
# Each run echoes BYTES random bytes (half-closed at the end, as nc -N)
# and compares SHA-256; prints "seconds T1 T2 ..." and the forwarder's and
# floo-demo's counters on stderr. Exit 0 when every run was intact within
# LIMIT_S seconds (default 120), 1 otherwise, 77 when namespaces or TAP
# devices cannot be made. Impairment: NET_IMPAIR ("--loss 5 --reorder 10
# --dup 2 --delay-us 1000" by default), both directions.
set -u
mode=$1 runs=$2 bytes=$3 seed=$4 limit=${5:-120}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
impair=${NET_IMPAIR:---loss 5 --reorder 10 --dup 2 --delay-us 1000}
id=$$
nc="fic$id"; nsv="fis$id"
tapc="ftc$id"; taps="fts$id"; tapf="ftf$id"
tapc=${tapc:0:15}; taps=${taps:0:15}; tapf=${tapf:0:15}
log=$(mktemp -d /tmp/floo-imp.XXXXXX)
pids=()

cleanup() {
	# NET_IMPAIR_DEBUG=1: the client kernel's TCP loss counters.
	[ -n "${NET_IMPAIR_DEBUG:-}" ] && ip netns exec "$nc" nstat -az 2>/dev/null |
		grep -E 'Timeouts|Retrans|SACK|Loss|Recovery|TLP|OFO|Reorder|Spurious|Undo|Skipped|PAWS' | grep -v ' 0 ' >&2
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	# floo-bench server forks a child per connection: end whatever is
	# still running inside the namespaces before they go.
	for n in "$nc" "$nsv"; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -TERM 2>/dev/null
	done
	ip netns del "$nc" 2>/dev/null
	ip netns del "$nsv" 2>/dev/null
	cat "$log"/*.log >&2 2>/dev/null
	rm -rf "$log"
}
trap cleanup EXIT

ip netns add "$nc" 2>/dev/null || exit 77
ip netns add "$nsv" 2>/dev/null || exit 77
ip -n "$nc" tuntap add dev "$tapc" mode tap 2>/dev/null || exit 77
ip -n "$nsv" tuntap add dev "$taps" mode tap || exit 77
ip -n "$nc" link set lo up
ip -n "$nsv" link set lo up
ip -n "$nc" addr add 198.18.0.1/24 dev "$tapc"
ip -n "$nc" link set "$tapc" up
if [ "$mode" = floo ] || [ "$mode" = webd ]; then
	ip -n "$nsv" tuntap add dev "$tapf" mode tap || exit 77
	ip -n "$nsv" link add br0 type bridge stp_state 0 forward_delay 0 || exit 77
	ip -n "$nsv" link set "$taps" master br0
	ip -n "$nsv" link set "$tapf" master br0
	ip -n "$nsv" link set "$tapf" up
	ip -n "$nsv" link set br0 up
fi
if [ "$mode" = floo ]; then
	ip netns exec "$nsv" "$root/build/hosted/floo-demo" --tap "$tapf" \
		--addr 198.18.0.2/24 ${FLOO_DEMO_ARGS:-} > "$log/floo-demo.log" 2>&1 &
	pids+=($!)
elif [ "$mode" = webd ]; then
	# Hallows itself: webd (echo on 7) in QEMU on the same bridge, as
	# tests/system/webd/run.sh boots it on a TAP (198.18.0.2, virtio-net).
	ip netns exec "$nsv" python3 "$root/tools/qemu_run.py" --name webd-impaired \
		--kernel "$root/build/hallows.elf" --initrd "$root/build/initrd-webd-bench.cpio" \
		--append "" --smp 1 --want hang --timeout 600 --log "$log/webd.serial" --echo \
		--qemu-arg=-netdev --qemu-arg="tap,id=n0,ifname=$tapf,script=no,downscript=no" \
		--qemu-arg=-device --qemu-arg="virtio-net-pci,netdev=n0" > "$log/webd.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1200); do grep -q '^webd: ready on ' "$log/webd.log" 2>/dev/null && break; sleep 0.1; done
else
	ip -n "$nsv" addr add 198.18.0.2/24 dev "$taps"
	ip netns exec "$nsv" "$root/build/hosted/floo-bench" server > /dev/null 2>&1 &
	pids+=($!)
fi
ip -n "$nsv" link set "$taps" up
# shellcheck disable=SC2086 # $impair is a list of options
"$root/build/tools/net-impair" --a "$nc:$tapc" --b "$nsv:$taps" --seed "$seed" \
	$impair 2> "$log/net-impair.log" &
pids+=($!)
up=
for _ in $(seq 100); do
	if ip netns exec "$nc" ping -c1 -W1 198.18.0.2 > /dev/null 2>&1; then up=1; break; fi
	sleep 0.1
done
[ -n "$up" ] || { echo "impaired $mode: 198.18.0.2 unreachable through the forwarder" >&2; exit 1; }
ip netns exec "$nc" python3 "$here/clients.py" stream_echo "$bytes" "$runs" 7 198.18.0.2 "$limit"
