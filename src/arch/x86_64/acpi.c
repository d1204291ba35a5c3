/* ACPI tables for a hardware-reduced x86_64 micro-VM (ACPI 6.4 chapter 5). The tables are
 * assembled in a host buffer the size of the ACPI area and copied into guest memory in one
 * write, so a failure leaves guest memory untouched.
 *
 * Area layout (offsets from LAYOUT_ACPI_START, each table 16-byte aligned):
 *   RSDP (36 bytes, at offset 0 so a scan of 0xe0000.. finds it), DSDT, FADT, MADT, MCFG, XSDT. */
#include "arch/x86_64/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "hw/acpi_pm.h"
#include "hw/ged.h"
#include "pci/bar_alloc.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ACPI tables are little-endian");

#define ACPI_OEM_ID "KILN  "         /* 6 bytes */
#define ACPI_OEM_TABLE_ID "KILNVMM " /* 8 bytes */
#define ACPI_CREATOR_ID "KILN"       /* 4 bytes */
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_REVISION 1
#define ACPI_MAX_CPUS 255
#define ACPI_AREA_SIZE (LAYOUT_ACPI_END - LAYOUT_ACPI_START)
#define ACPI_TABLE_ALIGN 16

/* Root System Description Pointer, revision 2 (ACPI 6.4 5.2.5.3). */
struct acpi_rsdp {
	char signature[8];     /* "RSD PTR " */
	uint8_t checksum;      /* over the first 20 bytes */
	char oem_id[6];
	uint8_t revision;      /* 2 */
	uint32_t rsdt_address; /* 0: no RSDT, the XSDT is used */
	uint32_t length;       /* 36 */
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* over all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP size");

/* System Description Table header (ACPI 6.4 5.2.6). */
struct acpi_sdt_header {
	char signature[4];
	uint32_t length; /* whole table, header included, bytes */
	uint8_t revision;
	uint8_t checksum; /* whole table sums to 0 */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_sdt_header) == 36, "SDT header size");

/* Generic Address Structure (ACPI 6.4 5.2.3.2). */
struct acpi_gas {
	uint8_t space_id;    /* 1 = system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* 1 = byte */
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS size");

#define ACPI_GAS_SYSTEM_IO 1
#define ACPI_GAS_ACCESS_BYTE 1

/* Fixed ACPI Description Table, revision 6 (ACPI 6.4 5.2.9, table 5.9). Fields that a
 * hardware-reduced platform leaves zero are kept for their offsets. */
struct acpi_fadt {
	struct acpi_sdt_header header;  /* 0: "FACP", revision 6 */
	uint32_t firmware_ctrl;         /* 36: no FACS (optional when hardware-reduced) */
	uint32_t dsdt;                  /* 40 */
	uint8_t reserved0, preferred_pm_profile; /* 44, 45 */
	uint16_t sci_int;               /* 46 */
	uint32_t smi_cmd;               /* 48 */
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt; /* 52..55 */
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk; /* 56..71 */
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;            /* 72..87 */
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;       /* 88..91 */
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;          /* 92..95 */
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;       /* 96..103 */
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;    /* 104..108 */
	uint16_t iapc_boot_arch;        /* 109 */
	uint8_t reserved1;              /* 111 */
	uint32_t flags;                 /* 112 */
	struct acpi_gas reset_reg;      /* 116 */
	uint8_t reset_value;            /* 128 */
	uint16_t arm_boot_arch;         /* 129 */
	uint8_t minor_version;          /* 131 */
	uint64_t x_firmware_ctrl;       /* 132 */
	uint64_t x_dsdt;                /* 140 */
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk; /* 148 */
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;            /* 196 */
	struct acpi_gas sleep_control_reg; /* 244 */
	struct acpi_gas sleep_status_reg;  /* 256 */
	char hypervisor_vendor_id[8];      /* 268 */
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT size");
_Static_assert(__builtin_offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "FADT layout");
_Static_assert(__builtin_offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT layout");
_Static_assert(__builtin_offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT layout");

#define FADT_REVISION 6
#define FADT_MINOR_VERSION 3
/* PWR_BUTTON, SLP_BUTTON (table 5.10): set when the button is a control-method device or absent.
 * With them clear Linux registers fixed-feature buttons (LNXPWRBN, LNXSLPBN) whose events a
 * hardware-reduced platform has no register to raise; kiln's power button is \_SB.PWRB. */
#define FADT_F_PWR_BUTTON (1u << 4)
#define FADT_F_SLP_BUTTON (1u << 5)
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)
#define FADT_SCI_IRQ 9
/* CENTURY: CMOS RAM index of the BCD century byte; must match RTC_CENTURY in hw/cmos.c. */
#define FADT_CENTURY_CMOS_INDEX 0x32
/* IAPC_BOOT_ARCH (table 5.10): no LEGACY_DEVICES, no 8042 (bit 1), VGA Not Present (bit 2),
 * MSI Not Supported (bit 3) and CMOS RTC Not Present (bit 5) all clear. */
#define FADT_IAPC_BOOT_ARCH 0

/* Multiple APIC Description Table (ACPI 6.4 5.2.12) and its structures. */
struct acpi_madt {
	struct acpi_sdt_header header; /* "APIC", revision 5 */
	uint32_t local_apic_address;
	uint32_t flags;                /* bit 0 PCAT_COMPAT */
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT size");

/* Processor Local APIC, type 0 (5.2.12.2). */
struct madt_local_apic {
	uint8_t type, length, processor_uid, apic_id;
	uint32_t flags; /* bit 0 Enabled */
} __attribute__((packed));
_Static_assert(sizeof(struct madt_local_apic) == 8, "MADT LAPIC size");

/* I/O APIC, type 1 (5.2.12.3). */
struct madt_io_apic {
	uint8_t type, length, io_apic_id, reserved;
	uint32_t address, gsi_base;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_io_apic) == 12, "MADT IOAPIC size");

/* Interrupt Source Override, type 2 (5.2.12.5). */
struct madt_iso {
	uint8_t type, length, bus, source;
	uint32_t gsi;
	uint16_t flags; /* MPS INTI flags: polarity bits 0-1, trigger mode bits 2-3 */
} __attribute__((packed));
_Static_assert(sizeof(struct madt_iso) == 10, "MADT ISO size");

/* Local APIC NMI, type 4 (5.2.12.7). */
struct madt_local_apic_nmi {
	uint8_t type, length, processor_uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_local_apic_nmi) == 6, "MADT LAPIC NMI size");

#define MADT_REVISION 5
#define MADT_TYPE_LOCAL_APIC 0
#define MADT_TYPE_IO_APIC 1
#define MADT_TYPE_ISO 2
#define MADT_TYPE_LOCAL_APIC_NMI 4
#define MADT_LAPIC_ENABLED 1u
#define MADT_INTI_LEVEL_HIGH 0x000d /* trigger level (3 << 2), polarity active high (1) */
#define MADT_ALL_PROCESSORS 0xff

/* PCI Express memory-mapped configuration table (PCI Firmware Spec 3.3 4.1.2, tables 4-2 and
 * 4-3): the header, 8 reserved bytes, then one allocation per ECAM range. */
struct acpi_mcfg {
	struct acpi_sdt_header header; /* "MCFG", revision 1 */
	uint8_t reserved[8];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_mcfg) == 44, "MCFG size");

struct mcfg_allocation {
	uint64_t base;     /* ECAM base of bus 0 of the segment, whether or not start_bus is 0 */
	uint16_t segment;
	uint8_t start_bus, end_bus;
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mcfg_allocation) == 16, "MCFG allocation size");

