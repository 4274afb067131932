/*
 * Host tests only: stands in for user/rt/include/hallows/rt.h when a
 * driver that calls the kernel (e1000.c, virtio_pci.c, virtio_net*.c,
 * virtio_blk.c) is built on Linux. The same prototypes as the runtime and
 * the generated stubs, implemented by the fake PCI function of
 * tests/host/drivers/pci_fake.c.
 */
#ifndef HALLOWS_RT_H
#define HALLOWS_RT_H

#include <hallows/abi.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
hl_cptr_t rt_slot(void);
hl_cptr_t rt_alloc(uint32_t type, uint32_t size_bits);
void *rt_calloc(size_t n, size_t size);
void rt_free(void *p);

long hl_pci_device_info(hl_cptr_t obj, hl_word_t *id, hl_word_t *class, hl_word_t *bdf,
                        hl_word_t *msi);
long hl_pci_device_config_read(hl_cptr_t obj, hl_word_t offset, hl_word_t width, hl_word_t *value);
long hl_pci_device_config_write(hl_cptr_t obj, hl_word_t offset, hl_word_t width, hl_word_t value);
long hl_pci_device_msi(hl_cptr_t obj, hl_word_t vector, hl_word_t cpu, hl_word_t dst_slot);
long hl_pci_device_intx(hl_cptr_t obj, hl_word_t cpu, hl_word_t dst_slot);
long hl_irq_handler_set_notification(hl_cptr_t obj, hl_word_t ntfn);
long hl_irq_handler_ack(hl_cptr_t obj);

#endif
