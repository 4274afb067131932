/* Local APIC (xAPIC or x2APIC), IOAPIC, legacy PIC, HPET, PIT, TSC. */
#ifndef ARCH_APIC_H
#define ARCH_APIC_H

#include <kernel/types.h>

void pic_disable(void);

void lapic_init(uint64_t phys); /* BSP: choose mode, map registers */
void lapic_init_cpu(void);      /* every CPU: enable, spurious vector */
uint32_t lapic_id(void);
void lapic_eoi(void);
bool lapic_is_x2apic(void);
/* Send an IPI: vector to dest APIC id; for INIT/SIPI use the raw delivery mode. */
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
void lapic_send_init(uint32_t apic_id);
void lapic_send_sipi(uint32_t apic_id, uint8_t page);
/* The one-shot timer is arch_timer_oneshot_ns() (arch/arch.h): TSC-deadline where available, else
 * the APIC count mode. */
bool lapic_timer_uses_deadline(void);

void ioapic_init(void);
/* Route ISA IRQ (honouring overrides) or a GSI to vector on CPU apic_id. */
bool ioapic_route_isa(uint8_t isa_irq, uint8_t vector, uint32_t apic_id) __must_check;
void ioapic_mask_isa(uint8_t isa_irq, bool masked);
/* Write GSI gsi's redirection entry (the only writer of one; arch/x86_64/ioapic.c). */
bool ioapic_program(uint32_t gsi, uint8_t vector, uint32_t apic_id, bool level, bool active_low,
                    bool masked) __must_check;
bool ioapic_has_gsi(uint32_t gsi);
void ioapic_mask_gsi(uint32_t gsi, bool masked);

bool hpet_init(uint64_t phys);
bool hpet_available(void);
uint64_t hpet_read_ns(void); /* nanoseconds from the HPET main counter */

void pit_delay_us(uint32_t us); /* PIT channel 2 busy-wait (calibration fallback) */
void tsc_calibrate(void);
void tsc_refine(void);

#endif