#define MCFG_REVISION 1
#define PCI_ECAM_BUS_SIZE (1 * MIB) /* 32 devices x 8 functions x 4 KiB */
#define PCI_SEGMENT 0
#define PCI_BUS_FIRST 0
#define PCI_BUS_LAST (LAYOUT_PCI_ECAM_SIZE / PCI_ECAM_BUS_SIZE - 1)
_Static_assert(LAYOUT_PCI_ECAM_SIZE % PCI_ECAM_BUS_SIZE == 0 && PCI_BUS_LAST == 0,
	       "ECAM covers whole buses; the DSDT and MCFG declare bus 0 only");
_Static_assert(LAYOUT_PCI_MMIO32_START + LAYOUT_PCI_MMIO32_SIZE <= LAYOUT_PCI_ECAM_BASE &&
	       LAYOUT_PCI_ECAM_BASE + LAYOUT_PCI_ECAM_SIZE <= LAYOUT_GED_ADDR,
	       "the 32-bit BAR window, ECAM and GED do not overlap");

/* The table area being assembled: `data` is ACPI_AREA_SIZE bytes, zeroed. */
struct acpi_area {
	uint8_t *data;
	size_t used;
};

uint8_t acpi_checksum(const void *buf, uint64_t len)
{
	const uint8_t *p = buf;
	uint8_t sum = 0;

	for (uint64_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return sum;
}

/* Reserves `len` bytes at the end of the area; NULL when the area is full. */
static void *area_append(struct acpi_area *a, size_t len)
{
	if (len > ACPI_AREA_SIZE - a->used)
		return NULL;
	void *p = a->data + a->used;
	a->used += len;
	return p;
}

/* Starts a table at the next aligned offset; returns its offset or -ENOSPC. */
static long area_begin_table(struct acpi_area *a)
{
	size_t start = (a->used + ACPI_TABLE_ALIGN - 1) & ~(size_t)(ACPI_TABLE_ALIGN - 1);

	if (start + sizeof(struct acpi_sdt_header) > ACPI_AREA_SIZE)
		return -ENOSPC;
	a->used = start;
	return (long)start;
}

#define area_gpa(offset) (LAYOUT_ACPI_START + (offset))

/* Fills the header of the table that runs from `start` to the end of the area, and its
 * checksum (the table must be complete). */
static void area_end_table(struct acpi_area *a, size_t start, const char sig[4], uint8_t rev)
{
	struct acpi_sdt_header *h = (struct acpi_sdt_header *)(a->data + start);

	memcpy(h->signature, sig, 4);
	h->length = (uint32_t)(a->used - start);
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = ACPI_CREATOR_REVISION;
	h->checksum = 0;
	h->checksum = (uint8_t)(0 - acpi_checksum(h, h->length));
}

/* AML PkgLength (ACPI 6.4 20.2.4) for a body of `body` bytes following the encoding; the
 * encoded value counts the PkgLength bytes themselves. Lead byte: bits 7-6 = number of
 * following bytes; with one byte, bits 5-0 are the length; otherwise bits 3-0 are the low
 * nibble and each following byte holds the next 8 bits. Returns the bytes written (1-4). */
static size_t aml_pkglen(uint8_t out[4], size_t body)
{
	if (body + 1 <= 0x3f) {
		out[0] = (uint8_t)(body + 1);
		return 1;
	}
	for (size_t n = 2; n <= 4; n++) {
		size_t total = body + n;

		if (total >= (1ul << (4 + 8 * (n - 1))))
			continue;
		out[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (size_t k = 1; k < n; k++)
			out[k] = (uint8_t)(total >> (4 + 8 * (k - 1)));
		return n;
	}
	return 0;
}

/* Name(\_S5_, Package(){5, 0, 0, 0}): SLP_TYPa = 5 is what the guest writes to
 * SLEEP_CONTROL_REG for poweroff (ACPI 6.4 7.4.2; must equal ACPI_SLP_TYP_S5). */
static const uint8_t aml_s5[] = {
	0x08,                         /* NameOp */
	'\\', '_', 'S', '5', '_',     /* RootChar, NameSeg "_S5_" */
	0x12, 0x07, 0x04,             /* PackageOp, PkgLength 7, NumElements 4 */
	0x0a, ACPI_SLP_TYP_S5,        /* BytePrefix 5: SLP_TYPa */
	0x00, 0x00, 0x00,             /* ZeroOp x3: SLP_TYPb, reserved */
};

/* Device(Cnnn) { Name(_HID, "ACPI0007") Name(_UID, n) } for CPU n (ACPI 6.4 8.4): nnn is
 * n in upper-case hex, and _UID matches the MADT processor UID. 29 bytes:
 *   5B 82 1B 'C' h h h                 DeviceOp, PkgLength 27, NameSeg
 *   08 '_HID' 0D "ACPI0007" 00         NameOp, NameSeg, StringPrefix, string, NUL
 *   08 '_UID' 0A n                     NameOp, NameSeg, BytePrefix, n */
#define AML_CPU_DEVICE_LEN 29
static void aml_cpu_device(uint8_t out[AML_CPU_DEVICE_LEN], unsigned int cpu)
{
	static const char hex[] = "0123456789ABCDEF";
	static const uint8_t body[] = {
		0x08, '_', 'H', 'I', 'D', 0x0d, 'A', 'C', 'P', 'I', '0', '0', '0', '7', 0x00,
		0x08, '_', 'U', 'I', 'D', 0x0a,
	};
	uint8_t *p = out;

	*p++ = 0x5b;
	*p++ = 0x82;
	*p++ = AML_CPU_DEVICE_LEN - 2;
	*p++ = 'C';
	*p++ = (uint8_t)hex[(cpu >> 8) & 0xf];
	*p++ = (uint8_t)hex[(cpu >> 4) & 0xf];
	*p++ = (uint8_t)hex[cpu & 0xf];
	memcpy(p, body, sizeof(body));
	p += sizeof(body);
	*p = (uint8_t)cpu;
}

/* Device(RTC_) { Name(_HID, EisaId("PNP0B00")) Name(_CRS, ResourceTemplate() {
 * IO(Decode16, PORT_CMOS, PORT_CMOS, 1, 2) }) }: the MC146818 (ACPI 6.4 6.1.5, 6.2.2; I/O
 * port descriptor 6.4.2.5, end tag 6.4.2.9). Linux needs it on a hardware-reduced platform:
 * there it has no legacy PIC, so ISA IRQs 0-15 get no IRQ descriptors, and the fallback
 * "rtc_cmos" platform device it registers when no PNP0B00 exists hard-wires IRQ 8, whose
 * request_irq() fails with -EINVAL. Through this device rtc_cmos binds as a PNP device and,
 * finding no IRQ resource and no legacy PIC, runs without an IRQ. No IRQ is declared on
 * purpose: the model raises none, so alarm and update interrupts would never arrive. 36 bytes:
 *   5B 82 22 'RTC_'                       DeviceOp, PkgLength 34, NameSeg
 *   08 '_HID' 0C 41 D0 0B 00              NameOp, DWordPrefix, EISA ID "PNP0B00"
 *   08 '_CRS' 11 0D 0A 0A <10 bytes>      NameOp, BufferOp, PkgLength 13, BufferSize 10
 *   47 01 lo hi lo hi 01 02 79 00         IO: 16-bit decode, min, max, align 1, length 2;
 *                                         EndTag with checksum 0 (none) */
static const uint8_t aml_rtc[] = {
	0x5b, 0x82, 0x22, 'R', 'T', 'C', '_',
	0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0b, 0x00,
	0x08, '_', 'C', 'R', 'S', 0x11, 0x0d, 0x0a, 0x0a,
	0x47, 0x01, PORT_CMOS & 0xff, PORT_CMOS >> 8, PORT_CMOS & 0xff, PORT_CMOS >> 8, 0x01, 0x02,
	0x79, 0x00,
};
_Static_assert(sizeof(aml_rtc) == 36 && 0x22 == sizeof(aml_rtc) - 2, "RTC device PkgLength");

/* Device(COM1) { Name(_HID, EisaId("PNP0501")) Name(_CRS, ResourceTemplate() {
 * IO(Decode16, PORT_COM1, PORT_COM1, 1, 8) IRQNoFlags() { IRQ_COM1 } }) }: the 16550A
 * (ACPI 6.4 6.4.2.1 IRQ descriptor). For the same reason as the RTC: on a hardware-reduced
 * platform Linux gives ISA IRQ 4 a descriptor only through a device that declares it; without
 * this, request_irq(4) fails and every read and write of the serial console returns EIO. 39 bytes:
 *   5B 82 25 'COM1'                       DeviceOp, PkgLength 37, NameSeg
 *   08 '_HID' 0C 41 D0 05 01              EISA ID "PNP0501"
 *   08 '_CRS' 11 10 0A 0D <13 bytes>      BufferOp, PkgLength 16, BufferSize 13
 *   47 01 lo hi lo hi 01 08               IO: 16-bit decode, min, max, align 1, length 8
 *   22 mask-lo mask-hi                    IRQNoFlags: edge, active high, IRQ_COM1
 *   79 00                                 EndTag */
static const uint8_t aml_com1[] = {
	0x5b, 0x82, 0x25, 'C', 'O', 'M', '1',
	0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01,
	0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0a, 0x0d,
	0x47, 0x01, PORT_COM1 & 0xff, PORT_COM1 >> 8, PORT_COM1 & 0xff, PORT_COM1 >> 8, 0x01, 0x08,
	0x22, (1u << IRQ_COM1) & 0xff, (1u << IRQ_COM1) >> 8,
	0x79, 0x00,
};
_Static_assert(sizeof(aml_com1) == 39 && 0x25 == sizeof(aml_com1) - 2, "COM1 device PkgLength");

/* AML opcodes and prefixes (ACPI 6.4 20.2). Extended opcodes follow AML_EXT_OP_PREFIX. */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_BUFFER_OP 0x11
#define AML_METHOD_OP 0x14
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_EXT_OP_PREFIX 0x5b
#define AML_ROOT_CHAR 0x5c
#define AML_LOCAL0_OP 0x60
#define AML_ARG0_OP 0x68          /* ArgN is AML_ARG0_OP + N */
#define AML_STORE_OP 0x70
#define AML_AND_OP 0x7b
#define AML_OR_OP 0x7d
#define AML_NOTIFY_OP 0x86
#define AML_CREATE_DWORD_FIELD_OP 0x8a
#define AML_LNOT_OP 0x92
#define AML_LEQUAL_OP 0x93
#define AML_IF_OP 0xa0
#define AML_ELSE_OP 0xa1
#define AML_RETURN_OP 0xa4
#define AML_EXT_OP_REGION_OP 0x80 /* after AML_EXT_OP_PREFIX */
#define AML_EXT_FIELD_OP 0x81
#define AML_EXT_DEVICE_OP 0x82
#define AML_NULL_NAME 0x00        /* Target: discard the result */

/* RegionSpace (20.2.5.2, 19.6.100) and FieldFlags (20.2.5.2, 19.6.48): bits 0-3 AccessType,
 * bit 4 LockRule, bits 5-6 UpdateRule. */
#define AML_REGION_SYSTEM_MEMORY 0x00
#define AML_FIELD_DWORD_ACC 0x03
#define AML_FIELD_NO_LOCK 0x00
#define AML_FIELD_WRITE_AS_ZEROS 0x40
/* MethodFlags (20.2.5.2): bits 0-2 ArgCount, bit 3 SerializeFlag, bits 4-7 SyncLevel. */
#define AML_METHOD_SERIALIZED 0x08
#define AML_METHOD_NOT_SERIALIZED 0x00

/* Extended Interrupt Descriptor (ACPI 6.4 6.4.3.6): large item 0x89, length 6 for one
 * interrupt and no resource source; flags byte: bit 0 consumer, bit 1 edge-triggered, bit 2
 * active-low, bit 3 shared, bit 4 wake-capable. */
#define ACPI_RES_EXT_IRQ 0x89
#define ACPI_RES_EXT_IRQ_LEN 6
#define ACPI_RES_IRQ_CONSUMER 0x01
#define ACPI_RES_IRQ_EDGE 0x02
#define ACPI_RES_END_TAG 0x79 /* small item 0xf, length 1 (6.4.2.9); checksum byte 0 follows */

/* A bounded AML byte stream. A write past `cap` sets `overflow` and is dropped, so a builder
 * runs to its end and the caller checks once. */
struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool overflow;
};

static void aml_put(struct aml *a, const void *src, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->buf + a->len, src, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_put(a, &b, 1);
}

/* A NameSeg (20.2.2): exactly four characters, '_' padded by the caller. */
static void aml_nameseg(struct aml *a, const char seg[4])
{
	aml_put(a, seg, 4);
}

/* An Integer as the shortest ComputationalData (20.2.3): ZeroOp, OneOp or a prefixed
 * little-endian Byte/Word/DWord/QWord constant. */
static void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t prefix;
	size_t n;

	if (v <= 1) {
		aml_byte(a, v ? AML_ONE_OP : AML_ZERO_OP);
		return;
	}
	if (v <= 0xff) {
		prefix = AML_BYTE_PREFIX, n = 1;
	} else if (v <= 0xffff) {
		prefix = AML_WORD_PREFIX, n = 2;
	} else if (v <= 0xffffffffu) {
		prefix = AML_DWORD_PREFIX, n = 4;
	} else {
		prefix = AML_QWORD_PREFIX, n = 8;
	}
	aml_byte(a, prefix);
	aml_put(a, &v, n); /* little-endian host (asserted above) */
}

