#!/usr/bin/env bash
# Shared by the NIC tests (net.sh: virtio-net, e1000.sh: e1000/e1000e):
# a network namespace with a TAP device (198.18.0.1/24), netecho booted in
# QEMU inside it, and the checks on what answers. Source it after setting
#   group   the TAP group name ("drivers-net"), in every result line and log name
#   nic     the QEMU device model ("virtio-net-pci", "e1000", "e1000e")
#   drv     the driver's console prefix ("virtio-net", "e1000", "e1000e")
#   tag     optional: the runs' log names ($tag-MODE.log; default $group)
# and with the TAP output file as $1. Everything it creates (namespace, TAP,
# QEMU) is removed by the EXIT trap.
set -u
out=${1:-/dev/stdout}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
ns="hvnet$$"
tap="hvtap$$"
tap=${tap:0:15}
log=$(mktemp -d /tmp/$group.XXXXXX)
keep=${DRIVERS_NET_LOGS:-$root/build/results/logs}
qemu_pgid=
qemu_pre=() # QEMU arguments before the NIC (the IOMMU)
: > "$out"

tap_line() { echo "$1" >> "$out"; echo "$1"; }
ok() { tap_line "ok - $group: $1"; }
notok() { tap_line "not ok - $group: $1"; }
check() { # check NAME CMD...
	local name=$1; shift
	if "$@" > "$log/last" 2>&1; then ok "$name"; else notok "$name"; sed 's/^/#   /' "$log/last" | tail -8; fi
}
in_ns() { ip netns exec "$ns" "$@"; }

stop_qemu() {
	[ -n "$qemu_pgid" ] || return 0
	kill -TERM -- "-$qemu_pgid" 2>/dev/null # the process group started below: qemu_run and its QEMU
	wait "$qemu_pgid" 2>/dev/null
	qemu_pgid=
}
cleanup() {
	stop_qemu
	ip netns del "$ns" 2>/dev/null
	mkdir -p "$keep" && cp "$log"/*.log "$keep"/ 2>/dev/null
	rm -rf "$log"
}
trap cleanup EXIT

if ! ip netns add "$ns" 2>"$log/err"; then
	tap_line "ok - $group: all # SKIP cannot create network namespaces ($(head -1 "$log/err"))"
	exit 0
fi
if ! in_ns ip tuntap add dev "$tap" mode tap 2>"$log/err"; then
	tap_line "ok - $group: all # SKIP cannot create a TAP device ($(head -1 "$log/err"))"
	exit 0
fi
in_ns ip link set lo up
in_ns ip addr add 198.18.0.1/24 dev "$tap"
in_ns ip link set "$tap" up

# Boot netecho's boot module for MODE in QEMU, inside the namespace, in a process group of its own.
start_qemu() { # MODE [DEVICE-OPTIONS] [NETDEV-OPTIONS]
	setsid ip netns exec "$ns" python3 "$root/tools/qemu_run.py" --name "${tag:-$group}-$1" "${qemu_pre[@]}" \
		--kernel "$root/build/hallows.elf" --initrd "$root/build/initrd-netecho-$1.cpio" --append "" \
		--smp 1 --want hang --timeout 300 --log "$log/${tag:-$group}-$1.serial.log" --echo \
		--qemu-arg=-netdev --qemu-arg="tap,id=n0,ifname=$tap,script=no,downscript=no${3:-}" \
		--qemu-arg=-device --qemu-arg="$nic,netdev=n0${2:-}" > "$log/${tag:-$group}-$1.log" 2>&1 & # the console, lines as printed
	qemu_pgid=$!
	for _ in $(seq 1200); do # 120 s: TCG on a loaded host
		grep -q '^netecho: answering' "$log/${tag:-$group}-$1.log" 2>/dev/null && return 0
		grep -q '^netecho: \(no usable\|start failed\)' "$log/${tag:-$group}-$1.log" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

# The MAC netecho reported, as Linux must have resolved it.
arp_resolved() { # MODE
	local mac
	mac=$(sed -n "s/^$drv: .*, mac \\([0-9a-f:]*\\), .*/\\1/p" "$log/${tag:-$group}-$1.log" | head -1)
	in_ns ip neigh show 198.18.0.2 dev "$tap" | tee /dev/stderr | grep -q "lladdr $mac " && [ -n "$mac" ]
}

# ping -c COUNT with payload SIZE: every reply back (at least COUNT), with the size asked for.
ping_all() { # COUNT SIZE [ping args...]
	local count=$1 size=$2; shift 2
	# -w: wait for every reply until the deadline (QEMU may be slow on a loaded host), then count
	in_ns ping -n -c "$count" -s "$size" -w $((count / 20 + 20)) "$@" 198.18.0.2 > "$log/ping" 2>&1
	cat "$log/ping"
	# With -w, ping keeps sending while replies are late (a loaded host) and stops at COUNT
	# replies: the requests it sent beyond them may be those still in flight then (at most
	# "pipe"), not more.
	local got sent pipe
	got=$(sed -n 's/.* \([0-9]*\) received,.*/\1/p' "$log/ping")
	sent=$(sed -n 's/^\([0-9]*\) packets transmitted,.*/\1/p' "$log/ping")
	pipe=$(sed -n 's/.*, pipe \([0-9]*\)$/\1/p' "$log/ping")
	[ -n "$got" ] && [ "$got" -ge "$count" ] && [ $((sent - got)) -le "${pipe:-0}" ] &&
		[ "$(grep -c "^$((size + 8)) bytes from 198.18.0.2: icmp_seq=" "$log/ping")" -ge 1 -o "$count" -gt 50 ]
}

# Nothing answered for a fragment (no reassembly here), and the responder still answers afterwards.
fragments_dropped() {
	! in_ns ping -n -c 1 -s 3000 -W 2 198.18.0.2 && ping_all 2 56
}

no_fault() { # MODE
	! grep -E 'device fault|driver error|receive ring took|PANIC|FATAL' "$log/${tag:-$group}-$1.log"
}

