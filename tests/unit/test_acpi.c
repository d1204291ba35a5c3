/* acpi_build(): parse the tables the way an OS does (ACPI 6.4 chapter 5), by byte offsets
 * from the spec rather than kiln's own structs, so a wrong struct layout is caught. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/layout.h"
#include "hw/acpi_pm.h"
#include "hw/ged.h"
#include "pci/bar_alloc.h"

#define RAM_SIZE (64 * MIB)

static uint64_t rd(const struct guest_mem *m, uint64_t gpa, size_t len)
{
	uint64_t v = 0;

	assert_int_equal(guest_mem_read(m, gpa, &v, len), 0);
	return v;
}

static int has_bytes(const struct guest_mem *m, uint64_t gpa, const char *s, size_t len)
{
	const void *p = guest_mem_ptr(m, gpa, len);

	return p && memcmp(p, s, len) == 0;
}

/* Scans the BIOS area on 16-byte boundaries like Linux's acpi_find_root_pointer(). */
static uint64_t find_rsdp(const struct guest_mem *m)
{
	for (uint64_t gpa = LAYOUT_ACPI_START; gpa < LAYOUT_ACPI_END; gpa += 16) {
		const void *p = guest_mem_ptr(m, gpa, 20);

		if (has_bytes(m, gpa, "RSD PTR ", 8) && acpi_checksum(p, 20) == 0)
			return gpa;
	}
	fail_msg("no RSDP");
	return 0;
}

/* Checks a table's header (ACPI 6.4 5.2.6) and checksum; returns its length. */
static uint32_t check_table(const struct guest_mem *m, uint64_t gpa, const char *sig)
{
	assert_true(gpa >= LAYOUT_ACPI_START && gpa < LAYOUT_ACPI_END);
	assert_true(has_bytes(m, gpa, sig, 4));
	uint32_t len = (uint32_t)rd(m, gpa + 4, 4);
	assert_true(len >= 36);
	assert_true(gpa + len <= LAYOUT_ACPI_END);
	assert_int_equal(acpi_checksum(guest_mem_ptr(m, gpa, len), len), 0);
	assert_true(has_bytes(m, gpa + 10, "KILN  ", 6));
	assert_true(has_bytes(m, gpa + 16, "KILNVMM ", 8));
	assert_true(has_bytes(m, gpa + 28, "KILN", 4));
	return len;
}

/* Returns the XSDT address after checking the RSDP (5.2.5.3). */
static uint64_t check_rsdp(const struct guest_mem *m)
{
	uint64_t rsdp = find_rsdp(m);

	assert_int_equal(rsdp, LAYOUT_ACPI_START);
	assert_int_equal(rd(m, rsdp + 15, 1), 2);
	assert_int_equal(rd(m, rsdp + 20, 4), 36);
	assert_int_equal(acpi_checksum(guest_mem_ptr(m, rsdp, 36), 36), 0);
	assert_true(has_bytes(m, rsdp + 9, "KILN  ", 6));
	return rd(m, rsdp + 24, 8);
}

static void check_gas_pm_port(const struct guest_mem *m, uint64_t gas)
{
	assert_int_equal(rd(m, gas, 1), 1);     /* system I/O */
	assert_int_equal(rd(m, gas + 1, 1), 8); /* bit width */
	assert_int_equal(rd(m, gas + 2, 1), 0); /* bit offset */
	assert_int_equal(rd(m, gas + 3, 1), 1); /* byte access */
	assert_int_equal(rd(m, gas + 4, 8), PORT_ACPI_PM);
}

/* FADT (5.2.9); returns the DSDT address. */
static uint64_t check_fadt(const struct guest_mem *m, uint64_t f)
{
	assert_int_equal(check_table(m, f, "FACP"), 276);
	assert_int_equal(rd(m, f + 8, 1), 6);
	assert_int_equal(rd(m, f + 131, 1), 3);
	uint32_t flags = (uint32_t)rd(m, f + 112, 4);
	assert_true(flags & (1u << 20)); /* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10)); /* RESET_REG_SUP */
	assert_true(flags & (1u << 4));  /* PWR_BUTTON: control-method device (\_SB.PWRB) */
	assert_true(flags & (1u << 5));  /* SLP_BUTTON: none */
	uint16_t boot_arch = (uint16_t)rd(m, f + 109, 2);
	assert_int_equal(boot_arch & 0x2e, 0); /* 8042, VGA absent, MSI absent, no RTC */
	check_gas_pm_port(m, f + 116);
	assert_int_equal(rd(m, f + 128, 1), ACPI_RESET_VALUE);
	check_gas_pm_port(m, f + 244); /* SLEEP_CONTROL_REG */
	check_gas_pm_port(m, f + 256); /* SLEEP_STATUS_REG */
	assert_true(has_bytes(m, f + 268, "KILNVMM\0", 8));
	assert_int_equal(rd(m, f + 106, 1), 0);    /* DAY_ALRM: none */
	assert_int_equal(rd(m, f + 107, 1), 0);    /* MON_ALRM: none */
	assert_int_equal(rd(m, f + 108, 1), 0x32); /* CENTURY: the CMOS century byte */
	assert_int_equal(rd(m, f + 56, 4), 0); /* no PM1a_EVT_BLK: hardware-reduced */
	uint64_t x_dsdt = rd(m, f + 140, 8);
	assert_int_equal(rd(m, f + 40, 4), x_dsdt);
	return x_dsdt;
}

