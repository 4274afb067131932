#!/usr/bin/env bash
# e1000 (82540EM) and e1000e (82574L) in ring 3 against the Linux stack: the
# runs of net.sh (netecho answering ARP and ping on a TAP device inside a
# network namespace, netlib.sh) with QEMU's -device e1000 / e1000e. Writes
# TAP lines to $1.
#
#   e1000  polled; interrupt mode on its INTx pin (level-triggered, routed by
#          the kernel), the same behind VT-d; on the pc machine (routing
#          unknown) interrupt mode refused and polled instead; a fault run (a
#          receive length beyond the buffer)
#   e1000e polled, interrupt (MSI-X), interrupt behind VT-d, and a fault run
#          (descriptor done on a receive slot never posted)
set -u
group=drivers-e1000 nic=e1000 drv=e1000
here=$(cd "$(dirname "$0")" && pwd)
source "$here/netlib.sh"

reported() { # MODE PCI-DEVICE-ID MODEL WORD
	grep "^$drv: " "$log/${tag:-$group}-$1.log" | tee /dev/stderr |
		grep -q "^$drv: 00:0[0-9a-f].0 8086:$2 $3, mac [0-9a-f:]\{17\}, link up, 1 queue pair (rx 255, tx 255), mode $4"
}

# A fault run's console: what the driver reported, and every buffer back after the restart.
fault_reported() { # MODE WHAT
	grep -E "^($drv|netecho): .*device fault" "$log/${tag:-$group}-$1.log" | tee /dev/stderr |
		grep -q "device fault: $2; device reset" &&
		grep -q '^netecho: device fault 1: \([0-9]*\) of \1 buffers back, restart ok, \1 receive buffers posted' \
			"$log/${tag:-$group}-$1.log"
}

# The usual answers: ARP, every size up to the largest frame, rings wrapping, fragments ignored.
answers() { # MODE
	check "$nic $1: first ping (ARP, then echo)" ping_all 3 56
	check "$nic $1: ARP resolved 198.18.0.2 to the device's MAC (ip neigh)" arp_resolved $1
	check "$nic $1: ping with an 8-byte ICMP message (payload 0)" ping_all 3 0
	check "$nic $1: ping with 1472-byte payload (a 1500-byte IP packet, the largest frame)" ping_all 3 1472 -M do
	check "$nic $1: 300 pings of 1000 bytes at 2 ms intervals (both rings wrap)" ping_all 300 1000 -i 0.002 -q
	check "$nic $1: fragmented pings dropped, the responder keeps answering" fragments_dropped
	check "$nic $1: no device fault or driver error on the console" no_fault $1
}

# ---- e1000: polled; interrupt mode refused ----
in_ns ip neigh flush dev "$tap"
if start_qemu polled; then
	ok "e1000 polled: netecho starts on the e1000"
	check "e1000 polled: device reported at start (8086:100e, MAC, link, ring sizes, mode)" \
		reported polled 100e "e1000 (Intel 82540EM)" polled
	answers polled
else
	notok "e1000 polled: netecho starts on the e1000"
	tail -20 "$log/${tag:-$group}-polled.log" 2>/dev/null | sed 's/^/#   /'
fi
stop_qemu
# Interrupt mode on the INTx pin (the 82540EM has no MSI): the kernel routes
# the pin's level-triggered line (q35: PIRQ E-H, GSI 20-23) to netecho.
intx_run() { # MODE WHAT
	check "e1000 $1: device reported at start in interrupt mode (INTx)" \
		reported $1 100e "e1000 (Intel 82540EM)" "interrupt (INTx, level-triggered)"
	answers $1
	check "e1000 $1: netecho slept and was woken by the INTx line (wakeups counted)" \
		grep -q '^netecho: .*, wakeups [1-9][0-9]*$' "$log/${tag:-$group}-$1.log"
}
in_ns ip neigh flush dev "$tap"
if start_qemu irq; then
	ok "e1000 irq: netecho starts on the e1000 in interrupt mode"
	intx_run irq
else
	notok "e1000 irq: netecho starts on the e1000 in interrupt mode"
	tail -20 "$log/${tag:-$group}-irq.log" 2>/dev/null | sed 's/^/#   /'
fi
stop_qemu

# The same behind Intel VT-d (DMA remapping on; the line still comes through the IOAPIC).
qemu_pre=(--qemu-arg=-device --qemu-arg=intel-iommu,intremap=off)
in_ns ip neigh flush dev "$tap"
if start_qemu vtd; then
	check "e1000 vtd: DMA remapping is on" grep -q 'iommu: VT-d at .*DMA remapping on' "$log/${tag:-$group}-vtd.log"
	intx_run vtd
	check "e1000 vtd: no DMA blocked by the IOMMU" \
		bash -c "! grep -E 'iommu: DMA fault' '$log/${tag:-$group}-vtd.log'"
else
	notok "e1000 vtd: netecho starts on the e1000 behind VT-d"
	tail -20 "$log/${tag:-$group}-vtd.log" 2>/dev/null | sed 's/^/#   /'
fi
stop_qemu
qemu_pre=()

