/*
 * Just enough AML to find \_S5 (the SLP_TYPa/b values for soft-off) in a
 * DSDT that acpi.c has already validated. No interpreter: a byte scan for
 * NameOp "_S5_" followed by a package of small integers, with every read
 * bounded by the table. Freestanding C, no recursion, bounded loops.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acpi_aml.h"

#define AML_NAME_OP    0x08
#define AML_BYTE_PFX   0x0A
#define AML_WORD_PFX   0x0B
#define AML_DWORD_PFX  0x0C
#define AML_PACKAGE_OP 0x12
#define AML_ROOT_CHAR  0x5C /* '\' */

static uint32_t aml_rd(const uint8_t *p, uint32_t n)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

/*
 * Decode an AML PkgLength at off (1 to 4 bytes, ACPI 6.x 20.2.4). Returns
 * false when its bytes run past len; else the encoded length (which counts
 * the PkgLength bytes themselves) and how many bytes the encoding used.
 */
static bool aml_pkglen(const uint8_t *t, uint32_t len, uint32_t off, uint32_t *value,
                       uint32_t *nbytes)
{
	uint32_t follow, v;

	if (off >= len)
		return false;
	follow = t[off] >> 6;
	if (follow > len - off - 1)
		return false;
	if (follow == 0) {
		v = t[off] & 0x3Fu;
	} else {
		v = t[off] & 0x0Fu;
		for (uint32_t k = 0; k < follow; k++)
			v |= (uint32_t)t[off + 1 + k] << (4 + 8 * k);
	}
	*value = v;
	*nbytes = 1 + follow;
	return true;
}

/*
 * Decode one small integer package element at *off (before end): ZeroOp,
 * OneOp, Byte/Word/DWord prefix, or a bare byte 2..7 as some firmware emits.
 * Values over 0xFF cannot be SLP_TYP values and are refused.
 */
static bool aml_small_int(const uint8_t *t, uint32_t end, uint32_t *off, uint8_t *value)
{
	uint32_t at = *off, size, v;

	if (at >= end)
		return false;
	switch (t[at]) {
	case AML_BYTE_PFX:
		size = 2;
		break;
	case AML_WORD_PFX:
		size = 3;
		break;
	case AML_DWORD_PFX:
		size = 5;
		break;
	default:
		if (t[at] > 0x07) /* not ZeroOp, OneOp or a bare constant */
			return false;
		size = 1;
		break;
	}
	if (size > end - at)
		return false;
	v = size == 1 ? t[at] : aml_rd(t + at + 1, size - 1);
	if (v > 0xFF)
		return false;
	*value = (uint8_t)v;
	*off = at + size;
	return true;
}

/*
 * Decode "Package(n){a, b, ...}" whose PackageOp is at aml[off] into the
 * SLP_TYPa/b pair: the package must lie inside aml[0..len) and start with
 * two small integer elements. Returns NULL on success or why it failed.
 */
static const char *s5_package(const uint8_t *aml, uint32_t len, uint32_t off, uint8_t *typa,
                              uint8_t *typb)
{
	uint32_t pkglen, nbytes, end;
	uint8_t a, b;

	if (off >= len || aml[off] != AML_PACKAGE_OP)
		return "_S5_ is not a package";
	off++;
	if (!aml_pkglen(aml, len, off, &pkglen, &nbytes) || pkglen < nbytes + 1 ||
	    pkglen > len - off)
		return "package truncated";
	end = off + pkglen;
	off += nbytes;
	if (aml[off] < 2) /* NumElements */
		return "package has fewer than 2 elements";
	off++;
	if (!aml_small_int(aml, end, &off, &a) || !aml_small_int(aml, end, &off, &b))
		return "elements are not small integers";
	*typa = a;
	*typb = b;
	return NULL;
}

const char *acpi_aml_find_s5(const uint8_t *aml, uint32_t len, uint8_t *typa, uint8_t *typb)
{
	const char *why = "no _S5_ object";

	/* Bounded by len; the first occurrence that decodes wins. */
	for (uint32_t i = 1; i + 4 <= len; i++) {
		uint32_t op = i - 1;

		if (aml[i] != '_' || aml[i + 1] != 'S' || aml[i + 2] != '5' || aml[i + 3] != '_')
			continue;
		if (aml[op] == AML_ROOT_CHAR && op > 0)
			op--;
		if (aml[op] != AML_NAME_OP)
			continue;
		why = s5_package(aml, len, i + 4, typa, typb);
		if (why == NULL)
			return NULL;
	}
	return why;
}
