/* The x86_64 guest physical address map, in one place. Values follow Cloud Hypervisor's
 * arch/src/x86_64/layout.rs where a guest could tell the difference. All in bytes. */
#ifndef KILN_ARCH_X86_64_LAYOUT_H
#define KILN_ARCH_X86_64_LAYOUT_H

#define KIB (1ull << 10)
#define MIB (1ull << 20)
#define GIB (1ull << 30)

/* Boot-time structures in low memory (below the EBDA at 0x9fc00). */
#define LAYOUT_BOOT_GDT 0x500ull         /* boot GDT, 4 entries */
#define LAYOUT_BOOT_IDT 0x520ull         /* empty IDT (limit 0) */
#define LAYOUT_PVH_INFO 0x6000ull        /* struct hvm_start_info */
#define LAYOUT_PVH_MEMMAP 0x6040ull      /* hvm_memmap_table_entry[] after it */
#define LAYOUT_PVH_MODLIST 0x6800ull     /* hvm_modlist_entry[] */
#define LAYOUT_ZERO_PAGE 0x7000ull       /* struct boot_params, 4 KiB */
#define LAYOUT_BOOT_STACK 0x8ff0ull      /* initial RSP/ESP */
#define LAYOUT_PML4 0x9000ull            /* identity page tables for the 64-bit entry */
#define LAYOUT_PDPT 0xa000ull
#define LAYOUT_PD 0xb000ull              /* 4 pages: 4 GiB of 2 MiB pages */
#define LAYOUT_CMDLINE 0x20000ull        /* kernel command line */
#define LAYOUT_CMDLINE_MAX 0x10000ull    /* bytes, including the NUL */
#define LAYOUT_EBDA_START 0x9fc00ull     /* RAM below this is usable */
#define LAYOUT_HIGH_RAM_START 0x100000ull /* 1 MiB: kernel load address */

/* ACPI tables live in the BIOS area; the RSDP must be in 0xe0000-0xfffff (ACPI 6.4 5.2.5.1). */
#define LAYOUT_ACPI_START 0xe0000ull
#define LAYOUT_ACPI_END 0x100000ull

/* 32-bit device hole: [3 GiB, 4 GiB) holds no RAM. */
#define LAYOUT_MEM_32BIT_HOLE 0xc0000000ull
#define LAYOUT_PCI_MMIO32_START 0xc0000000ull
/* PCI segment 0 (pci/pci.h), as Cloud Hypervisor lays it out:
 * - 32-bit BAR window [LAYOUT_PCI_MMIO32_START, +640 MiB) = [0xc0000000, 0xe8000000): the
 *   DWordMemory window of \_SB.PCI0's _CRS; pci/bar_alloc.h hands it out.
 * - ECAM (PCIe enhanced configuration access, PCI Firmware Spec 3.3 4.1.2) right after it:
 *   4 KiB per function, 1 MiB per bus (bus << 20 | device << 15 | function << 12 | register);
 *   kiln has bus 0 only, so 1 MiB at 0xe8000000. The MCFG table describes it (bus 0-0) and the
 *   DSDT's \_SB.MBRD (PNP0C02) reserves it as a motherboard resource. Cloud Hypervisor keeps
 *   [0xe8000000, 0xf8000000) for the ECAM of up to 256 segments; kiln leaves the rest free.
 * - 64-bit BAR window: LAYOUT_PCI_MMIO64_SIZE bytes from the first LAYOUT_PCI_MMIO64_ALIGN
 *   boundary at or above both 4 GiB and the end of guest RAM (bar_alloc_mmio64_base()): for
 *   RAM up to 3 GiB that is [4 GiB, 68 GiB), which needs 37 guest physical address bits. A
 *   window above the CPU's physical address width is ignored by Linux ("not CPU
 *   addressable"). The QWordMemory window of \_SB.PCI0's _CRS. */
#define LAYOUT_PCI_MMIO32_SIZE (640 * MIB)
#define LAYOUT_PCI_ECAM_BASE 0xe8000000ull
#define LAYOUT_PCI_ECAM_SIZE (1 * MIB)     /* bus 0 only: MCFG end bus 0 */
#define LAYOUT_PCI_MMIO64_ALIGN (1 * GIB)
#define LAYOUT_PCI_MMIO64_SIZE (64 * GIB)
/* Generic Event Device (hw/ged.h) registers, one page in the 32-bit hole: above any 32-bit PCI
 * window kiln will hand out and below the IOAPIC; QEMU's microvm puts its GED at the same
 * address. The DSDT's \_SB.GED_ OperationRegion covers the status register at offset 0. */
#define LAYOUT_GED_ADDR 0xfea00000ull
#define LAYOUT_GED_SIZE 0x1000ull
#define LAYOUT_IOAPIC_ADDR 0xfec00000ull
#define LAYOUT_LAPIC_ADDR 0xfee00000ull
#define LAYOUT_TSS_ADDR 0xfffbd000ull    /* KVM_SET_TSS_ADDR, 3 pages */
#define LAYOUT_IDENTITY_MAP_ADDR 0xfffbc000ull

/* Legacy I/O ports. */
#define PORT_I8042_DATA 0x60
#define PORT_I8042_CMD 0x64
#define PORT_CMOS 0x70              /* 0x70 index, 0x71 data */
#define PORT_DEBUG 0x80             /* Cloud Hypervisor's boot-progress port */
#define PORT_ACPI_PM 0x3c0          /* ACPI sleep control/status and reset register */
#define PORT_COM1 0x3f8
#define PORT_PCI_CONFIG 0xcf8       /* PCI configuration mechanism #1: 0xcf8 CONFIG_ADDRESS, */
#define PORT_PCI_CONFIG_LEN 8       /* 0xcfc-0xcff CONFIG_DATA (PCI Local Bus 3.0 3.2.2.3.2) */
#define IRQ_COM1 4
/* GED interrupt: IOAPIC pin (= GSI) 5, edge-triggered, active high. Nothing else uses it: the
 * PIT is GSI 2 (MADT override), COM1 GSI 4, the (unused) SCI GSI 9; the RTC and i8042 raise
 * none. */
#define IRQ_GED 5

#endif