# Where the kernel cannot derive the route (the i440fx "pc" machine: PIIX3, no
# _PRT evaluation) interrupt mode is refused with a reason, and netecho serves polled.
qemu_pre=(--machine pc)
tag=drivers-e1000-pc
in_ns ip neigh flush dev "$tap"
if start_qemu irq; then
	check "e1000 pc: pci_device.intx refused with the reason on the console" \
		grep -q 'I pci 00:0[0-9a-f].0: no INTx: INTx routing unknown on this chipset' "$log/$tag-irq.log"
	check "e1000 pc: the driver refuses interrupt mode, netecho runs polled" \
		grep -q '^netecho: interrupt mode refused (-2); running polled$' "$log/$tag-irq.log"
	check "e1000 pc: polled answers (1472 bytes)" ping_all 3 1472 -M do
else
	notok "e1000 pc: netecho starts on the e1000 (pc machine)"
	tail -20 "$log/$tag-irq.log" 2>/dev/null | sed 's/^/#   /'
fi
stop_qemu
qemu_pre=()
unset tag

# A length beyond the buffer in a completed receive descriptor (polled; bursts
# of pings so that a descriptor waits, done, when netecho corrupts it).
in_ns ip neigh flush dev "$tap"
if start_qemu fault-id; then
	for _ in $(seq 30); do
		in_ns ping -n -q -l 8 -c 8 -W 1 198.18.0.2 > /dev/null 2>&1
		grep -q 'device fault:' "$log/${tag:-$group}-fault-id.log" && break
	done
	check "e1000 fault-length: bad length reported, device reset, every buffer back, restarted" \
		fault_reported fault-id "receive length 0 or beyond the buffer"
	check "e1000 fault-length: the responder answers again after the restart (1472 bytes)" ping_all 5 1472
else
	notok "e1000 fault-length: netecho starts on the e1000"
fi
stop_qemu

# ---- e1000e ----
nic=e1000e drv=e1000e
tag=drivers-e1000e # log names differ from the e1000 runs (same modes)
in_ns ip neigh flush dev "$tap"
if start_qemu polled; then
	ok "e1000e polled: netecho starts on the e1000e"
	check "e1000e polled: device reported at start (8086:10d3, MAC, link, ring sizes, mode)" \
		reported polled 10d3 "e1000e (Intel 82574L)" polled
	answers polled
else
	notok "e1000e polled: netecho starts on the e1000e"
	tail -20 "$log/${tag:-$group}-polled.log" 2>/dev/null | sed 's/^/#   /'
fi
stop_qemu

# Interrupt mode, checksums of the replies by the device (ICMP: summed by the driver, see docs/drivers.md).
in_ns ip neigh flush dev "$tap"
if start_qemu irq; then
	ok "e1000e irq: netecho starts on the e1000e"
	check "e1000e irq: device reported at start in interrupt mode" \
		reported irq 10d3 "e1000e (Intel 82574L)" "interrupt (MSI-X/MSI)"
	check "e1000e irq: checksums offloaded" grep -q '^netecho: answering .*checksums by the device' "$log/${tag:-$group}-irq.log"
	answers irq
	check "e1000e irq: netecho slept and was woken by MSI-X (wakeups counted)" \
		grep -q '^netecho: .*, wakeups [1-9][0-9]*$' "$log/${tag:-$group}-irq.log"
else
	notok "e1000e irq: netecho starts on the e1000e"
	tail -20 "$log/${tag:-$group}-irq.log" 2>/dev/null | sed 's/^/#   /'
fi
stop_qemu

# Behind Intel VT-d: every ring and buffer page mapped for the device, or the unit blocks it.
qemu_pre=(--qemu-arg=-device --qemu-arg=intel-iommu,intremap=on) # MSI-X through interrupt remapping
in_ns ip neigh flush dev "$tap"
if start_qemu vtd; then
	check "e1000e vtd: DMA remapping is on" grep -q 'iommu: VT-d at .*DMA remapping on' "$log/${tag:-$group}-vtd.log"
	check "e1000e vtd: interrupt remapping is on" grep -q 'iommu: interrupt remapping on' "$log/${tag:-$group}-vtd.log"
	check "e1000e vtd: first ping (ARP, then echo)" ping_all 3 56
	check "e1000e vtd: 100 pings of 1472 bytes at 2 ms intervals" ping_all 100 1472 -i 0.002 -q -M do
	check "e1000e vtd: no DMA blocked by the IOMMU, no device fault" \
		bash -c "! grep -E 'iommu: (DMA|interrupt) fault|device fault|driver error' '$log/${tag:-$group}-vtd.log'"
else
	notok "e1000e vtd: netecho starts on the e1000e behind VT-d"
fi
stop_qemu
qemu_pre=()

# A device that writes nonsense: after 5 echo replies netecho sets descriptor
# done on the receive slot after the last posted one, as a broken device
# might; the driver must report it, reset the device and hand back every
# buffer, and after a restart the responder answers again.
in_ns ip neigh flush dev "$tap"
if start_qemu fault; then
	in_ns ping -n -c 8 -i 0.3 -W 1 198.18.0.2 > "$log/ping-fault" 2>&1
	check "e1000e fault: stray descriptor done reported, device reset, every buffer back, restarted" \
		fault_reported fault "receive descriptor done on a slot never posted"
	check "e1000e fault: the responder answers again after the restart (1472 bytes)" ping_all 5 1472
	check "e1000e fault: exactly one fault" bash -c "[ \$(grep -c 'device fault:' '$log/${tag:-$group}-fault.log') = 1 ]"
else
	notok "e1000e fault: netecho starts on the e1000e"
fi
stop_qemu
exit 0