static void check_madt(const struct guest_mem *m, uint64_t t, unsigned int nr_cpus)
{
	uint32_t len = check_table(m, t, "APIC");
	unsigned int lapics = 0, ioapics = 0, isos = 0, nmis = 0;
	static const uint8_t sizes[] = { [0] = 8, [1] = 12, [2] = 10, [4] = 6 };

	assert_int_equal(rd(m, t + 8, 1), 5);
	assert_int_equal(rd(m, t + 36, 4), LAYOUT_LAPIC_ADDR);
	uint64_t e = t + 44;
	while (e < t + len) {
		uint8_t type = (uint8_t)rd(m, e, 1), elen = (uint8_t)rd(m, e + 1, 1);

		assert_true(type < sizeof(sizes) && sizes[type] != 0);
		assert_int_equal(elen, sizes[type]);
		if (type == 0) {
			assert_int_equal(rd(m, e + 2, 1), lapics); /* UID */
			assert_int_equal(rd(m, e + 3, 1), lapics); /* APIC ID */
			assert_int_equal(rd(m, e + 4, 4) & 1, 1); /* Enabled */
			lapics++;
		} else if (type == 1) {
			assert_int_equal(rd(m, e + 2, 1), nr_cpus); /* no collision with LAPIC ids */
			assert_int_equal(rd(m, e + 4, 4), LAYOUT_IOAPIC_ADDR);
			assert_int_equal(rd(m, e + 8, 4), 0);
			ioapics++;
		} else if (type == 2) {
			uint8_t irq = (uint8_t)rd(m, e + 3, 1);

			assert_int_equal(rd(m, e + 2, 1), 0); /* ISA bus */
			assert_int_equal(rd(m, e + 4, 4), irq == 0 ? 2 : irq);
			assert_int_equal(rd(m, e + 8, 2), irq == 0 ? 0 : 0xd);
			assert_true(irq == 0 || irq == 9);
			isos++;
		} else {
			assert_int_equal(rd(m, e + 2, 1), 0xff);
			assert_int_equal(rd(m, e + 5, 1), 1); /* LINT1 */
			nmis++;
		}
		e += elen;
	}
	assert_int_equal(e, t + len);
	assert_int_equal(lapics, nr_cpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 2);
	assert_int_equal(nmis, 1);
}

/* Decodes an AML PkgLength (20.2.4) at `gpa`; sets *nbytes to its size. */
static uint32_t aml_pkglen(const struct guest_mem *m, uint64_t gpa, unsigned int *nbytes)
{
	uint8_t lead = (uint8_t)rd(m, gpa, 1);
	unsigned int follow = lead >> 6;
	uint32_t v;

	*nbytes = follow + 1;
	if (!follow)
		return lead & 0x3f;
	v = lead & 0xf;
	for (unsigned int k = 1; k <= follow; k++)
		v |= (uint32_t)rd(m, gpa + k, 1) << (4 + 8 * (k - 1));
	return v;
}

/* Decodes a compressed EISA ID (ACPI 6.4 6.1.5) as Linux's acpi_ex_eisa_id_to_string(). */
static void eisa_id(const struct guest_mem *m, uint64_t gpa, char out[8])
{
	static const char hex[] = "0123456789ABCDEF";
	uint32_t v = 0;

	for (unsigned int i = 0; i < 4; i++)
		v = v << 8 | (uint32_t)rd(m, gpa + i, 1);
	out[0] = (char)(0x40 + ((v >> 26) & 0x1f));
	out[1] = (char)(0x40 + ((v >> 21) & 0x1f));
	out[2] = (char)(0x40 + ((v >> 16) & 0x1f));
	for (unsigned int i = 0; i < 4; i++)
		out[3 + i] = hex[(v >> (12 - 4 * i)) & 0xf];
	out[7] = '\0';
}

/* Walks a resource template (6.4) from `p` to `end`: exactly one 16-bit-decode I/O
 * descriptor for ports 0x70-0x71, no IRQ (small type 4) or Extended Interrupt (large 0x89)
 * descriptor, then the end tag as the last two bytes. */
static void check_rtc_resources(const struct guest_mem *m, uint64_t p, uint64_t end)
{
	unsigned int ios = 0;

	while (p < end) {
		uint8_t tag = (uint8_t)rd(m, p, 1);

		if (tag & 0x80) { /* large item: 16-bit length follows */
			assert_int_not_equal(tag, 0x89);
			p += 3 + rd(m, p + 1, 2);
			continue;
		}
		if (tag >> 3 == 0x0f) { /* end tag */
			assert_int_equal(tag & 7, 1);
			assert_int_equal(p + 2, end);
			assert_int_equal(ios, 1);
			return;
		}
		assert_int_not_equal(tag >> 3, 0x04); /* IRQ: the model raises none */
		if (tag >> 3 == 0x08) {
			assert_int_equal(tag & 7, 7);
			assert_int_equal(rd(m, p + 1, 1), 1);    /* 16-bit decode */
			assert_int_equal(rd(m, p + 2, 2), 0x70); /* _MIN: Linux checks 0x70 */
			assert_int_equal(rd(m, p + 4, 2), 0x70); /* _MAX */
			assert_int_equal(rd(m, p + 7, 1), 2);    /* _LEN: index and data */
			ios++;
		}
		p += 1 + (tag & 7);
	}
	fail_msg("resource template without an end tag");
}

/* Device(RTC_) with _HID EisaId("PNP0B00") and a _CRS buffer; without it Linux's rtc_cmos
 * falls back to a platform device on IRQ 8, which has no descriptor on a hardware-reduced
 * platform, and its probe fails with -EINVAL. Returns the end of the device. */
static uint64_t check_rtc_device(const struct guest_mem *m, uint64_t p, uint64_t end)
{
	unsigned int n;
	char id[8];

	assert_true(has_bytes(m, p, "\x5b\x82", 2)); /* DeviceOp */
	uint64_t dev_end = p + 2 + aml_pkglen(m, p + 2, &n);
	assert_true(dev_end <= end);
	p += 2 + n;
	assert_true(has_bytes(m, p, "RTC_\x08_HID\x0c", 10)); /* DWordPrefix */
	eisa_id(m, p + 10, id);
	assert_string_equal(id, "PNP0B00");
	p += 14;
	assert_true(has_bytes(m, p, "\x08_CRS\x11", 6)); /* BufferOp */
	p += 6;
	uint64_t buf_end = p + aml_pkglen(m, p, &n);
	assert_int_equal(buf_end, dev_end);
	p += n;
	assert_int_equal(rd(m, p, 1), 0x0a); /* BytePrefix buffer size */
	assert_int_equal(rd(m, p + 1, 1), buf_end - (p + 2));
	check_rtc_resources(m, p + 2, buf_end);
	return dev_end;
}

/* Device(COM1) with _HID EisaId("PNP0501"), I/O 0x3f8-0x3ff and IRQ 4: on a hardware-reduced
 * platform the 8250 driver gets IRQ 4 only through it. Returns the end of the device. */