/* Objects with a PkgLength (DeviceOp, MethodOp, IfOp, BufferOp, FieldOp): the caller writes
 * the opcode, calls aml_pkg_begin(), writes the body, then aml_pkg_end() inserts the PkgLength
 * in front of the body once its size is known. Returns the body's offset. */
static size_t aml_pkg_begin(const struct aml *a)
{
	return a->len;
}

static void aml_pkg_end(struct aml *a, size_t body_start)
{
	uint8_t pl[4];
	size_t body = a->len - body_start;
	size_t n = a->overflow ? 0 : aml_pkglen(pl, body);

	if (!n || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memmove(a->buf + body_start + n, a->buf + body_start, body);
	memcpy(a->buf + body_start, pl, n);
	a->len += n;
}

/* Name(seg, "str") (19.6.90; String 20.2.3). */
static void aml_name_string(struct aml *a, const char seg[4], const char *str)
{
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, seg);
	aml_byte(a, AML_STRING_PREFIX);
	aml_put(a, str, strlen(str) + 1);
}

/* Name(seg, integer). */
static void aml_name_integer(struct aml *a, const char seg[4], uint64_t v)
{
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, seg);
	aml_integer(a, v);
}

/* Name(seg, EisaId("...")): the compressed EISA ID (6.1.5) as a DWord, `id` in stored byte
 * order (the big-endian value). */
