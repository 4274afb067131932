/*
 * Object invocations (HL_SYS_CALL on a non-endpoint capability).
 * Every method is split as STYLE.md asks: decode validates everything and
 * changes nothing; only then does it change state, which cannot fail.
 * Methods are listed in include/uapi/hallows/interface.tbl; the dispatch
 * table is generated from it (build/gen/kernel/dispatch.c).
 */
#ifndef KERNEL_INVOKE_H
#define KERNEL_INVOKE_H

#include <hallows/abi.h>
#include <kernel/cap.h>
#include <kernel/thread.h>

struct invocation {
	struct thread *caller;
	struct cspace *cspace; /* the caller's capability space */
	struct slot *target;   /* the invoked capability */
	uint64_t arg[6];
	uint64_t res[4]; /* results, returned in message words 0..3 */
	bool restart;    /* set by a preempted long operation: re-run the system call */
};

struct method {
	uint8_t obj_type;
	uint8_t label;
	uint8_t nargs;
	const char *name;
	int (*decode)(struct invocation *inv);
};

/* decode_<object>_<method>(), one per line of interface.tbl (generated). */
#include <kernel/decode.h>

extern const struct method kernel_methods[];
extern const unsigned kernel_nmethods;
/* kernel_methods by [object type][label]; NULL where the type has no such method. */
extern const struct method *const kernel_method_at[HL_OBJ_COUNT][KERNEL_METHOD_LABELS];

/* Find and run the method for (target type, label); returns an hl_err. */
int invoke_method(struct invocation *inv, uint64_t label, uint64_t len) __must_check;

/* Helpers for decoders: look up an argument capability in the caller's cspace. */
static inline int inv_cap(struct invocation *inv, int arg, uint8_t type, uint8_t rights,
                          struct slot **out)
{
	return cap_lookup(inv->cspace, inv->arg[arg], type, rights, out);
}

#endif
