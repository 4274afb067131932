/*
 * Ring-3 suites "ioport" and "irq": I/O-port capabilities issued from the
 * root's I/O-port control, port access through them, IRQ handler
 * capabilities and interrupt delivery as a notification signal (COM1's
 * transmitter-empty interrupt on IRQ 4 serves as a real source).
 */
#include "utest.h"

#define COM1     0x3f8
#define COM1_IRQ 4

/* A capability to count ports from base, in a fresh slot (0 on failure). */
static hl_cptr_t ports(hl_word_t base, hl_word_t count)
{
	hl_cptr_t s = ut_slot();

	return hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, base, count, s) == HL_OK ? s : 0;
}

/*
 * Wait until COM1's transmitter holding register is empty (LSR bit 5),
 * reading LSR through lsr (a capability covering COM1 + 5). The console
 * writes to the same UART, so right after a line of output a real 16550
 * (and Bochs) is still sending; QEMU's is always idle. Returns the last
 * LSR value read.
 */
static hl_word_t com1_wait_idle(hl_cptr_t lsr)
{
	hl_word_t v = 0xff;

	for (int i = 0; i < 100000; i++) {
		if (hl_ioport_in(lsr, COM1 + 5, 1, &v) != HL_OK || v == 0xff || (v & 0x20))
			break;
	}
	return v;
}

static hl_cptr_t copy_of(hl_cptr_t cap, uint32_t rights)
{
	hl_cptr_t s = ut_slot();

	return hl_cspace_copy(HL_SLOT_CSPACE, s, cap, rights) == HL_OK ? s : 0;
}

/* ---- ioport_control.issue ---- */

/* Bug fixed: base + count wrapped around, so (1, 2^64 - 1) issued a capability to every port. */
UTEST(ioport, issue_out_of_range)
{
	UEXPECT_ERR(t, hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0xffff, 2, ut_slot()),
	            HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0x10000, 1, ut_slot()),
	            HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0x80, 0, ut_slot()),
	            HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 1, ~0ull, ut_slot()),
	            HL_ERR_RANGE); /* wraps */
	UEXPECT_ERR(t, hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0xffff, 1, ut_slot()),
	            HL_OK);
	UEXPECT_ERR(t, hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0, 0x10000, ut_slot()),
	            HL_OK);
}

UTEST(ioport, issue_into_occupied_slot)
{
	UEXPECT_ERR(t, hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0x80, 1, HL_SLOT_DEBUG),
	            HL_ERR_SLOT_OCCUPIED);
}

UTEST(ioport, issue_into_invalid_slot)
{
	UEXPECT_ERR(t, hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0x80, 1, 1u << 20),
	            HL_ERR_INVALID_CAP);
}

UTEST(ioport, issue_needs_ioport_control)
{
	UEXPECT_ERR(t, hl_ioport_control_issue(HL_SLOT_DEBUG, 0x80, 1, ut_slot()),
	            HL_ERR_ILLEGAL_OP);
	UEXPECT_ERR(t, hl_ioport_control_issue(ut_slot(), 0x80, 1, ut_slot()), HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_cspace_copy(HL_SLOT_CSPACE, ut_slot(), HL_SLOT_IOPORT_CONTROL, HL_R_ALL),
	            HL_ERR_ILLEGAL_OP);
}

/* ---- in / out ---- */

/* Bug fixed: port + width wrapped around, so a huge port number passed the range check. */
UTEST(ioport, in_out_outside_the_range)
{
	hl_cptr_t p = ports(COM1 + 5, 1);
	hl_word_t v = 0;

	if (!UCHECK(t, p))
		return;
	UEXPECT_ERR(t, hl_ioport_in(p, COM1 + 4, 1, &v), HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_ioport_in(p, COM1 + 6, 1, &v), HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_ioport_in(p, COM1 + 5, 2, &v),
	            HL_ERR_RANGE); /* the second byte is outside */
	UEXPECT_ERR(t, hl_ioport_in(p, ~0ull - 1, 4, &v), HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_ioport_out(p, 0x80, 1, 0), HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_ioport_out(p, COM1 + 4, 4, 0), HL_ERR_RANGE);
}

