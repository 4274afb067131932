/*
 * Intel e1000 (82540EM, QEMU -device e1000) and e1000e (82574L, QEMU
 * -device e1000e, q35's default NIC) behind the netdev interface
 * (include/drivers/netdev.h). One queue pair, legacy receive descriptors,
 * extended transmit descriptors with TCP/IP context descriptors for
 * checksum offload, receive checksum status, polled mode on both and
 * MSI-X (or MSI) interrupts where the function offers them (the 82574).
 * See docs/drivers.md.
 */
#ifndef DRIVERS_E1000_H
#define DRIVERS_E1000_H

#include <drivers/netdev.h>
#include <hallows/abi.h>

/* True for a PCI ID this driver handles. */
bool e1000_matches(uint16_t vendor, uint16_t device);

/*
 * Open the function behind pci_device capability dev (bdf for the report):
 * map BAR 0, read the MAC address (EEPROM, else RAL/RAH). The device stays
 * stopped until ops->start. Returns the handle, or NULL with *err set.
 */
struct netdev *e1000_open(hl_cptr_t dev, uint16_t bdf, int *err);

/*
 * Tests only: write into the receive ring what a broken device might.
 * STRAY: descriptor done on the slot after the last posted one. LENGTH: a
 * length beyond the buffer in the oldest completed descriptor (false while
 * none is completed: try again).
 */
enum e1000_inject { E1000_INJECT_STRAY, E1000_INJECT_LENGTH };
bool e1000_inject_fault(struct netdev *nd, enum e1000_inject kind);
/*
 * For the interrupt benchmark: make the device raise its interrupt now, as
 * a transmit-done cause would (ICS.TXDW; INTx or MSI-X as started). False
 * unless running in interrupt mode.
 */
bool e1000_raise_irq(struct netdev *nd);

#endif