static uint64_t check_com1_device(const struct guest_mem *m, uint64_t p, uint64_t end)
{
	static const uint8_t res[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
				       0x22, 0x10, 0x00, 0x79, 0x00 };
	unsigned int n;
	char id[8];

	assert_true(has_bytes(m, p, "\x5b\x82", 2)); /* DeviceOp */
	uint64_t dev_end = p + 2 + aml_pkglen(m, p + 2, &n);
	assert_true(dev_end <= end);
	p += 2 + n;
	assert_true(has_bytes(m, p, "COM1\x08_HID\x0c", 10));
	eisa_id(m, p + 10, id);
	assert_string_equal(id, "PNP0501");
	p += 14;
	assert_true(has_bytes(m, p, "\x08_CRS\x11", 6));
	p += 6;
	uint64_t buf_end = p + aml_pkglen(m, p, &n);
	assert_int_equal(buf_end, dev_end);
	p += n;
	assert_int_equal(rd(m, p, 1), 0x0a);
	assert_int_equal(rd(m, p + 1, 1), sizeof(res));
	assert_int_equal(buf_end - (p + 2), sizeof(res));
	assert_true(has_bytes(m, p + 2, (const char *)res, sizeof(res)));
	return dev_end;
}

/* Walks the _CRS resource template of the GED from `p` to `end`: exactly one Extended
 * Interrupt Descriptor (ACPI 6.4 6.4.3.6) - consumer, edge-triggered, active-high, exclusive,
 * not wake-capable, one interrupt: IRQ_GED, no resource source - then the end tag. */
static void check_ged_resources(const struct guest_mem *m, uint64_t p, uint64_t end)
{
	assert_int_equal(rd(m, p, 1), 0x89);           /* large item, type 9 */
	assert_int_equal(rd(m, p + 1, 2), 6);          /* length: no ResourceSource */
	assert_int_equal(rd(m, p + 3, 1), 0x03);       /* flags: bit 0 consumer, bit 1 edge */
	assert_int_equal(rd(m, p + 4, 1), 1);          /* interrupt table length */
	assert_int_equal(rd(m, p + 5, 4), IRQ_GED);
	p += 3 + 6;
	assert_int_equal(rd(m, p, 1), 0x79);           /* end tag */
	assert_int_equal(p + 2, end);
}

/* Device(GED_) { _HID "ACPI0013", _UID, _CRS, OperationRegion(GDST, SystemMemory, GED status
 * register, 4), Field(GDST, DWordAcc, NoLock, WriteAsZeros) { GDAT, 32 }, Method(_EVT, 1) {
 * Local0 = GDAT; If (Local0 & GED_EVENT_POWER_BUTTON) { Notify(\_SB.PWRB, 0x80) } } }
 * (ACPI 6.4 5.6.9; encodings 20.2). Returns the end of the device. */
static uint64_t check_ged_device(const struct guest_mem *m, uint64_t p, uint64_t end)
{
	unsigned int n;

	assert_true(has_bytes(m, p, "\x5b\x82", 2)); /* DeviceOp */
	uint64_t dev_end = p + 2 + aml_pkglen(m, p + 2, &n);
	assert_true(dev_end <= end);
	p += 2 + n;
	assert_true(has_bytes(m, p, "GED_", 4));
	p += 4;
	/* Name(_HID, "ACPI0013"): a string, as evged.c matches it (not an EISA ID). */
	assert_true(has_bytes(m, p, "\x08_HID\x0d" "ACPI0013\0", 15));
	p += 15;
	assert_true(has_bytes(m, p, "\x08_UID\x00", 6)); /* Zero */
	p += 6;

	assert_true(has_bytes(m, p, "\x08_CRS\x11", 6)); /* BufferOp */
	p += 6;
	uint64_t buf_end = p + aml_pkglen(m, p, &n);
	p += n;
	assert_int_equal(rd(m, p, 1), 0x0a); /* BytePrefix buffer size */
	assert_int_equal(rd(m, p + 1, 1), buf_end - (p + 2));
	check_ged_resources(m, p + 2, buf_end);
	p = buf_end;

	/* OperationRegion: ExtOpPrefix 0x80, name, SystemMemory (0), DWord offset, Byte length. */
	assert_true(has_bytes(m, p, "\x5b\x80GDST\x00\x0c", 8));
	assert_int_equal(rd(m, p + 8, 4), LAYOUT_GED_ADDR + GED_REG_EVENT_STATUS);
	assert_true(has_bytes(m, p + 12, "\x0a\x04", 2));
	p += 14;

	/* Field: ExtOpPrefix 0x81, PkgLength, region, flags, NamedField "GDAT" 32 bits. */
	assert_true(has_bytes(m, p, "\x5b\x81", 2));
	uint64_t field_end = p + 2 + aml_pkglen(m, p + 2, &n);
	p += 2 + n;
	assert_true(has_bytes(m, p, "GDST", 4));
	uint8_t flags = (uint8_t)rd(m, p + 4, 1);
	assert_int_equal(flags & 0x0f, 3);    /* DWordAcc: one 32-bit read of the register */
	assert_int_equal(flags & 0x10, 0);    /* NoLock */
	assert_true(has_bytes(m, p + 5, "GDAT\x20", 5));
	p += 10;
	assert_int_equal(p, field_end);

	/* Method(_EVT, 1, ...): MethodOp, PkgLength, name, flags (ArgCount in bits 0-2). */
	assert_int_equal(rd(m, p, 1), 0x14);
	uint64_t method_end = p + 1 + aml_pkglen(m, p + 1, &n);
	assert_int_equal(method_end, dev_end);
	p += 1 + n;
	assert_true(has_bytes(m, p, "_EVT", 4));
	assert_int_equal(rd(m, p + 4, 1) & 7, 1);
	p += 5;
	assert_true(has_bytes(m, p, "\x70GDAT\x60", 6)); /* Store(GDAT, Local0) */
	p += 6;
	assert_int_equal(rd(m, p, 1), 0xa0);              /* IfOp */
	uint64_t if_end = p + 1 + aml_pkglen(m, p + 1, &n);
	assert_int_equal(if_end, method_end);
	p += 1 + n;
	/* And(Local0, One, NullName): One is GED_EVENT_POWER_BUTTON. */
	assert_int_equal(GED_EVENT_POWER_BUTTON, 1);
	assert_true(has_bytes(m, p, "\x7b\x60\x01\x00", 4));
	p += 4;
	/* Notify(\_SB_.PWRB, 0x80): RootChar, DualNamePrefix, two NameSegs, BytePrefix 0x80. */
	assert_true(has_bytes(m, p, "\x86\x5c\x2e_SB_PWRB\x0a\x80", 13));
	p += 13;
	assert_int_equal(p, dev_end);
	return dev_end;
}

