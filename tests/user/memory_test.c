/* Ring-3 suite "memory": retype and memory info. */
#include "utest.h"

UTEST(memory, retype_every_type)
{
	static const uint32_t types[][2] = {
	    {HL_OBJ_FRAME, 12},     {HL_OBJ_ASPACE, 0},
	    {HL_OBJ_PAGE_TABLE, 0}, {HL_OBJ_THREAD, 0},
	    {HL_OBJ_ENDPOINT, 0},   {HL_OBJ_NOTIFICATION, 0},
	    {HL_OBJ_CSPACE, 4},     {HL_OBJ_MEMORY, 16},
	    {HL_OBJ_FRAME, 21}, /* last: it takes the upper half of the suite's 4 MiB */
	};
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		UEXPECT(t, ut_alloc(t, types[i][0], types[i][1]) != 0, "type %u", types[i][0]);
}

UTEST(memory, retype_charges_the_memory)
{
	hl_word_t before, after;

	hl_memory_info(t->mem, NULL, NULL, &before, NULL);
	UCHECK(t, ut_alloc(t, HL_OBJ_FRAME, 12));
	hl_memory_info(t->mem, NULL, NULL, &after, NULL);
	UEXPECT(t, before - after >= 4096, "%lu -> %lu", before, after);
}

UTEST(memory, retype_exhausted_is_no_memory)
{
	hl_cptr_t small = ut_alloc(t, HL_OBJ_MEMORY, 13), s = ut_slot();

	ut_slot(); /* the second frame goes to s + 1 */
	UEXPECT_ERR(t, hl_memory_retype(small, HL_OBJ_FRAME, 12, 2, s), HL_OK);
	UEXPECT_ERR(t, hl_memory_retype(small, HL_OBJ_FRAME, 12, 1, ut_slot()), HL_ERR_NO_MEMORY);
	UEXPECT_ERR(t, hl_memory_retype(small, HL_OBJ_FRAME, 21, 1, ut_slot()), HL_ERR_INVALID_ARG);
}

UTEST(memory, retype_bad_arguments)
{
	hl_cptr_t s = ut_slot();

	UEXPECT_ERR(t, hl_memory_retype(t->mem, 999, 12, 1, s), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_memory_retype(t->mem, HL_OBJ_FRAME, 13, 1, s), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_memory_retype(t->mem, HL_OBJ_CSPACE, 0, 1, s), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_memory_retype(t->mem, HL_OBJ_IRQ_HANDLER, 0, 1, s), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_memory_retype(t->mem, HL_OBJ_FRAME, 12, 0, s), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_memory_retype(t->mem, HL_OBJ_FRAME, 12, 1, 1u << 20), HL_ERR_INVALID_CAP);
}

UTEST(memory, retype_into_occupied_slot)
{
	UEXPECT_ERR(t, hl_memory_retype(t->mem, HL_OBJ_ENDPOINT, 0, 1, HL_SLOT_DEBUG),
	            HL_ERR_SLOT_OCCUPIED);
}

UTEST(memory, retype_wrong_type_and_empty)
{
	UEXPECT_ERR(t, hl_memory_retype(HL_SLOT_DEBUG, HL_OBJ_FRAME, 12, 1, ut_slot()),
	            HL_ERR_ILLEGAL_OP);
	UEXPECT_ERR(t, hl_memory_retype(ut_slot(), HL_OBJ_FRAME, 12, 1, ut_slot()),
	            HL_ERR_INVALID_CAP);
}

/* Device memory (a memory BAR, through a PCI device capability) makes frames and smaller memory
 * only. */
UTEST(memory, device_memory_only_frames)
{
	const struct hl_bootinfo *bi = rt_self.bi;

	for (uint32_t i = 0; i < bi->npci; i++) {
		hl_cptr_t d = ut_slot();
		if (bi->pci[i].class == 0x06 ||
		    hl_pci_control_issue(HL_SLOT_PCI_CONTROL, i, d) != HL_OK)
			continue;
		for (hl_word_t b = 0; b < 6; b++) {
			hl_cptr_t mem = ut_slot();
			if (hl_pci_device_map_bar(d, b, mem) != HL_OK ||
			    hl_memory_info(mem, NULL, NULL, NULL, NULL) != HL_OK)
				continue;
			UEXPECT_ERR(t, hl_memory_retype(mem, HL_OBJ_ENDPOINT, 0, 1, ut_slot()),
			            HL_ERR_INVALID_ARG);
			UEXPECT_ERR(t, hl_memory_retype(mem, HL_OBJ_PAGE_TABLE, 12, 1, ut_slot()),
			            HL_ERR_INVALID_ARG);
			return;
		}
	}
	rt_printf("        # no memory BAR of 4 KiB or more on any PCI function: skipped\n");
}

UTEST(memory, retype_same_size_memory_is_invalid)
{
	hl_cptr_t m = ut_alloc(t, HL_OBJ_MEMORY, 14);

	UEXPECT_ERR(t, hl_memory_retype(m, HL_OBJ_MEMORY, 14, 1, ut_slot()), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_memory_retype(m, HL_OBJ_MEMORY, 13, 1, ut_slot()), HL_OK);
}

UTEST(memory, info_reports_free_and_resets_after_revoke)
{
	hl_cptr_t m = ut_alloc(t, HL_OBJ_MEMORY, 16), s = ut_slot();
	hl_word_t paddr = 0, bits = 0, free = 0;

	UEXPECT_ERR(t, hl_memory_info(m, &paddr, &bits, &free, NULL), HL_OK);
	UEXPECT(t, bits == 16 && free == 65536 && paddr % 65536 == 0, "bits %lu free %lu", bits,
	        free);
	hl_memory_retype(m, HL_OBJ_FRAME, 12, 1, s);
	hl_memory_info(m, NULL, NULL, &free, NULL);
	UEXPECT(t, free == 65536 - 4096, "free %lu", free);
	UEXPECT_ERR(t, hl_cspace_revoke(HL_SLOT_CSPACE, m), HL_OK);
	hl_memory_info(m, NULL, NULL, &free, NULL);
	UEXPECT(t, free == 65536, "after revoke: free %lu", free);
}
