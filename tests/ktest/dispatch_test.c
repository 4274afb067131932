/*
 * ktest suite "dispatch": the invocation table by (object type, label)
 * that invoke_method reads (tools/genabi.py) names each method of
 * interface.tbl at its own place and nothing anywhere else.
 */
#include <hallows/labels.h>
#include <kernel/invoke.h>
#include <kernel/ktest.h>

KTEST(dispatch, every_method_at_its_place)
{
	unsigned found = 0;

	for (unsigned i = 0; i < kernel_nmethods; i++) {
		const struct method *m = &kernel_methods[i];
		KEXPECT(t,
		        m->obj_type < HL_OBJ_COUNT && m->label > 0 &&
		            m->label < KERNEL_METHOD_LABELS,
		        "%s: type %u label %u out of the table", m->name, m->obj_type, m->label);
		if (m->obj_type < HL_OBJ_COUNT && m->label < KERNEL_METHOD_LABELS)
			KEXPECT(t, kernel_method_at[m->obj_type][m->label] == m,
			        "%s not at its place", m->name);
	}
	for (unsigned type = 0; type < HL_OBJ_COUNT; type++)
		for (unsigned label = 0; label < KERNEL_METHOD_LABELS; label++) {
			const struct method *m = kernel_method_at[type][label];
			if (!m)
				continue;
			found++;
			KEXPECT(t, m->obj_type == type && m->label == label,
			        "[%u][%u] names %s (type %u label %u)", type, label, m->name,
			        m->obj_type, m->label);
		}
	KEXPECT(t, found == kernel_nmethods, "%u entries for %u methods", found, kernel_nmethods);
}

KTEST(dispatch, unknown_labels_refused)
{
	struct slot target = {0};
	struct invocation inv = {.target = &target};

	target.cap.type = HL_OBJ_THREAD;
	KEXPECT(t, invoke_method(&inv, 0, 6) == HL_ERR_ILLEGAL_OP, "label 0");
	KEXPECT(t, invoke_method(&inv, KERNEL_METHOD_LABELS, 6) == HL_ERR_ILLEGAL_OP,
	        "the first label past the table");
	KEXPECT(t, invoke_method(&inv, ~0ull, 6) == HL_ERR_ILLEGAL_OP, "label ~0");
	target.cap.type = HL_OBJ_NONE;
	KEXPECT(t, invoke_method(&inv, 1, 6) == HL_ERR_ILLEGAL_OP, "an empty slot");
	target.cap.type = HL_OBJ_ENDPOINT; /* endpoints have no methods */
	KEXPECT(t, invoke_method(&inv, 1, 6) == HL_ERR_ILLEGAL_OP, "an endpoint");
	target.cap.type = HL_OBJ_ASPACE;
	KEXPECT(t, invoke_method(&inv, HL_M_ASPACE_MAP, 0) == HL_ERR_INVALID_ARG,
	        "too few words for aspace.map");
}