UTEST(ioport, in_out_bad_width)
{
	hl_cptr_t p = ports(COM1, 8);
	hl_word_t v = 0;

	if (!UCHECK(t, p))
		return;
	UEXPECT_ERR(t, hl_ioport_in(p, COM1 + 5, 3, &v), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_ioport_in(p, COM1 + 5, 0, &v), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_ioport_in(p, COM1, 8, &v), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_ioport_out(p, COM1 + 7, 3, 0), HL_ERR_INVALID_ARG);
}

UTEST(ioport, rights_are_checked)
{
	hl_cptr_t p = ports(COM1, 8), ro = copy_of(p, HL_R_READ), wo = copy_of(p, HL_R_WRITE);
	hl_word_t v = 0;

	if (!UCHECK(t, p && ro && wo))
		return;
	UEXPECT_ERR(t, hl_ioport_out(ro, COM1 + 7, 1, 0x55), HL_ERR_NO_RIGHTS);
	UEXPECT_ERR(t, hl_ioport_in(wo, COM1 + 7, 1, &v), HL_ERR_NO_RIGHTS);
	UEXPECT_ERR(t, hl_ioport_in(ro, COM1 + 5, 1, &v), HL_OK);
}

/* COM1's line status: the transmitter drains to idle, and LSR is never all ones (no device). */
UTEST(ioport, read_com1_line_status)
{
	hl_cptr_t p = ports(COM1 + 5, 1);
	hl_word_t v = ~0ull;

	if (!UCHECK(t, p))
		return;
	UEXPECT_ERR(t, hl_ioport_in(p, COM1 + 5, 1, &v), HL_OK);
	v = com1_wait_idle(p);
	UEXPECT(t, v != 0xff && (v & 0x20), "LSR %#lx", v);
}

/* The scratch register keeps what is written: out and in reach the device, in every width the range
 * allows. */
UTEST(ioport, com1_scratch_register_roundtrip)
{
	hl_cptr_t p = ports(COM1 + 7, 1);
	hl_word_t v = 0;

	if (!UCHECK(t, p))
		return;
	for (hl_word_t x = 0x5a; x < 0x300; x += 0xa5) {
		UEXPECT_ERR(t, hl_ioport_out(p, COM1 + 7, 1, x), HL_OK);
		UEXPECT_ERR(t, hl_ioport_in(p, COM1 + 7, 1, &v), HL_OK);
		UEXPECT(t, v == (x & 0xff), "wrote %#lx read %#lx", x, v);
	}
}

/* ---- IRQs ---- */

UTEST(irq, get_out_of_range)
{
	UEXPECT_ERR(t, hl_irq_control_get(HL_SLOT_IRQ_CONTROL, 24, ut_slot()), HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_irq_control_get(HL_SLOT_IRQ_CONTROL, ~0ull, ut_slot()), HL_ERR_RANGE);
}

UTEST(irq, get_twice_is_illegal)
{
	hl_cptr_t h = ut_slot();

	UEXPECT_ERR(t, hl_irq_control_get(HL_SLOT_IRQ_CONTROL, 7, h), HL_OK);
	UEXPECT_ERR(t, hl_irq_control_get(HL_SLOT_IRQ_CONTROL, 7, ut_slot()), HL_ERR_ILLEGAL_OP);
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, h), HL_OK); /* gives the line back */
	UEXPECT_ERR(t, hl_irq_control_get(HL_SLOT_IRQ_CONTROL, 7, ut_slot()), HL_OK);
}

UTEST(irq, get_slot_errors)
{
	UEXPECT_ERR(t, hl_irq_control_get(HL_SLOT_IRQ_CONTROL, 9, HL_SLOT_DEBUG),
	            HL_ERR_SLOT_OCCUPIED);
	UEXPECT_ERR(t, hl_irq_control_get(HL_SLOT_IRQ_CONTROL, 9, 1u << 20), HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_irq_control_get(HL_SLOT_DEBUG, 9, ut_slot()), HL_ERR_ILLEGAL_OP);
	UEXPECT_ERR(t, hl_irq_control_get(HL_SLOT_IRQ_CONTROL, 9, ut_slot()),
	            HL_OK); /* the failures claimed nothing */
}