static void aml_name_eisaid(struct aml *a, const char seg[4], const uint8_t id[4])
{
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, seg);
	aml_byte(a, AML_DWORD_PREFIX);
	aml_put(a, id, 4);
}

/* Name(seg, Buffer() { bytes }) (19.6.10; DefBuffer 20.2.5.4): a ResourceTemplate is such a
 * buffer ending in the end tag. */
static void aml_name_buffer(struct aml *a, const char seg[4], const void *bytes, size_t len)
{
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, seg);
	aml_byte(a, AML_BUFFER_OP);
	size_t body = aml_pkg_begin(a);
	aml_integer(a, len); /* BufferSize */
	aml_put(a, bytes, len);
	aml_pkg_end(a, body);
}

/* Name(_CRS, ResourceTemplate() { Interrupt(ResourceConsumer, <flags>) { gsi } }): one
 * Extended Interrupt Descriptor (6.4.3.6) and the end tag. */
static void aml_name_crs_ext_irq(struct aml *a, uint8_t flags, uint32_t gsi)
{
	const uint8_t res[] = {
		ACPI_RES_EXT_IRQ, ACPI_RES_EXT_IRQ_LEN, 0x00, /* type, length (16-bit) */
		flags, 0x01,                                  /* flags, interrupt table length */
		(uint8_t)gsi, (uint8_t)(gsi >> 8), (uint8_t)(gsi >> 16), (uint8_t)(gsi >> 24),
		ACPI_RES_END_TAG, 0x00,
	};

	aml_name_buffer(a, "_CRS", res, sizeof(res));
}

/* OperationRegion(seg, space, offset, len) (19.6.98; DefOpRegion 20.2.5.2). */
static void aml_opregion(struct aml *a, const char seg[4], uint8_t space, uint64_t offset,
			 uint64_t len)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_EXT_OP_REGION_OP);
	aml_nameseg(a, seg);
	aml_byte(a, space);
	aml_integer(a, offset);
	aml_integer(a, len);
}

/* Field(region, flags) { field, bits } with a single NamedField (19.6.48; DefField 20.2.5.2:
 * a NamedField is NameSeg then its width in bits encoded as a PkgLength). */
static void aml_field1(struct aml *a, const char region[4], uint8_t flags, const char field[4],
		       unsigned int bits)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_EXT_FIELD_OP);
	size_t body = aml_pkg_begin(a);
	aml_nameseg(a, region);
	aml_byte(a, flags);
	aml_nameseg(a, field);
	/* The width is the PkgLength's value itself (it counts no length bytes); one byte holds
	 * 1..63. Wider fields are not needed here. */
	if (bits == 0 || bits > 0x3f)
		a->overflow = true;
	else
		aml_byte(a, (uint8_t)bits);
	aml_pkg_end(a, body);
}

/* Notify(\_SB_.dev, value) (19.6.92; DefNotify 20.2.5.3) with an absolute NamePath:
 * RootChar DualNamePrefix '_SB_' dev. */
static void aml_notify_sb(struct aml *a, const char dev[4], uint8_t value)
{
	aml_byte(a, AML_NOTIFY_OP);
	aml_byte(a, AML_ROOT_CHAR);
	aml_byte(a, AML_DUAL_NAME_PREFIX);
	aml_nameseg(a, "_SB_");
	aml_nameseg(a, dev);
	aml_integer(a, value);
}

/* EISA ID "PNP0C0C" (control-method power button, ACPI 6.4 4.8.2.2.1.2) in stored byte order. */
static const uint8_t eisa_pnp0c0c[4] = { 0x41, 0xd0, 0x0c, 0x0c };


