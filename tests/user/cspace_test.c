/* Ring-3 suite "cspace": copy, mint, move, delete, revoke and their errors. */
#include "utest.h"

UTEST(cspace, copy_and_delete)
{
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), c = ut_slot();

	UEXPECT_ERR(t, hl_cspace_copy(HL_SLOT_CSPACE, c, ep, HL_R_ALL), HL_OK);
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, c), HL_OK);
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, c), HL_OK); /* empty: nothing to do */
}

UTEST(cspace_errors, copy_into_occupied_slot)
{
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0);

	UEXPECT_ERR(t, hl_cspace_copy(HL_SLOT_CSPACE, HL_SLOT_DEBUG, ep, HL_R_ALL), HL_ERR_SLOT_OCCUPIED);
}

UTEST(cspace_errors, copy_from_empty_slot)
{
	UEXPECT_ERR(t, hl_cspace_copy(HL_SLOT_CSPACE, ut_slot(), ut_slot(), HL_R_ALL), HL_ERR_INVALID_CAP);
}

UTEST(cspace_errors, copy_bad_rights)
{
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0);

	UEXPECT_ERR(t, hl_cspace_copy(HL_SLOT_CSPACE, ut_slot(), ep, 0x100), HL_ERR_INVALID_ARG);
}

UTEST(cspace_errors, copy_memory_is_illegal)
{
	UEXPECT_ERR(t, hl_cspace_copy(HL_SLOT_CSPACE, ut_slot(), t->mem, HL_R_ALL), HL_ERR_ILLEGAL_OP);
}

UTEST(cspace_errors, invoke_non_cspace)
{
	UEXPECT_ERR(t, hl_cspace_copy(HL_SLOT_DEBUG, ut_slot(), HL_SLOT_DEBUG, HL_R_ALL), HL_ERR_ILLEGAL_OP);
}

UTEST(cspace, mint_badge_reaches_receiver)
{
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0), m = ut_slot();
	hl_word_t info = 0, badge = 0;
	struct hl_msg msg = { { 0 } };

	UEXPECT_ERR(t, hl_cspace_mint(HL_SLOT_CSPACE, m, n, HL_R_WRITE, 0x40), HL_OK);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, m, &info, &msg, NULL), HL_OK);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_POLL, n, &info, &msg, &badge), HL_OK);
	UEXPECT(t, badge == 0x40, "badge %#lx", badge);
}

UTEST(cspace_errors, mint_twice_is_illegal)
{
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0), m = ut_slot();

	UEXPECT_ERR(t, hl_cspace_mint(HL_SLOT_CSPACE, m, n, HL_R_ALL, 1), HL_OK);
	UEXPECT_ERR(t, hl_cspace_mint(HL_SLOT_CSPACE, ut_slot(), m, HL_R_ALL, 2), HL_ERR_ILLEGAL_OP);
}

UTEST(cspace_errors, mint_frame_is_wrong_type)
{
	hl_cptr_t f = ut_alloc(t, HL_OBJ_FRAME, 12);

	UEXPECT_ERR(t, hl_cspace_mint(HL_SLOT_CSPACE, ut_slot(), f, HL_R_ALL, 1), HL_ERR_WRONG_TYPE);
}

UTEST(cspace, reduced_rights_are_enforced)
{
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0), ro = ut_slot();
	hl_word_t info = 0;
	struct hl_msg msg = { { 0 } };

	UEXPECT_ERR(t, hl_cspace_copy(HL_SLOT_CSPACE, ro, n, HL_R_READ), HL_OK);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, ro, &info, &msg, NULL), HL_ERR_NO_RIGHTS);
}

UTEST(cspace, move_keeps_the_capability)
{
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0), dst = ut_slot();
	hl_word_t info = 0;
	struct hl_msg msg = { { 0 } };

	UEXPECT_ERR(t, hl_cspace_move(HL_SLOT_CSPACE, dst, n), HL_OK);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, n, &info, &msg, NULL), HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, dst, &info, &msg, NULL), HL_OK);
}

UTEST(cspace, revoke_deletes_derived)
{
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0), c1 = ut_slot(), c2 = ut_slot();
	hl_word_t info = 0;
	struct hl_msg msg = { { 0 } };

	hl_cspace_copy(HL_SLOT_CSPACE, c1, n, HL_R_ALL);
	hl_cspace_copy(HL_SLOT_CSPACE, c2, c1, HL_R_ALL);
	UEXPECT_ERR(t, hl_cspace_revoke(HL_SLOT_CSPACE, n), HL_OK);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, c1, &info, &msg, NULL), HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, c2, &info, &msg, NULL), HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, n, &info, &msg, NULL), HL_OK);
}

UTEST(cspace_errors, revoke_empty_slot)
{
	UEXPECT_ERR(t, hl_cspace_revoke(HL_SLOT_CSPACE, ut_slot()), HL_ERR_INVALID_CAP);
}

UTEST(cspace, revoke_many_is_preemptible)
{
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	hl_cptr_t first = 0;

	for (int i = 0; i < 300; i++) { /* more than one preemption budget (256) */
		hl_cptr_t s = ut_slot();
		if (!first)
			first = s;
		if (hl_cspace_copy(HL_SLOT_CSPACE, s, n, HL_R_ALL) != HL_OK)
			break;
	}
	UEXPECT_ERR(t, hl_cspace_revoke(HL_SLOT_CSPACE, n), HL_OK);
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, first), HL_OK);
	hl_word_t info = 0;
	struct hl_msg msg = { { 0 } };
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, first + 299, &info, &msg, NULL), HL_ERR_INVALID_CAP);
}