/* Device(PWRB) { Name(_HID, EisaId("PNP0C0C")) Name(_UID, Zero) }: the control-method power
 * button (ACPI 6.4 4.8.2.2.1.2) Linux's button driver binds. Returns the end of the device. */
static uint64_t check_pwrb_device(const struct guest_mem *m, uint64_t p, uint64_t end)
{
	unsigned int n;
	char id[8];

	assert_true(has_bytes(m, p, "\x5b\x82", 2));
	uint64_t dev_end = p + 2 + aml_pkglen(m, p + 2, &n);
	assert_true(dev_end <= end);
	p += 2 + n;
	assert_true(has_bytes(m, p, "PWRB\x08_HID\x0c", 10));
	eisa_id(m, p + 10, id);
	assert_string_equal(id, "PNP0C0C");
	p += 14;
	assert_true(has_bytes(m, p, "\x08_UID\x00", 6));
	p += 6;
	assert_int_equal(p, dev_end);
	return dev_end;
}

/* One Word/DWord/QWord Address Space Descriptor (ACPI 6.4 6.4.3.5.1-3; `width` 2, 4, 8) at
 * `p`: ResourceProducer, MinFixed, MaxFixed, PosDecode, _GRA and _TRA 0, no ResourceSource,
 * covering [min, min + len). Returns the next descriptor. */
static uint64_t check_addr_desc(const struct guest_mem *m, uint64_t p, uint8_t tag,
				unsigned int width, uint8_t type, uint8_t type_flags, uint64_t min,
				uint64_t len)
{
	assert_int_equal(rd(m, p, 1), tag);
	assert_int_equal(rd(m, p + 1, 2), 3 + 5 * width);
	assert_int_equal(rd(m, p + 3, 1), type);
	assert_int_equal(rd(m, p + 4, 1), 0x0c);       /* bits 2-3 _MIF _MAF; bit 0 producer */
	assert_int_equal(rd(m, p + 5, 1), type_flags);
	p += 6;
	assert_int_equal(rd(m, p, width), 0);           /* _GRA */
	assert_int_equal(rd(m, p + width, width), min);
	assert_int_equal(rd(m, p + 2 * width, width), min + len - 1);
	assert_int_equal(rd(m, p + 3 * width, width), 0); /* _TRA */
	assert_int_equal(rd(m, p + 4 * width, width), len);
	return p + 5 * width;
}

/* PCI0's _CRS from `p` to `end`: bus 0 only; the config ports 0xcf8-0xcff as a plain I/O
 * descriptor (Linux drops it from the windows); I/O windows for every other port; the 32-bit
 * BAR window, non-cacheable; the 64-bit one at `mmio64`, cacheable; the end tag. */
static void check_pci0_resources(const struct guest_mem *m, uint64_t p, uint64_t end,
				 uint64_t mmio64)
{
	static const uint8_t cf8[] = { 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08 };

	p = check_addr_desc(m, p, 0x88, 2, 2, 0, 0, 1);                /* bus numbers 0-0 */
	assert_true(has_bytes(m, p, (const char *)cf8, sizeof(cf8)));
	p += sizeof(cf8);
	p = check_addr_desc(m, p, 0x88, 2, 1, 0x03, 0, 0xcf8);         /* EntireRange */
	p = check_addr_desc(m, p, 0x88, 2, 1, 0x03, 0xd00, 0xf300);
	p = check_addr_desc(m, p, 0x87, 4, 0, 0x01, 0xc0000000, 640 * MIB); /* RW, non-cacheable */
	assert_true(0xc0000000 + 640 * MIB <= LAYOUT_PCI_ECAM_BASE);
	p = check_addr_desc(m, p, 0x8a, 8, 0, 0x03, mmio64, 64 * GIB); /* RW, cacheable */
	assert_true(has_bytes(m, p, "\x79\x00", 2));
	assert_int_equal(p + 2, end);
}

/* Name(seg, EisaId(id)) at `p`; returns the next object. */
static uint64_t check_name_eisaid(const struct guest_mem *m, uint64_t p, const char *seg,
				  const char *id)
{
	char got[8];

	assert_int_equal(rd(m, p, 1), 0x08);
	assert_true(has_bytes(m, p + 1, seg, 4));
	assert_int_equal(rd(m, p + 5, 1), 0x0c); /* DWordPrefix */
	eisa_id(m, p + 6, got);
	assert_string_equal(got, id);
	return p + 10;
}

/* Name(_CRS, Buffer) at `p`: sets *res to the resource template; returns the buffer's end. */
static uint64_t check_name_crs(const struct guest_mem *m, uint64_t p, uint64_t *res)
{
	unsigned int n;

	assert_true(has_bytes(m, p, "\x08_CRS\x11", 6)); /* BufferOp */
	p += 6;
	uint64_t buf_end = p + aml_pkglen(m, p, &n);
	p += n;
	assert_int_equal(rd(m, p, 1), 0x0a); /* BytePrefix buffer size */
	assert_int_equal(rd(m, p + 1, 1), buf_end - (p + 2));
	*res = p + 2;
	return buf_end;
}

/* Device(PCI0): the PCI Express root bridge of segment 0 (PCI Firmware Spec 3.3 4.1.5; ACPI
 * 6.4 6.5.6 _BBN, 6.5.7 _SEG), with _CRS windows and an _OSC that begins
 * CreateDWordField(Arg3, Zero, CDW1) If (Arg0 == ToUUID(PCI host bridge)). The _OSC's
 * behaviour is checked with acpiexec. Returns the end of the device. */
