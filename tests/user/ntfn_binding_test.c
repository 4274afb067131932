/*
 * A notification's binding ends with the capability the bound thread
 * holds, however that capability goes.
 *
 * Bug fixed: revoking the notification's capability deleted the copy the
 * bound thread held (a child of it) but left the notification pointing at
 * the thread: no other thread could bind it (HL_ERR_ILLEGAL_OP), a signal
 * still woke the thread from an endpoint receive, and once the thread was
 * destroyed the notification kept a pointer into freed memory, which a
 * signal would follow. Found by reading, while writing the system-call
 * fuzzer (user/apps/scfuzz).
 */
#include "utest.h"

UTEST(ntfn_binding, revoked_binding_lets_another_thread_bind)
{
	hl_cptr_t a = ut_alloc(t, HL_OBJ_THREAD, 0), b = ut_alloc(t, HL_OBJ_THREAD, 0);
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);

	if (!UCHECK(t, a && b && n))
		return;
	UEXPECT_ERR(t, hl_thread_bind_notification(a, n), HL_OK);
	UEXPECT_ERR(t, hl_cspace_revoke(HL_SLOT_CSPACE, n), HL_OK); /* deletes a's copy */
	UEXPECT_ERR(t, hl_thread_bind_notification(b, n), HL_OK);
}

UTEST(ntfn_binding, destroyed_thread_after_revoke_leaves_no_binding)
{
	hl_cptr_t a = ut_alloc(t, HL_OBJ_THREAD, 0), b = ut_alloc(t, HL_OBJ_THREAD, 0);
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	if (!UCHECK(t, a && b && n))
		return;
	UEXPECT_ERR(t, hl_thread_bind_notification(a, n), HL_OK);
	UEXPECT_ERR(t, hl_cspace_revoke(HL_SLOT_CSPACE, n), HL_OK);
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, a), HL_OK);         /* a is destroyed */
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, n, &info, &m, NULL), HL_OK); /* must not touch a */
	UEXPECT_ERR(t, hl_thread_bind_notification(b, n), HL_OK);
}