/* The power button through a Generic Event Device (ACPI 6.4 5.6.9), as Cloud Hypervisor
 * declares it; register semantics in hw/ged.h. In ASL:
 *
 *   Device (GED_) {
 *       Name (_HID, "ACPI0013")
 *       Name (_UID, Zero)
 *       Name (_CRS, ResourceTemplate () {
 *           Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { IRQ_GED }
 *       })
 *       OperationRegion (GDST, SystemMemory, LAYOUT_GED_ADDR, 4)
 *       Field (GDST, DWordAcc, NoLock, WriteAsZeros) { GDAT, 32 }
 *       Method (_EVT, 1, Serialized) {      // Linux evged.c: _EVT(GSI) on each interrupt
 *           Local0 = GDAT                   // one read: the register is read-to-clear
 *           If (Local0 & GED_EVENT_POWER_BUTTON) { Notify (\_SB.PWRB, 0x80) }
 *       }
 *   }
 *   Device (PWRB) {                         // control-method power button (4.8.2.2.1.2)
 *       Name (_HID, EisaId ("PNP0C0C"))
 *       Name (_UID, Zero)
 *   }
 *
 * Notify value 0x80 on a power button is "button pressed" (table 5.166). Writes the AML to
 * `a`; the caller checks a->overflow. */
static void aml_ged_devices(struct aml *a)
{
	size_t dev, method, cond;

	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_EXT_DEVICE_OP);
	dev = aml_pkg_begin(a);
	aml_nameseg(a, "GED_");
	aml_name_string(a, "_HID", "ACPI0013");
	aml_name_integer(a, "_UID", 0);
	aml_name_crs_ext_irq(a, ACPI_RES_IRQ_CONSUMER | ACPI_RES_IRQ_EDGE, IRQ_GED);
	aml_opregion(a, "GDST", AML_REGION_SYSTEM_MEMORY, LAYOUT_GED_ADDR + GED_REG_EVENT_STATUS,
		     GED_REG_EVENT_STATUS_LEN);
	aml_field1(a, "GDST", AML_FIELD_DWORD_ACC | AML_FIELD_NO_LOCK | AML_FIELD_WRITE_AS_ZEROS,
		   "GDAT", 8 * GED_REG_EVENT_STATUS_LEN);

	aml_byte(a, AML_METHOD_OP);
	method = aml_pkg_begin(a);
	aml_nameseg(a, "_EVT");
	aml_byte(a, 1 | AML_METHOD_SERIALIZED); /* one argument: the GSI */
	aml_byte(a, AML_STORE_OP);              /* Store (GDAT, Local0) */
	aml_nameseg(a, "GDAT");
	aml_byte(a, AML_LOCAL0_OP);
	aml_byte(a, AML_IF_OP);
	cond = aml_pkg_begin(a);
	aml_byte(a, AML_AND_OP);                /* And (Local0, bit, NullName) */
	aml_byte(a, AML_LOCAL0_OP);
	aml_integer(a, GED_EVENT_POWER_BUTTON);
	aml_byte(a, AML_NULL_NAME);
	aml_notify_sb(a, "PWRB", 0x80);
	aml_pkg_end(a, cond);
	aml_pkg_end(a, method);
	aml_pkg_end(a, dev);

	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_EXT_DEVICE_OP);
	dev = aml_pkg_begin(a);
	aml_nameseg(a, "PWRB");
	aml_name_eisaid(a, "_HID", eisa_pnp0c0c);
	aml_name_integer(a, "_UID", 0);
	aml_pkg_end(a, dev);
}

/* Resource descriptors of the PCI host bridge (ACPI 6.4 6.4). Address Space Descriptors
 * (6.4.3.5.1-3): tag, 16-bit length, resource type, general flags, type-specific flags
 * (6.4.3.5.5), then _GRA, _MIN, _MAX, _TRA, _LEN of 2 (Word), 4 (DWord) or 8 (QWord) bytes;
 * no ResourceSource. */
#define ACPI_RES_IO 0x47           /* small item 8, length 7 (6.4.2.5) */
#define ACPI_RES_IO_DECODE16 0x01
#define ACPI_RES_MEM32_FIXED 0x86  /* large item 6, length 9 (6.4.3.4) */
#define ACPI_RES_MEM32_FIXED_LEN 9
#define ACPI_RES_MEM_RW 0x01       /* _RW, in both memory descriptors' flags */
#define ACPI_RES_DWORD_ADDR 0x87
#define ACPI_RES_WORD_ADDR 0x88
#define ACPI_RES_QWORD_ADDR 0x8a
#define ACPI_RES_TYPE_MEMORY 0
#define ACPI_RES_TYPE_IO 1
#define ACPI_RES_TYPE_BUS 2
/* General flags: bit 3 _MAF, bit 2 _MIF, bit 1 _DEC (1 subtractive), bit 0 (1 consumer
 * only): ResourceProducer, MinFixed, MaxFixed, PosDecode. */
#define ACPI_RES_ADDR_PRODUCER_FIXED 0x0c
#define ACPI_RES_IO_ENTIRE_RANGE 0x03 /* I/O flags: _RNG = 3, ISA and non-ISA ports */
#define ACPI_RES_MEM_CACHEABLE 0x02   /* memory flags: _MEM (bits 1-2) = 1; 0 non-cacheable */

/* One Word/DWord/QWord Address Space Descriptor (`width` 2, 4, 8) producing [min, min + len). */
static void res_addr(struct aml *a, uint8_t tag, size_t width, uint8_t type, uint8_t type_flags,
		     uint64_t min, uint64_t len)
{
	/* _GRA must be 0 when both ends are fixed (6.4.3.5); no translation (_TRA 0). */
	const uint64_t fields[5] = { 0, min, min + len - 1, 0, len };
	const uint16_t body = (uint16_t)(3 + 5 * width);

	aml_byte(a, tag);
	aml_put(a, &body, 2);
	aml_byte(a, type);
	aml_byte(a, ACPI_RES_ADDR_PRODUCER_FIXED);
	aml_byte(a, type_flags);
	for (size_t i = 0; i < 5; i++)
		aml_put(a, &fields[i], width);
}

/* IO(Decode16, port, port, 1, len): fixed ports the device itself decodes. */
static void res_io(struct aml *a, uint16_t port, uint8_t len)
{
	const uint8_t d[] = { ACPI_RES_IO, ACPI_RES_IO_DECODE16, (uint8_t)port, (uint8_t)(port >> 8),
			      (uint8_t)port, (uint8_t)(port >> 8), 1, len };

	aml_put(a, d, sizeof(d));
}

/* Memory32Fixed(ReadWrite, base, len). */
static void res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
	const uint8_t d[] = { ACPI_RES_MEM32_FIXED, ACPI_RES_MEM32_FIXED_LEN, 0, ACPI_RES_MEM_RW };

	aml_put(a, d, sizeof(d));
	aml_put(a, &base, 4);
	aml_put(a, &len, 4);
}