static uint64_t check_pci0_device(const struct guest_mem *m, uint64_t p, uint64_t end,
				  uint64_t mmio64)
{
	static const char osc_start[] = "\x8a\x6b\x00" "CDW1" "\xa0";
	static const char uuid[] = "\x5b\x4d\xdb\x33\xf7\x1f\x1c\x40"
				   "\x96\x57\x74\x41\xc0\x3d\xd7\x66";
	unsigned int n;
	uint64_t res;

	assert_true(has_bytes(m, p, "\x5b\x82", 2)); /* DeviceOp */
	uint64_t dev_end = p + 2 + aml_pkglen(m, p + 2, &n);
	assert_true(dev_end <= end);
	p += 2 + n;
	assert_true(has_bytes(m, p, "PCI0", 4));
	p = check_name_eisaid(m, p + 4, "_HID", "PNP0A08");
	p = check_name_eisaid(m, p, "_CID", "PNP0A03");
	assert_true(has_bytes(m, p, "\x08_ADR\x00\x08_SEG\x00\x08_UID\x00\x08_BBN\x00", 24));
	p += 24;
	p = check_name_crs(m, p, &res);
	check_pci0_resources(m, res, p, mmio64);

	assert_int_equal(rd(m, p, 1), 0x14); /* MethodOp */
	assert_int_equal(p + 1 + aml_pkglen(m, p + 1, &n), dev_end);
	p += 1 + n;
	assert_true(has_bytes(m, p, "_OSC\x04", 5)); /* 4 arguments, not serialized */
	p += 5;
	assert_true(has_bytes(m, p, osc_start, sizeof(osc_start) - 1));
	p += sizeof(osc_start) - 1;
	assert_true(p + aml_pkglen(m, p, &n) < dev_end); /* If, then Else and Return follow */
	p += n;
	assert_true(has_bytes(m, p, "\x93\x68\x11", 3)); /* LEqual(Arg0, Buffer */
	p += 3;
	uint64_t buf_end = p + aml_pkglen(m, p, &n);
	p += n;
	assert_true(has_bytes(m, p, "\x0a\x10", 2));  /* BufferSize 16 */
	assert_true(has_bytes(m, p + 2, uuid, 16));
	assert_int_equal(p + 18, buf_end);
	return dev_end;
}

/* Device(MBRD) { _HID EisaId("PNP0C02"), _UID Zero, _CRS Memory32Fixed(ReadWrite, ECAM) }:
 * Linux uses the MCFG's ECAM only once motherboard resources (or e820) reserve it. */
static uint64_t check_mbrd_device(const struct guest_mem *m, uint64_t p, uint64_t end)
{
	unsigned int n;
	uint64_t res;

	assert_true(has_bytes(m, p, "\x5b\x82", 2));
	uint64_t dev_end = p + 2 + aml_pkglen(m, p + 2, &n);
	assert_true(dev_end <= end);
	p += 2 + n;
	assert_true(has_bytes(m, p, "MBRD", 4));
	p = check_name_eisaid(m, p + 4, "_HID", "PNP0C02");
	assert_true(has_bytes(m, p, "\x08_UID\x00", 6));
	p = check_name_crs(m, p + 6, &res);
	assert_int_equal(p, dev_end);
	assert_true(has_bytes(m, res, "\x86\x09\x00\x01", 4)); /* 6.4.3.4, _RW */
	assert_int_equal(rd(m, res + 4, 4), 0xe8000000);
	assert_int_equal(rd(m, res + 8, 4), 1 * MIB);
	assert_true(has_bytes(m, res + 12, "\x79\x00", 2));
	assert_int_equal(res + 14, dev_end);
	return dev_end;
}

/* MCFG (PCI Firmware Spec 3.3 4.1.2, tables 4-2 and 4-3): revision 1, 8 reserved bytes, one
 * 16-byte allocation: ECAM base, segment 0, buses 0-0, 4 reserved bytes. */
static void check_mcfg(const struct guest_mem *m, uint64_t t)
{
	assert_int_equal(check_table(m, t, "MCFG"), 44 + 16);
	assert_int_equal(rd(m, t + 8, 1), 1);
	assert_int_equal(rd(m, t + 36, 8), 0);
	assert_int_equal(rd(m, t + 44, 8), 0xe8000000);
	assert_int_equal(rd(m, t + 44, 8), LAYOUT_PCI_ECAM_BASE);
	assert_int_equal(rd(m, t + 52, 2), 0); /* segment group */
	assert_int_equal(rd(m, t + 54, 1), 0); /* start bus */
	assert_int_equal(rd(m, t + 55, 1), 0); /* end bus */
	assert_int_equal(rd(m, t + 56, 4), 0);
	/* 1 MiB of ECAM per bus (PCIe Base 7.2.2): the window holds exactly buses 0-0. */
	assert_int_equal(LAYOUT_PCI_ECAM_SIZE, (0 - 0 + 1) * MIB);
}

/* DSDT: \_S5_ package with SLP_TYPa 5, then Scope(\_SB_) holding one ACPI0007 device per
 * CPU whose _UID is its index, the PNP0B00 RTC, COM1, the GED, the power button, the PCI host
 * bridge (64-bit window at `mmio64`) and the motherboard resources, ending exactly at the
 * table's end. */
static void check_dsdt(const struct guest_mem *m, uint64_t t, unsigned int nr_cpus,
		       uint64_t mmio64)
{
	uint32_t len = check_table(m, t, "DSDT");
	uint64_t p = t + 36, end = t + len;
	unsigned int n;

	assert_int_equal(rd(m, t + 8, 1), 2);
	assert_true(has_bytes(m, p, "\x08\\_S5_\x12", 7));
	p += 7;
	uint64_t pkg_end = p + aml_pkglen(m, p, &n);
	p += n;
	assert_true(rd(m, p, 1) >= 2); /* NumElements */
	assert_int_equal(rd(m, p + 1, 1), 0x0a); /* BytePrefix */
	assert_int_equal(rd(m, p + 2, 1), ACPI_SLP_TYP_S5);
	p = pkg_end;
	assert_int_equal(rd(m, p, 1), 0x10); /* ScopeOp */
	assert_int_equal(p + 1 + aml_pkglen(m, p + 1, &n), end);
	p += 1 + n;
	assert_true(has_bytes(m, p, "\\_SB_", 5));
	p += 5;
	for (unsigned int i = 0; i < nr_cpus; i++) {
		assert_true(has_bytes(m, p, "\x5b\x82", 2)); /* DeviceOp */
		uint64_t dev_end = p + 2 + aml_pkglen(m, p + 2, &n);
		assert_true(dev_end <= end);
		assert_true(has_bytes(m, p + 2 + n + 4, "\x08_HID\x0d" "ACPI0007", 14));
		assert_true(has_bytes(m, dev_end - 7, "\x08_UID\x0a", 6));
		assert_int_equal(rd(m, dev_end - 1, 1), i);
		p = dev_end;
	}
	p = check_rtc_device(m, p, end);
	p = check_com1_device(m, p, end);
	p = check_ged_device(m, p, end);
	p = check_pwrb_device(m, p, end);
	p = check_pci0_device(m, p, end, mmio64);
	p = check_mbrd_device(m, p, end);
	assert_int_equal(p, end);
}

