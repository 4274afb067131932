#!/usr/bin/env bash
# virtio-net in ring 3 against the Linux stack: netecho (user/apps/netecho)
# runs as the root task under QEMU with a virtio-net-pci device on a TAP
# device inside a private network namespace, and answers ARP and ping for
# 198.18.0.2 (198.18.0.0/24 exists only in that namespace). Once per mode
# (polled, interrupt). Writes TAP lines to $1.
#
#   Linux (netns, 198.18.0.1 on TAP) <== TAP ==> QEMU virtio-net <==> netecho (198.18.0.2)
#
# Everything created here (namespace, TAP, QEMU) is removed by the EXIT trap.
group=drivers-net nic=virtio-net-pci drv=virtio-net
here=$(cd "$(dirname "$0")" && pwd)
source "$here/netlib.sh"

# The device report at start (issue 13 item 7).
reported() { # MODE WORD PCI-DEVICE-ID
	grep "^virtio-net: " "$log/drivers-net-$1.log" | tee /dev/stderr |
		grep -q "^virtio-net: 00:0[0-9a-f].0 1af4:$3 virtio-net (virtio 1.x modern PCI), mac [0-9a-f:]\{17\}, link up, 1 queue pair (rx 256, tx 256 each), mode $2"
}

# Polled mode on the transitional device (1af4:1000, modern capabilities beside
# the legacy I/O BAR), interrupt mode on a modern-only one (1af4:1041).
for mode in polled irq; do
	word=$([ $mode = irq ] && echo interrupt || echo polled)
	opts=$([ $mode = irq ] && echo ",disable-legacy=on" || echo ",disable-legacy=off")
	id=$([ $mode = irq ] && echo 1041 || echo 1000)
	in_ns ip neigh flush dev "$tap"
	if ! start_qemu $mode "$opts"; then
		notok "$mode: netecho starts on the virtio-net device"
		tail -20 "$log/drivers-net-$mode.log" 2>/dev/null | sed 's/^/#   /'
		stop_qemu
		continue
	fi
	ok "$mode: netecho starts on the virtio-net device"
	check "$mode: device reported at start (1af4:$id, MAC, link, queues, mode)" reported $mode "$word" $id
	check "$mode: first ping (ARP, then echo)" ping_all 3 56
	check "$mode: ARP resolved 198.18.0.2 to the device's MAC (ip neigh)" arp_resolved $mode
	check "$mode: ping with an 8-byte ICMP message (payload 0)" ping_all 3 0
	check "$mode: ping with 1000-byte payload" ping_all 3 1000
	check "$mode: ping with 1472-byte payload (a 1500-byte IP packet, the largest frame)" ping_all 3 1472 -M do
	check "$mode: 600 pings of 1472 bytes at 2 ms intervals (rings wrap twice)" ping_all 600 1472 -i 0.002 -q
	check "$mode: fragmented pings dropped, the responder keeps answering" fragments_dropped
	check "$mode: no device fault or driver error on the console" no_fault $mode
	[ $mode = irq ] && check "irq: netecho slept and was woken by MSI-X (wakeups counted)" \
		grep -q '^netecho: .*, wakeups [1-9][0-9]*$' "$log/drivers-net-irq.log"
	stop_qemu
done

# With Intel VT-d (QEMU intel-iommu; virtio-net with iommu_platform=on so its
# DMA goes through the unit): every ring and buffer page must have been
# mapped for the device (pci_device.dma_map), or the unit blocks the DMA
# and logs it. Interrupt mode, 1472-byte pings and 200 more at 2 ms.
qemu_pre=(--qemu-arg=-device --qemu-arg=intel-iommu,intremap=on) # MSI-X through interrupt remapping
in_ns ip neigh flush dev "$tap"
if start_qemu vtd ",disable-legacy=on,iommu_platform=on"; then
	check "vtd: DMA remapping is on" grep -q 'iommu: VT-d at .*DMA remapping on' "$log/drivers-net-vtd.log"
	check "vtd: interrupt remapping is on" grep -q 'iommu: interrupt remapping on' "$log/drivers-net-vtd.log"
	check "vtd: first ping (ARP, then echo)" ping_all 3 56
	check "vtd: ping with 1472-byte payload" ping_all 3 1472 -M do
	check "vtd: 200 pings of 1472 bytes at 2 ms intervals" ping_all 200 1472 -i 0.002 -q
	check "vtd: no DMA blocked by the IOMMU, no device fault" \
		bash -c "! grep -E 'iommu: (DMA|interrupt) fault|device fault|driver error' '$log/drivers-net-vtd.log'"
else
	notok "vtd: netecho starts on the virtio-net device behind VT-d"
fi
stop_qemu
qemu_pre=()

# A device that writes nonsense: netecho (interrupt mode) corrupts the receive
# ring's used index after 5 echo replies, as a broken device would; the driver
# must report it, reset the device and hand back every buffer, and after a
# restart the responder answers again.
fault_reported() { # RUN WHAT
	grep -E '^(virtio-net|netecho): .*device fault' "$log/drivers-net-$1.log" | tee /dev/stderr |
		grep -q "device fault: $2; device reset" &&
		grep -q '^netecho: device fault 1: \([0-9]*\) of \1 buffers back, restart ok, \1 receive buffers posted' \
			"$log/drivers-net-$1.log"
}
in_ns ip neigh flush dev "$tap"
if start_qemu fault ",disable-legacy=on"; then
	in_ns ping -n -c 10 -i 0.3 -W 1 198.18.0.2 > "$log/ping-fault" 2>&1
	check "fault: bad used index reported, device reset, every buffer back, restarted" \
		fault_reported fault "used index jumped past the buffers in flight"
	check "fault: the responder answers again after the restart (1472 bytes)" ping_all 5 1472
	check "fault: exactly one fault" bash -c "[ \$(grep -c 'device fault:' '$log/drivers-net-fault.log') = 1 ]"
