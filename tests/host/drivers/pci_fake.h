/*
 * A fake PCI function for host tests of the drivers that call the kernel
 * (pci_fake.c): config space, BAR 0 in memory, the platform calls those
 * drivers make (hallows/rt.h of hlfake/, drv_env.h), and a clock. A model
 * of the device runs at every clock read (every polling loop reads it).
 *
 * Surprise removal: pf_gone(true) makes the function answer all-ones, as a
 * removed one does: config reads all-ones (writes are lost), BAR 0 is
 * filled with 0xff again at every clock read (a driver's own write to it
 * reads back until the next tick), and the model stops. The kernel's
 * pci_device.info keeps what it read at boot, as the real one does.
 */
#ifndef PCI_FAKE_H
#define PCI_FAKE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#define PF_BAR_SIZE 0x20000u /* 128 KiB: e1000's register window */

struct pci_fake {
	uint8_t bar[PF_BAR_SIZE] __attribute__((aligned(4096)));
	uint8_t cfg[256];
	uint32_t refill;     /* bytes of BAR 0 made all-ones again at each tick while gone */
	bool gone;           /* BAR 0 reads all-ones */
	bool cfg_gone;       /* config space reads all-ones too */
	void (*model)(void); /* the device's side, run at each tick while present */
	uint64_t tsc;        /* 1 GHz; each read advances it 10 us */
	unsigned long ticks;
	void *pages[64];
	unsigned npages;
};

extern struct pci_fake *pf;

/* A fresh function of vendor:device with no capabilities; BAR 0 zeroed. */
void pf_new(uint16_t vendor, uint16_t device);
/* A virtio 1.x modern function: capabilities for common, notify, ISR and device config in BAR 0,
 * a device offering VERSION_1 only (and the low word's bit 0), num_queues queues of 256. */
void pf_new_virtio(uint16_t device, uint16_t num_queues);
/* An 82540EM e1000 whose reset ends at the next tick, with an EEPROM and the link up. */
void pf_new_e1000(void);
/* The function stops answering: BAR 0 all-ones from now on, and config space too with cfg (a
 * removed function; without: one whose memory decoding is off, or a bus that drops its cycles). */
void pf_gone(bool cfg);
/* Free the fake and the DMA pages it handed out. */
void pf_free(void);
/* A driver's message as a TAP comment ("# " first); returns vprintf's count. */
int pf_vlog(const char *fmt, va_list ap);

#endif
