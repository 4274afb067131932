# Static checks over every C file in the tree, and the formatter.
#
#   make check     clang-format, cppcheck, clang-tidy, the prototype and arch-interface
#                  rules (tools/check.sh); fails on any finding
#   make format    rewrite every .c and .h file with clang-format (.clang-format)
#   make test-check   the same checks as a test group -> $(RESULTS)/check.tap
#
# Each file is checked with the flags it is built with: $(COMPDB) is made
# from the compiler commands `make -n -B` prints for the whole build and
# every test group (tools/compdb.py). Recipe lines that run $(MAKE) execute
# even under -n, so MAKE=false turns them into no-ops whose "not ok" lines
# land in a scratch results folder.

COMPDB := $(B)/compile_commands.json
FORMAT_DIRS := kernel arch lib user hosted tests tools include
COMPDB_GOALS = all $(INITRD_KBENCH) $(ACPI_B)/acpi_test $(addprefix test-,$(filter-out check kernel-clang,$(TEST_GROUPS)))

.PHONY: check format test-check compdb
compdb:
	@mkdir -p $(B)/check
	@$(MAKE) --no-print-directory -s $(GEN_HDRS)
	@$(MAKE) --no-print-directory -n -B -k MAKE=false RESULTS=$(B)/check/dry $(COMPDB_GOALS) 2> /dev/null | \
		python3 tools/compdb.py > $(COMPDB).tmp && mv $(COMPDB).tmp $(COMPDB)

check: compdb
	@bash tools/check.sh

format:
	find $(FORMAT_DIRS) -name '*.[ch]' -print0 | xargs -0 clang-format -i

TEST_GROUPS += check
# make test runs the checks in the background (TEST_BESIDE in the top Makefile): the
# compilation database first, in the foreground (its make -n reads the .d files the
# other groups' compilers write), then the checkers beside the other groups.
TEST_BESIDE += check
TEST_PREP_check := compdb
TEST_ARGS_check := CHECK_COMPDB_READY=1
test-check: $(if $(CHECK_COMPDB_READY),,compdb)
	@mkdir -p $(RESULTS)
	-@bash tools/check.sh --tap $(RESULTS)/check.tap > /dev/null