UTEST(irq, set_notification_errors)
{
	hl_cptr_t h = ut_slot(), n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0),
	          ro = copy_of(n, HL_R_READ);

	UEXPECT_ERR(t, hl_irq_control_get(HL_SLOT_IRQ_CONTROL, 10, h), HL_OK);
	UEXPECT_ERR(t, hl_irq_handler_set_notification(h, ut_slot()), HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_irq_handler_set_notification(h, HL_SLOT_DEBUG), HL_ERR_WRONG_TYPE);
	UEXPECT_ERR(t, hl_irq_handler_set_notification(h, ro), HL_ERR_NO_RIGHTS);
	UEXPECT_ERR(t, hl_irq_handler_set_notification(h, n), HL_OK);
}

UTEST(irq, ack_without_notification_is_illegal)
{
	hl_cptr_t h = ut_slot(), n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);

	UEXPECT_ERR(t, hl_irq_control_get(HL_SLOT_IRQ_CONTROL, 11, h), HL_OK);
	UEXPECT_ERR(t, hl_irq_handler_ack(h), HL_ERR_ILLEGAL_OP);
	UEXPECT_ERR(t, hl_irq_handler_set_notification(h, n), HL_OK);
	UEXPECT_ERR(t, hl_irq_handler_ack(h), HL_OK);
	UEXPECT_ERR(t, hl_irq_handler_set_notification(h, 0), HL_OK); /* unbind */
	UEXPECT_ERR(t, hl_irq_handler_ack(h), HL_ERR_ILLEGAL_OP);
	UEXPECT_ERR(t, hl_irq_handler_ack(HL_SLOT_DEBUG), HL_ERR_ILLEGAL_OP);
}

/* Wait (bounded) for bits on n; returns what arrived. */
static hl_word_t poll_bits(hl_cptr_t n)
{
	for (int i = 0; i < 2000; i++) {
		hl_word_t info = 0, bits = 0;
		struct hl_msg m = {{0}};
		if (hl_syscall(HL_SYS_POLL, n, &info, &m, &bits) == HL_OK)
			return bits;
		hl_yield();
	}
	return 0;
}

/*
 * A real interrupt: enabling COM1's transmitter-empty interrupt raises IRQ 4
 * at once when the transmitter is idle (waited for first) and OUT2 in the
 * modem control register lets the UART drive the line (as on a PC; QEMU
 * does not care, Bochs and hardware do); it arrives as bit 4 on the bound
 * notification, and the line stays masked until acknowledged.
 */
UTEST(irq, com1_interrupt_signals_notification)
{
	hl_cptr_t h = ut_slot(), n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0), p = ports(COM1, 8);
	hl_word_t iir = 0;

	if (!UCHECK(t, p) ||
	    !UCHECK(t, hl_irq_control_get(HL_SLOT_IRQ_CONTROL, COM1_IRQ, h) == HL_OK))
		return;
	UEXPECT_ERR(t, hl_irq_handler_set_notification(h, n), HL_OK);
	hl_ioport_out(p, COM1 + 4, 1, 0x0b); /* MCR: DTR, RTS, OUT2 */
	com1_wait_idle(p);
	hl_ioport_out(p, COM1 + 1, 1, 0x02); /* IER: transmitter holding register empty */
	hl_word_t bits = poll_bits(n);
	hl_ioport_in(p, COM1 + 2, 1, &iir); /* reading IIR clears the THRE interrupt */
	hl_ioport_out(p, COM1 + 1, 1, 0x00);
	UEXPECT(t, bits == 1u << COM1_IRQ, "bits %#lx", bits);
	UEXPECT(t, (iir & 0x0f) == 0x02 || (iir & 1), "IIR %#lx", iir);
	UEXPECT_ERR(t, hl_irq_handler_ack(h), HL_OK);
	/* Once more after the acknowledgement: the line is live again. */
	com1_wait_idle(p);
	hl_ioport_out(p, COM1 + 1, 1, 0x02);
	bits = poll_bits(n);
	hl_ioport_in(p, COM1 + 2, 1, &iir);
	hl_ioport_out(p, COM1 + 1, 1, 0x00);
	hl_ioport_out(p, COM1 + 4, 1, 0x03); /* MCR as the kernel set it */
	UEXPECT(t, bits == 1u << COM1_IRQ, "second interrupt: bits %#lx", bits);
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, h), HL_OK);
}