/* All tables; the PCI 64-bit window starts at `mmio64`. */
static void check_all(const struct guest_mem *m, unsigned int nr_cpus, uint64_t mmio64)
{
	uint64_t xsdt = check_rsdp(m);
	uint32_t len = check_table(m, xsdt, "XSDT");
	uint64_t fadt = 0, madt = 0, mcfg = 0;

	assert_int_equal((len - 36) % 8, 0);
	for (uint64_t e = xsdt + 36; e < xsdt + len; e += 8) {
		uint64_t t = rd(m, e, 8);

		if (has_bytes(m, t, "FACP", 4) && !fadt)
			fadt = t;
		else if (has_bytes(m, t, "APIC", 4) && !madt)
			madt = t;
		else if (has_bytes(m, t, "MCFG", 4) && !mcfg)
			mcfg = t;
		else
			fail_msg("unexpected or repeated table in the XSDT");
	}
	assert_true(fadt && madt && mcfg);
	check_dsdt(m, check_fadt(m, fadt), nr_cpus, mmio64);
	check_madt(m, madt, nr_cpus);
	check_mcfg(m, mcfg);
}

/* With RAM_SIZE of RAM the 64-bit BAR window starts at 4 GiB. */
static void build_and_check(unsigned int nr_cpus)
{
	struct guest_mem m;

	assert_int_equal(guest_mem_init(&m, RAM_SIZE, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(acpi_build(&m, nr_cpus), 0);
	check_all(&m, nr_cpus, 4 * GIB);
	guest_mem_free(&m);
}

static void test_one_cpu(void **state)
{
	build_and_check(1);
}

static void test_two_cpus(void **state)
{
	build_and_check(2);
}

static void test_255_cpus(void **state)
{
	build_and_check(255);
}

/* A rebuild with fewer CPUs leaves no trace of the larger tables. */
static void test_rebuild_clears_area(void **state)
{
	struct guest_mem m;

	assert_int_equal(guest_mem_init(&m, RAM_SIZE, LAYOUT_MEM_32BIT_HOLE), 0);
	memset(guest_mem_ptr(&m, LAYOUT_ACPI_START, LAYOUT_ACPI_END - LAYOUT_ACPI_START), 0xaa,
	       LAYOUT_ACPI_END - LAYOUT_ACPI_START);
	assert_int_equal(acpi_build(&m, 255), 0);
	assert_int_equal(acpi_build(&m, 1), 0);
	check_all(&m, 1, 4 * GIB);
	assert_int_equal(rd(&m, LAYOUT_ACPI_END - 8, 8), 0);
	guest_mem_free(&m);
}

/* RAM above 4 GiB moves the 64-bit window to the next 1 GiB boundary above it, where
 * pci/bar_alloc.h hands out BARs. */
static void test_pci_window_above_ram(void **state)
{
	struct guest_mem m;

	assert_int_equal(guest_mem_init(&m, 3 * GIB + 4 * KIB, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(acpi_build(&m, 1), 0);
	assert_int_equal(bar_alloc_mmio64_base(&m), 5 * GIB);
	check_all(&m, 1, 5 * GIB);
	guest_mem_free(&m);
}

static void test_bad_cpu_counts(void **state)
{
	struct guest_mem m;

	assert_int_equal(guest_mem_init(&m, RAM_SIZE, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(acpi_build(&m, 0), -EINVAL);
	assert_int_equal(acpi_build(&m, 256), -EINVAL);
	assert_int_equal(acpi_build(&m, ~0u), -EINVAL);
	assert_int_equal(acpi_build(NULL, 1), -EINVAL);
	/* Nothing was written. */
	assert_int_equal(rd(&m, LAYOUT_ACPI_START, 8), 0);
	guest_mem_free(&m);
}

/* RAM that does not cover the BIOS area: the tables have nowhere to go. */
static void test_area_not_ram(void **state)
{
	struct guest_mem m;

	assert_int_equal(guest_mem_init(&m, 512 * KIB, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(acpi_build(&m, 1), -EFAULT);
	guest_mem_free(&m);
}

static void test_checksum(void **state)
{
	uint8_t buf[5] = { 0x01, 0x02, 0xff, 0x10, 0 };

	assert_int_equal(acpi_checksum(buf, 0), 0);
	assert_int_equal(acpi_checksum(buf, 4), 0x12); /* 1 + 2 + 255 + 16 = 274 mod 256 */
	buf[4] = (uint8_t)(0 - acpi_checksum(buf, 4));
	assert_int_equal(acpi_checksum(buf, 5), 0);
}

/* Optional checks with ACPICA's tools (Debian: acpica-tools), skipped when absent. */

/* Returns true when `prog` is an executable file in a $PATH directory. */
static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	while (path && *path) {
		size_t n = strcspn(path, ":");

		if (n && snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog) < (int)sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

/* Runs argv with stdout and stderr to dir/`log`; returns the exit status or -1. */
static int run_in(const char *dir, const char *log, char *const argv[])
{
	posix_spawn_file_actions_t fa;
	char logpath[512];
	pid_t pid;
	int status, r;

	snprintf(logpath, sizeof(logpath), "%s/%s", dir, log);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, NULL);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Reads dir/name into a NUL-terminated heap buffer (caller frees); *len gets its size. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* The table with signature `sig` listed in the XSDT. */
static uint64_t find_table(const struct guest_mem *m, const char *sig)
{
	uint64_t xsdt = check_rsdp(m);
	uint32_t len = check_table(m, xsdt, "XSDT");

	for (uint64_t e = xsdt + 36; e < xsdt + len; e += 8) {
		uint64_t t = rd(m, e, 8);

		if (has_bytes(m, t, sig, 4))
			return t;
	}
	fail_msg("no %s in the XSDT", sig);
	return 0;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Builds the tables for 2 vCPUs and 64 MiB, and writes the DSDT to dir/dsdt.dat and the MCFG
 * to dir/mcfg.dat. */
static void write_tables(const char *dir)
{
	struct guest_mem m;

	assert_int_equal(guest_mem_init(&m, RAM_SIZE, LAYOUT_MEM_32BIT_HOLE), 0);
	assert_int_equal(acpi_build(&m, 2), 0);
	uint64_t dsdt = rd(&m, find_table(&m, "FACP") + 140, 8);
	uint32_t len = check_table(&m, dsdt, "DSDT");
	write_file(dir, "dsdt.dat", guest_mem_ptr(&m, dsdt, len), len);
	uint64_t mcfg = find_table(&m, "MCFG");
	len = check_table(&m, mcfg, "MCFG");
	write_file(dir, "mcfg.dat", guest_mem_ptr(&m, mcfg, len), len);
	guest_mem_free(&m);
}

/* Fails unless every string of `expect` occurs in `text` (output of `what`). */
static void expect_all(const char *what, const char *text, const char *const *expect, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strstr(text, expect[i]))
			fail_msg("%s output lacks \"%s\":\n%s", what, expect[i], text);
}

/* iasl disassembles the DSDT to the devices we meant, and compiling that ASL again without
 * optimizations gives byte-identical AML: every encoding is one the reference compiler
 * produces. */
static void test_iasl_roundtrip(void **state)
{
	char dir[] = "/tmp/kiln-test-acpi-XXXXXX";
	char dat[64], dsl_path[64], prefix[64];
	size_t orig_len, re_len;

	if (!in_path("iasl"))
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(dat, sizeof(dat), "%s/dsdt.dat", dir);
	snprintf(dsl_path, sizeof(dsl_path), "%s/dsdt.dsl", dir);
	snprintf(prefix, sizeof(prefix), "%s/re", dir);
	write_tables(dir);
	/* iasl writes dsdt.dsl next to its input. */
	assert_int_equal(run_in(dir, "d.log", (char *[]){ "iasl", "-d", dat, NULL }), 0);
	char *dsl = slurp(dir, "dsdt.dsl", NULL);
	static const char *const expect[] = {
		"Device (GED)", "Name (_HID, \"ACPI0013\"",
		"Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )",
		"0x00000005,", "OperationRegion (GDST, SystemMemory, 0xFEA00000, 0x04)",
		"Field (GDST, DWordAcc, NoLock, WriteAsZeros)", "GDAT,   32",
		"Method (_EVT, 1, Serialized)", "Notify (\\_SB.PWRB, 0x80)",
		"Device (PWRB)", "EisaId (\"PNP0C0C\")",
		/* The PCI host bridge and its windows, in the order of its _CRS. */
		"Device (PCI0)", "Name (_HID, EisaId (\"PNP0A08\")", "Name (_CID, EisaId (\"PNP0A03\")",
		"Name (_SEG, Zero)", "Name (_BBN, Zero)",
		("WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,\n"
		 "                    0x0000,             // Granularity\n"
		 "                    0x0000,             // Range Minimum\n"
		 "                    0x0000,             // Range Maximum\n"),
		"IO (Decode16,\n                    0x0CF8,             // Range Minimum\n",
		"WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,",
		"0x0CF7,             // Range Maximum", "0x0D00,             // Range Minimum",
		"DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,",
		"0xC0000000,         // Range Minimum", "0xE7FFFFFF,         // Range Maximum",
		"QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,",
		"0x0000000100000000, // Range Minimum", "0x00000010FFFFFFFF, // Range Maximum",
		"Method (_OSC, 4, NotSerialized)",
		"ToUUID (\"33db4d5b-1ff7-401c-9657-7441c03dd766\")",
		"Device (MBRD)", "Name (_HID, EisaId (\"PNP0C02\")",
		("Memory32Fixed (ReadWrite,\n                    0xE8000000,         // Address Base\n"
		 "                    0x00100000,         // Address Length\n"),
	};
	expect_all("iasl -d", dsl, expect, sizeof(expect) / sizeof(expect[0]));
	assert_int_equal(IRQ_GED, 5);
	assert_int_equal(LAYOUT_GED_ADDR, 0xfea00000);
	free(dsl);
	assert_int_equal(run_in(dir, "c.log",
				(char *[]){ "iasl", "-oa", "-p", prefix, dsl_path, NULL }), 0);
	char *orig = slurp(dir, "dsdt.dat", &orig_len), *re = slurp(dir, "re.aml", &re_len);
	assert_int_equal(orig_len, re_len);
	assert_memory_equal(orig + 36, re + 36, orig_len - 36); /* headers differ: compiler ID */
	free(orig);
	free(re);
	rm_tree(dir);
}

/* ACPICA's interpreter runs _EVT: with the status register reading bit 0 set (regions filled
 * with 0x01 bytes) it notifies PWRB with 0x80, with it clear (filled with 0) nothing. */
static void test_acpiexec_evt(void **state)
{
	char dir[] = "/tmp/kiln-test-acpi-XXXXXX";
	char dat[64];

	if (!in_path("acpiexec"))
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(dat, sizeof(dat), "%s/dsdt.dat", dir);
	write_tables(dir);
	assert_int_equal(run_in(dir, "set.log", (char *[]){ "acpiexec", "-fv", "1", "-b",
				"execute \\_SB.GED_._EVT 5", dat, NULL }), 0);
	char *out = slurp(dir, "set.log", NULL);
	if (!strstr(out, "Notify on [PWRB]") || !strstr(out, "Value 0x80"))
		fail_msg("no Notify(PWRB, 0x80) from _EVT:\n%s", out);
	free(out);
	assert_int_equal(run_in(dir, "clear.log", (char *[]){ "acpiexec", "-fv", "0", "-b",
				"execute \\_SB.GED_._EVT 5", dat, NULL }), 0);
	out = slurp(dir, "clear.log", NULL);
	assert_non_null(strstr(out, "Evaluating \\_SB.GED_._EVT"));
	assert_null(strstr(out, "Notify"));
	free(out);
	rm_tree(dir);
}

/* iasl's table disassembler decodes the MCFG (with its own checksum check) as we meant. */
static void test_iasl_mcfg(void **state)
{
	char dir[] = "/tmp/kiln-test-acpi-XXXXXX";
	char dat[64];

	if (!in_path("iasl"))
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(dat, sizeof(dat), "%s/mcfg.dat", dir);
	write_tables(dir);
	assert_int_equal(run_in(dir, "d.log", (char *[]){ "iasl", "-d", dat, NULL }), 0);
	char *dsl = slurp(dir, "mcfg.dsl", NULL);
	static const char *const expect[] = {
		"Signature : \"MCFG\"", "Table Length : 0000003C", "Revision : 01",
		"Base Address : 00000000E8000000", "Segment Group Number : 0000",
		"Start Bus Number : 00", "End Bus Number : 00",
	};
	expect_all("iasl -d (MCFG)", dsl, expect, sizeof(expect) / sizeof(expect[0]));
	if (strstr(dsl, "Incorrect checksum") || strstr(dsl, "Invalid"))
		fail_msg("iasl -d complains about the MCFG:\n%s", dsl);
	/* Exactly one allocation. */
	assert_null(strstr(strstr(dsl, "Base Address") + 1, "Base Address"));
	free(dsl);
	rm_tree(dir);
}

/* Runs `acpiexec -b cmd` on dir/dsdt.dat; returns its output (caller frees). */
static char *acpiexec(const char *dir, const char *cmd)
{
	char dat[64];

	snprintf(dat, sizeof(dat), "%s/dsdt.dat", dir);
	assert_int_equal(run_in(dir, "x.log", (char *[]){ "acpiexec", "-b", (char *)cmd, dat, NULL }),
			 0);
	char *out = slurp(dir, "x.log", NULL);
	if (strstr(out, "ACPI Error") || strstr(out, "ACPI Exception"))
		fail_msg("acpiexec -b '%s':\n%s", cmd, out);
	return out;
}

#define OSC_UUID_PCI "(5b 4d db 33 f7 1f 1c 40 96 57 74 41 c0 3d d7 66)"
#define OSC_CAPS "(01 00 00 00 1f 00 00 00 1f 00 00 00)" /* query; support; control 0x1f */

/* ACPICA evaluates PCI0's and MBRD's _CRS and decodes every descriptor (AcpiGetCurrentResources,
 * AcpiWalkResources and its conversion back to AML, compared with the original); PCI0._OSC
 * grants all that is asked for the PCI host bridge UUID, revision 1, and flags an unknown
 * revision (bit 3) or UUID (bit 2) in DWORD 1 (ACPI 6.4 6.2.11). */
static void test_acpiexec_pci(void **state)
{
	char dir[] = "/tmp/kiln-test-acpi-XXXXXX";
	char *out;

	if (!in_path("acpiexec"))
		skip();
	assert_non_null(mkdtemp(dir));
	write_tables(dir);

	out = acpiexec(dir, "resources \\_SB.PCI0");
	static const char *const pci0[] = {
		"Evaluating _CRS", "[00] 16-Bit WORD Address Space Resource",
		"Resource Type : Bus Number Range", "[01] I/O Resource", "Address Minimum : 0CF8",
		"Address Maximum : 0CF7", "Address Minimum : 0D00", "Address Length : F300",
		"[04] 32-Bit DWORD Address Space Resource", "Address Minimum : C0000000",
		"Address Maximum : E7FFFFFF", "[05] 64-Bit QWORD Address Space Resource",
		"Address Minimum : 0000000100000000", "Address Length : 0000001000000000",
		"[06] EndTag Resource", "Resource Conversion Comparison:",
	};
	expect_all("acpiexec resources PCI0", out, pci0, sizeof(pci0) / sizeof(pci0[0]));
	if (strstr(out, "AcpiGetCurrentResources failed") || strstr(out, "ismatch"))
		fail_msg("acpiexec resources PCI0:\n%s", out);
	free(out);

	out = acpiexec(dir, "resources \\_SB.MBRD");
	static const char *const mbrd[] = {
		"[00] 32-Bit Fixed Memory Range Resource", "Write Protect : ReadWrite",
		"Address : E8000000", "Address Length : 00100000", "[01] EndTag Resource",
	};
	expect_all("acpiexec resources MBRD", out, mbrd, sizeof(mbrd) / sizeof(mbrd[0]));
	if (strstr(out, "AcpiGetCurrentResources failed") || strstr(out, "ismatch"))
		fail_msg("acpiexec resources MBRD:\n%s", out);
	free(out);

	out = acpiexec(dir, "execute \\_SB.PCI0._OSC " OSC_UUID_PCI " 1 3 " OSC_CAPS);
	if (!strstr(out, "0000: 01 00 00 00 1F 00 00 00 1F 00 00 00"))
		fail_msg("_OSC did not grant all:\n%s", out);
	free(out);
	out = acpiexec(dir, "execute \\_SB.PCI0._OSC " OSC_UUID_PCI " 2 3 " OSC_CAPS);
	if (!strstr(out, "0000: 09 00 00 00 1F 00 00 00 1F 00 00 00"))
		fail_msg("_OSC revision 2 not flagged:\n%s", out);
	free(out);
	out = acpiexec(dir, "execute \\_SB.PCI0._OSC (00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff) "
			    "1 3 " OSC_CAPS);
	if (!strstr(out, "0000: 05 00 00 00 1F 00 00 00 1F 00 00 00"))
		fail_msg("_OSC unknown UUID not flagged:\n%s", out);
	free(out);
	rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_cpu),
		cmocka_unit_test(test_two_cpus),
		cmocka_unit_test(test_255_cpus),
		cmocka_unit_test(test_rebuild_clears_area),
		cmocka_unit_test(test_pci_window_above_ram),
		cmocka_unit_test(test_bad_cpu_counts),
		cmocka_unit_test(test_area_not_ram),
		cmocka_unit_test(test_checksum),
		cmocka_unit_test(test_iasl_roundtrip),
		cmocka_unit_test(test_acpiexec_evt),
		cmocka_unit_test(test_iasl_mcfg),
		cmocka_unit_test(test_acpiexec_pci),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