static void res_end(struct aml *a)
{
	aml_byte(a, ACPI_RES_END_TAG);
	aml_byte(a, 0x00); /* checksum 0: none */
}

/* EISA IDs (6.1.5) in stored byte order: PCI Express and PCI host bridges (PCI Firmware Spec
 * 3.3 4.1.5), motherboard resources. */
static const uint8_t eisa_pnp0a08[4] = { 0x41, 0xd0, 0x0a, 0x08 };
static const uint8_t eisa_pnp0a03[4] = { 0x41, 0xd0, 0x0a, 0x03 };
static const uint8_t eisa_pnp0c02[4] = { 0x41, 0xd0, 0x0c, 0x02 };

/* ToUUID("33DB4D5B-1FF7-401C-9657-7441C03DD766"): the PCI host bridge _OSC (PCI Firmware Spec
 * 3.3 4.5.1), first three fields little-endian (ACPI 6.4 19.6.142). */
static const uint8_t osc_uuid_pci[16] = {
	0x5b, 0x4d, 0xdb, 0x33, 0xf7, 0x1f, 0x1c, 0x40,
	0x96, 0x57, 0x74, 0x41, 0xc0, 0x3d, 0xd7, 0x66,
};
/* _OSC status DWORD 1 (ACPI 6.4 6.2.11): errors the platform reports. */
#define OSC_UNRECOGNIZED_UUID 0x04
#define OSC_UNRECOGNIZED_REVISION 0x08
#define OSC_PCI_REVISION 1

/* Or(CDW1, bit, CDW1) */
static void aml_or_cdw1(struct aml *a, uint8_t bit)
{
	aml_byte(a, AML_OR_OP);
	aml_nameseg(a, "CDW1");
	aml_integer(a, bit);
	aml_nameseg(a, "CDW1");
}

/* Method (_OSC, 4, NotSerialized) {
 *     CreateDWordField (Arg3, Zero, CDW1)
 *     If (LEqual (Arg0, ToUUID ("33DB4D5B-1FF7-401C-9657-7441C03DD766"))) {
 *         If (LNot (LEqual (Arg1, One))) { Or (CDW1, 0x08, CDW1) }
 *     } Else { Or (CDW1, 0x04, CDW1) }
 *     Return (Arg3)
 * }
 * Arg3 comes back with the control DWORD unchanged: the OS gets every feature it asks for
 * (kiln's bus has no ports, hot plug or AER to keep). Without _OSC Linux keeps the PCIe
 * services (ASPM, AER, PME, native hot plug) off. */
static void aml_pci_osc(struct aml *a)
{
	size_t method, outer, inner, els;

	aml_byte(a, AML_METHOD_OP);
	method = aml_pkg_begin(a);
	aml_nameseg(a, "_OSC");
	aml_byte(a, 4 | AML_METHOD_NOT_SERIALIZED);
	aml_byte(a, AML_CREATE_DWORD_FIELD_OP);
	aml_byte(a, AML_ARG0_OP + 3);
	aml_integer(a, 0);
	aml_nameseg(a, "CDW1");

	aml_byte(a, AML_IF_OP);
	outer = aml_pkg_begin(a);
	aml_byte(a, AML_LEQUAL_OP);
	aml_byte(a, AML_ARG0_OP);
	aml_byte(a, AML_BUFFER_OP);
	size_t buf = aml_pkg_begin(a);
	aml_integer(a, sizeof(osc_uuid_pci));
	aml_put(a, osc_uuid_pci, sizeof(osc_uuid_pci));
	aml_pkg_end(a, buf);
	aml_byte(a, AML_IF_OP);
	inner = aml_pkg_begin(a);
	aml_byte(a, AML_LNOT_OP);
	aml_byte(a, AML_LEQUAL_OP);
	aml_byte(a, AML_ARG0_OP + 1);
	aml_integer(a, OSC_PCI_REVISION);
	aml_or_cdw1(a, OSC_UNRECOGNIZED_REVISION);
	aml_pkg_end(a, inner);
	aml_pkg_end(a, outer);

	aml_byte(a, AML_ELSE_OP);
	els = aml_pkg_begin(a);
	aml_or_cdw1(a, OSC_UNRECOGNIZED_UUID);
	aml_pkg_end(a, els);

	aml_byte(a, AML_RETURN_OP);
	aml_byte(a, AML_ARG0_OP + 3);
	aml_pkg_end(a, method);
}

#define PCI_RES_MAX 160 /* bytes; the PCI0 _CRS template takes 130 */

/* PCI segment 0 (PCI Firmware Spec 3.3 4.1; ACPI 6.4 6.1, 6.5.6 _BBN, 6.5.7 _SEG), in ASL:
 *
 *   Device (PCI0) {
 *       Name (_HID, EisaId ("PNP0A08"))   // PCI Express root bridge: Linux uses the MCFG ECAM
 *       Name (_CID, EisaId ("PNP0A03"))
 *       Name (_ADR, Zero)                 // as QEMU and Cloud Hypervisor (iasl warns: _HID too)
 *       Name (_SEG, Zero)
 *       Name (_UID, Zero)
 *       Name (_BBN, Zero)
 *       Name (_CRS, ResourceTemplate () {
 *           WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0, 0, 1)
 *           IO (Decode16, 0x0CF8, 0x0CF8, 1, 8)  // config mechanism #1, the bridge's own
 *           WordIO (..., EntireRange, 0, 0x0000, 0x0CF7, 0, 0x0CF8)  // all other ports pass
 *           WordIO (..., EntireRange, 0, 0x0D00, 0xFFFF, 0, 0xF300)  // through, as in QEMU
 *           DWordMemory (..., NonCacheable, ReadWrite, 0, MMIO32 window)
 *           QWordMemory (..., Cacheable, ReadWrite, 0, MMIO64 window)
 *       })
 *       Method (_OSC, 4) { ... }          // aml_pci_osc()
 *   }
 *   Device (MBRD) {                       // motherboard resources (PCI Firmware Spec 3.3 4.1.2)
 *       Name (_HID, EisaId ("PNP0C02"))
 *       Name (_UID, Zero)
 *       Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, ECAM base, ECAM size) })
 *   }
 *
 * Linux (arch/x86/pci/mmconfig-shared.c) uses the MCFG range only if a PNP0C01/PNP0C02 _CRS
 * or an e820 reserved entry covers it; e820.c adds the entry too. No _PRT: kiln's devices
 * interrupt through MSI-X only. The windows are those of pci/bar_alloc.h. */