else
	notok "fault: netecho starts on the virtio-net device"
fi
stop_qemu

# The same with a bad id in the second of several used entries (polled mode):
# the poll that meets it has already taken a good buffer, which must come
# back to netecho too. Bursts of 8 pings put several entries in the ring.
faulted() { grep -q 'device fault:' "$log/drivers-net-fault-id.log"; }
in_ns ip neigh flush dev "$tap"
if start_qemu fault-id ",disable-legacy=on"; then
	for _ in $(seq 30); do
		in_ns ping -n -q -l 8 -c 8 -W 1 198.18.0.2 > /dev/null 2>&1
		faulted && break
	done
	check "fault-id: buffers_taken_before_a_fault_come_back (bad id after a good entry: reported, device reset, every buffer back, restarted)" \
		fault_reported fault-id "used id outside the descriptor table"
	check "fault-id: the responder answers again after the restart (1472 bytes)" ping_all 5 1472
else
	notok "fault-id: netecho starts on the virtio-net device"
fi
stop_qemu

# TSO: netecho connects to a Python listener in the namespace and sends 4000
# bytes as ONE frame (headers + two 2000-byte buffers, NETDEV_BUF_TSO4, MSS
# 1448); the listener checks every byte, and its AF_PACKET socket on the TAP
# (PACKET_VNET_HDR) shows the frame arriving whole with its TSO header.
in_ns ip neigh flush dev "$tap"
in_ns python3 "$here/tso_listener.py" 198.18.0.1 5001 4000 "$tap" > "$log/tso-listener" 2>&1 &
listener=$!
sleep 0.5
if start_qemu tso ",disable-legacy=on"; then
	for _ in $(seq 600); do grep -q '^frame\|^bad' "$log/tso-listener" && break; sleep 0.1; done
	check "tso: device offers TSO4 (reported at start)" grep -q '^virtio-net: .*offloads.* tso4' "$log/drivers-net-tso.log"
	check "tso: the Linux listener got all 4000 bytes, in order" grep -q '^ok 4000 bytes' "$log/tso-listener"
	check "tso: they left as one 4054-byte TCPv4 TSO frame with MSS 1448" \
		grep -q '^frame 4054 gso_type 1 gso_size 1448$' "$log/tso-listener"
	check "tso: netecho saw every byte acknowledged" \
		grep -q '^netecho: tso: 4000 bytes sent as one 4054-byte frame .* all acknowledged' "$log/drivers-net-tso.log"
	check "tso: the responder answers ping afterwards" ping_all 3 56
	sed 's/^/# tso listener: /' "$log/tso-listener"
else
	notok "tso: netecho starts on the virtio-net device"
fi
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null
stop_qemu

# Two queue pairs (QEMU mq=on on a multi-queue TAP), interrupt mode: the
# driver sets them through the control queue; Linux spreads flows over the
# TAP's queues by a hash of the addresses, so pings from 16 source
# addresses reach both pairs (all 16 on one pair: a chance of 2^-15).
both_pairs() {
	grep '^netecho: .*received per pair' "$log/drivers-net-mq.log" | tail -1 | tee /dev/stderr |
		grep -q 'received per pair [1-9][0-9]* [1-9][0-9]* 0 0,'
}
pings_from_16() {
	for i in $(seq 10 25); do
		in_ns ping -n -c 2 -i 0.2 -w 20 -I 198.18.0.$i 198.18.0.2 | grep -q ' 2 received' || return 1
	done
}
in_ns ip link del "$tap"
if in_ns ip tuntap add dev "$tap" mode tap multi_queue 2>"$log/err"; then
	in_ns ip addr add 198.18.0.1/24 dev "$tap"
	for i in $(seq 10 25); do in_ns ip addr add 198.18.0.$i/24 dev "$tap"; done
	in_ns ip link set "$tap" up
	if start_qemu mq ",mq=on,vectors=6,disable-legacy=on" ",queues=2"; then
		check "mq: the device runs 2 queue pairs in interrupt mode (set through the control queue)" \
			grep -q '^virtio-net: .* 2 queue pairs (rx 256, tx 256 each), mode interrupt' "$log/drivers-net-mq.log"
		check "mq: pings from 16 source addresses all answered" pings_from_16
		sleep 1.2
		in_ns ping -n -c 1 -W 2 198.18.0.2 > /dev/null 2>&1 # a last frame: netecho prints its counters
		sleep 0.5
		check "mq: both queue pairs received frames" both_pairs
		check "mq: no device fault or driver error on the console" no_fault mq
	else
		notok "mq: netecho starts on the virtio-net device"
	fi
	stop_qemu
else
	tap_line "ok - drivers-net: mq # SKIP cannot create a multi-queue TAP device ($(head -1 "$log/err"))"
fi
exit 0
