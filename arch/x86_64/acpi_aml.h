/*
 * Private to arch/x86_64/acpi*.c: the little AML reading the ACPI parser
 * needs. Not an interpreter - just enough to pull \_S5 out of a DSDT.
 */
#ifndef ARCH_X86_64_ACPI_AML_H
#define ARCH_X86_64_ACPI_AML_H

#include <stdint.h>

/*
 * Find Name(_S5, Package(){SLP_TYPa, SLP_TYPb, ...}) in the AML bytes
 * aml[0..len) (a DSDT body, after its 36-byte header). Returns NULL and sets
 * *typa and *typb on success, else a constant string saying what was wrong; the
 * outputs are then untouched. Reads nothing outside aml[0..len).
 */
const char *acpi_aml_find_s5(const uint8_t *aml, uint32_t len, uint8_t *typa, uint8_t *typb);

#endif