static void aml_pci_devices(struct aml *a, uint64_t mmio64_base)
{
	uint8_t res_buf[PCI_RES_MAX];
	struct aml res = { .buf = res_buf, .cap = sizeof(res_buf) };
	size_t dev;

	res_addr(&res, ACPI_RES_WORD_ADDR, 2, ACPI_RES_TYPE_BUS, 0, PCI_BUS_FIRST,
		 PCI_BUS_LAST - PCI_BUS_FIRST + 1);
	res_io(&res, PORT_PCI_CONFIG, PORT_PCI_CONFIG_LEN);
	res_addr(&res, ACPI_RES_WORD_ADDR, 2, ACPI_RES_TYPE_IO, ACPI_RES_IO_ENTIRE_RANGE, 0,
		 PORT_PCI_CONFIG);
	res_addr(&res, ACPI_RES_WORD_ADDR, 2, ACPI_RES_TYPE_IO, ACPI_RES_IO_ENTIRE_RANGE,
		 PORT_PCI_CONFIG + PORT_PCI_CONFIG_LEN,
		 0x10000 - (PORT_PCI_CONFIG + PORT_PCI_CONFIG_LEN));
	res_addr(&res, ACPI_RES_DWORD_ADDR, 4, ACPI_RES_TYPE_MEMORY, ACPI_RES_MEM_RW,
		 LAYOUT_PCI_MMIO32_START, LAYOUT_PCI_MMIO32_SIZE);
	res_addr(&res, ACPI_RES_QWORD_ADDR, 8, ACPI_RES_TYPE_MEMORY,
		 ACPI_RES_MEM_RW | ACPI_RES_MEM_CACHEABLE, mmio64_base, LAYOUT_PCI_MMIO64_SIZE);
	res_end(&res);
	if (res.overflow) {
		a->overflow = true; /* PCI_RES_MAX too small: caught by the unit tests */
		return;
	}

	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_EXT_DEVICE_OP);
	dev = aml_pkg_begin(a);
	aml_nameseg(a, "PCI0");
	aml_name_eisaid(a, "_HID", eisa_pnp0a08);
	aml_name_eisaid(a, "_CID", eisa_pnp0a03);
	aml_name_integer(a, "_ADR", 0);
	aml_name_integer(a, "_SEG", PCI_SEGMENT);
	aml_name_integer(a, "_UID", PCI_SEGMENT);
	aml_name_integer(a, "_BBN", PCI_BUS_FIRST);
	aml_name_buffer(a, "_CRS", res.buf, res.len);
	aml_pci_osc(a);
	aml_pkg_end(a, dev);

	res.len = 0;
	res_mem32_fixed(&res, (uint32_t)LAYOUT_PCI_ECAM_BASE, (uint32_t)LAYOUT_PCI_ECAM_SIZE);
	res_end(&res);
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_EXT_DEVICE_OP);
	dev = aml_pkg_begin(a);
	aml_nameseg(a, "MBRD");
	aml_name_eisaid(a, "_HID", eisa_pnp0c02);
	aml_name_integer(a, "_UID", 0);
	aml_name_buffer(a, "_CRS", res.buf, res.len);
	aml_pkg_end(a, dev);
}

#define AML_DEVICES_MAX 768 /* bytes; GED_, PWRB, PCI0 and MBRD take about 440 */

/* DSDT (ACPI 6.4 5.2.11.1), revision 2 (64-bit AML integers): \_S5_, then
 * Scope(\_SB_) { 10 <PkgLength> '\_SB_' <one CPU device per vCPU> <RTC> <COM1> <GED_> <PWRB>
 * <PCI0> <MBRD> }. */
static long build_dsdt(struct acpi_area *a, unsigned int nr_cpus, uint64_t mmio64_base)
{
	long start = area_begin_table(a);
	uint8_t pkglen[4];
	uint8_t devs_buf[AML_DEVICES_MAX];
	struct aml devs = { .buf = devs_buf, .cap = sizeof(devs_buf) };

	aml_ged_devices(&devs);
	aml_pci_devices(&devs, mmio64_base);
	if (devs.overflow)
		return -ENOSPC; /* AML_DEVICES_MAX too small: caught by the unit tests */
	if (start < 0 || !area_append(a, sizeof(struct acpi_sdt_header)))
		return -ENOSPC;
	uint8_t *p = area_append(a, sizeof(aml_s5));
	if (!p)
		return -ENOSPC;
	memcpy(p, aml_s5, sizeof(aml_s5));

	/* '\_SB_' + devices */
	size_t body = 5 + (size_t)nr_cpus * AML_CPU_DEVICE_LEN + sizeof(aml_rtc) +
		      sizeof(aml_com1) + devs.len;
	size_t n = aml_pkglen(pkglen, body);
	p = area_append(a, 1 + n + body);
	if (!n || !p)
		return -ENOSPC;
	*p++ = 0x10; /* ScopeOp */
	memcpy(p, pkglen, n);
	p += n;
	memcpy(p, "\\_SB_", 5);
	p += 5;
	for (unsigned int i = 0; i < nr_cpus; i++, p += AML_CPU_DEVICE_LEN)
		aml_cpu_device(p, i);
	memcpy(p, aml_rtc, sizeof(aml_rtc));
	p += sizeof(aml_rtc);
	memcpy(p, aml_com1, sizeof(aml_com1));
	p += sizeof(aml_com1);
	memcpy(p, devs.buf, devs.len);
	area_end_table(a, (size_t)start, "DSDT", 2);
	return start;
}

static struct acpi_gas pm_port_gas(void)
{
	return (struct acpi_gas){ .space_id = ACPI_GAS_SYSTEM_IO, .bit_width = 8,
				  .access_size = ACPI_GAS_ACCESS_BYTE, .address = PORT_ACPI_PM };
}

static long build_fadt(struct acpi_area *a, size_t dsdt)
{
	long start = area_begin_table(a);
	struct acpi_fadt *f = start < 0 ? NULL : area_append(a, sizeof(*f));

	if (!f)
		return -ENOSPC;
	f->dsdt = (uint32_t)area_gpa(dsdt);
	f->x_dsdt = area_gpa(dsdt);
	f->sci_int = FADT_SCI_IRQ;
	f->century = FADT_CENTURY_CMOS_INDEX; /* no day/month alarm registers */
	f->iapc_boot_arch = FADT_IAPC_BOOT_ARCH;
	f->flags = FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP | FADT_F_PWR_BUTTON |
		   FADT_F_SLP_BUTTON;
	f->reset_reg = pm_port_gas();
	f->reset_value = ACPI_RESET_VALUE;
	f->minor_version = FADT_MINOR_VERSION;
	f->sleep_control_reg = pm_port_gas();
	f->sleep_status_reg = pm_port_gas();
	memcpy(f->hypervisor_vendor_id, "KILNVMM", 8); /* 7 characters and a NUL */
	area_end_table(a, (size_t)start, "FACP", FADT_REVISION);
	return start;
}

