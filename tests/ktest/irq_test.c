/*
 * ktest suite "irq": interrupt routing through the arch interface. Only
 * routes that fail are tried: a route that succeeds would unmask a real
 * line with no handler behind it.
 */
#include <arch/arch.h>
#include <arch/platform.h>
#include <kernel/ktest.h>

/*
 * Bug fixed: irq_handler.set_notification ignored a failed route and bound
 * the notification to a line that never arrives; it now relies on
 * arch_irq_route() saying so, and returns HL_ERR_RANGE.
 */
KTEST(irq, route_fails_for_a_line_no_ioapic_has)
{
	KEXPECT(t, !arch_irq_route(200, &cpus[0]), "GSI 200 is beyond every IOAPIC here");
	KEXPECT(t, !arch_irq_route(1000, &cpus[0]), "not a line at all");
	if (!acpi_ok)
		KEXPECT(t, !arch_irq_route(1, &cpus[0]), "without ACPI there is no IOAPIC");
}