/* Appends one MADT interrupt controller structure of `len` bytes. */
static int madt_add(struct acpi_area *a, const void *entry, size_t len)
{
	void *p = area_append(a, len);

	if (!p)
		return -ENOSPC;
	memcpy(p, entry, len);
	return 0;
}

static long build_madt(struct acpi_area *a, unsigned int nr_cpus)
{
	long start = area_begin_table(a);
	struct acpi_madt *madt = start < 0 ? NULL : area_append(a, sizeof(*madt));
	/* The IOAPIC id follows the LAPIC ids so the two never collide (nr_cpus <= 255). */
	struct madt_io_apic io = { .type = MADT_TYPE_IO_APIC, .length = sizeof(io),
				   .io_apic_id = (uint8_t)nr_cpus,
				   .address = (uint32_t)LAYOUT_IOAPIC_ADDR, .gsi_base = 0 };
	struct madt_local_apic_nmi nmi = { .type = MADT_TYPE_LOCAL_APIC_NMI, .length = sizeof(nmi),
					   .processor_uid = MADT_ALL_PROCESSORS, .lint = 1 };
	/* PIT IRQ 0 is wired to IOAPIC pin 2; the SCI (IRQ 9) is level-triggered. */
	struct madt_iso iso[2] = {
		{ .type = MADT_TYPE_ISO, .length = sizeof(iso[0]), .source = 0, .gsi = 2 },
		{ .type = MADT_TYPE_ISO, .length = sizeof(iso[0]), .source = FADT_SCI_IRQ,
		  .gsi = FADT_SCI_IRQ, .flags = MADT_INTI_LEVEL_HIGH },
	};

	if (!madt)
		return -ENOSPC;
	madt->local_apic_address = (uint32_t)LAYOUT_LAPIC_ADDR;
	madt->flags = 0; /* no PCAT_COMPAT: no dual 8259 setup to disable */
	for (unsigned int i = 0; i < nr_cpus; i++) {
		struct madt_local_apic l = { .type = MADT_TYPE_LOCAL_APIC, .length = sizeof(l),
					     .processor_uid = (uint8_t)i, .apic_id = (uint8_t)i,
					     .flags = MADT_LAPIC_ENABLED };

		if (madt_add(a, &l, sizeof(l)))
			return -ENOSPC;
	}
	if (madt_add(a, &io, sizeof(io)) || madt_add(a, &iso[0], sizeof(iso[0])) ||
	    madt_add(a, &iso[1], sizeof(iso[1])) || madt_add(a, &nmi, sizeof(nmi)))
		return -ENOSPC;
	area_end_table(a, (size_t)start, "APIC", MADT_REVISION);
	return start;
}

/* MCFG with one allocation: segment 0, buses PCI_BUS_FIRST..PCI_BUS_LAST at the ECAM. */
static long build_mcfg(struct acpi_area *a)
{
	long start = area_begin_table(a);
	struct acpi_mcfg *mcfg = start < 0 ? NULL : area_append(a, sizeof(*mcfg));
	struct mcfg_allocation *alloc = mcfg ? area_append(a, sizeof(*alloc)) : NULL;

	if (!alloc)
		return -ENOSPC;
	alloc->base = LAYOUT_PCI_ECAM_BASE;
	alloc->segment = PCI_SEGMENT;
	alloc->start_bus = PCI_BUS_FIRST;
	alloc->end_bus = PCI_BUS_LAST;
	area_end_table(a, (size_t)start, "MCFG", MCFG_REVISION);
	return start;
}

/* XSDT (ACPI 6.4 5.2.8): the header, then one 64-bit table address per entry. */
static long build_xsdt(struct acpi_area *a, const size_t *tables, unsigned int n)
{
	long start = area_begin_table(a);

	if (start < 0 || !area_append(a, sizeof(struct acpi_sdt_header)))
		return -ENOSPC;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t gpa = area_gpa(tables[i]);
		void *p = area_append(a, sizeof(gpa));

		if (!p)
			return -ENOSPC;
		memcpy(p, &gpa, sizeof(gpa));
	}
	area_end_table(a, (size_t)start, "XSDT", 1);
	return start;
}

static void build_rsdp(struct acpi_area *a, size_t xsdt)
{
	struct acpi_rsdp *r = (struct acpi_rsdp *)a->data;

	memcpy(r->signature, "RSD PTR ", 8);
	memcpy(r->oem_id, ACPI_OEM_ID, 6);
	r->revision = 2;
	r->length = sizeof(*r);
	r->xsdt_address = area_gpa(xsdt);
	r->checksum = (uint8_t)(0 - acpi_checksum(r, 20));
	r->extended_checksum = (uint8_t)(0 - acpi_checksum(r, sizeof(*r)));
}

/* Builds every table into `a`; returns 0 or -ENOSPC (the only way a builder fails). */
static int build_all(struct acpi_area *a, unsigned int nr_cpus, uint64_t mmio64_base)
{
	long dsdt, fadt = -1, madt = -1, mcfg = -1, xsdt = -1;

	a->used = sizeof(struct acpi_rsdp); /* the RSDP comes first, filled last */
	dsdt = build_dsdt(a, nr_cpus, mmio64_base);
	if (dsdt >= 0)
		fadt = build_fadt(a, (size_t)dsdt);
	if (fadt >= 0)
		madt = build_madt(a, nr_cpus);
	if (madt >= 0)
		mcfg = build_mcfg(a);
	if (mcfg >= 0)
		xsdt = build_xsdt(a, (const size_t[]){ (size_t)fadt, (size_t)madt, (size_t)mcfg },
				  3);
	if (xsdt < 0)
		return -ENOSPC;
	build_rsdp(a, (size_t)xsdt);
	return 0;
}

int acpi_build(const struct guest_mem *m, unsigned int nr_cpus)
{
	struct acpi_area a = { 0 };
	int ret;

	if (!m || nr_cpus == 0 || nr_cpus > ACPI_MAX_CPUS)
		return -EINVAL;
	a.data = calloc(1, ACPI_AREA_SIZE);
	if (!a.data)
		return -ENOMEM;
	ret = build_all(&a, nr_cpus, bar_alloc_mmio64_base(m));
	if (ret)
		goto out;
	/* The whole area, so stale bytes from an earlier build never survive. */
	ret = guest_mem_write(m, LAYOUT_ACPI_START, a.data, ACPI_AREA_SIZE);
out:
	free(a.data);
	return ret;
}
