/* first_insn: tiny PVH guest for bench/boot-latency.
 *
 * Its FIRST instruction writes to I/O port 0x80 (the POST/debug port), so the VMM's first
 * I/O exit marks the moment the guest starts running: kiln -vv logs it with the time since
 * its process start. The code written is whatever AL holds at the PVH entry (0 in kiln);
 * the second write, 0xb0, is a known marker. Then it powers off twice over: ACPI S5 through
 * port 0x3c0 (kiln; QEMU ignores it) and a write to port 0xf4 (QEMU's isa-debug-exit
 * device; kiln ignores it). No stack, no GDT, no memory accesses: the PVH entry state
 * (32-bit protected mode, flat segments, paging off) is all it needs. */
	.section .note.Xen, "a"
	.balign 4
	.long 4			/* namesz */
	.long 4			/* descsz */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start

	.section .text.entry, "ax"
	.code32
	.globl _start
_start:
	out %al, $0x80		/* the first instruction */
	mov $0xb0, %al
	out %al, $0x80
	mov $0x3c0, %dx		/* ACPI sleep-control register (Cloud Hypervisor / kiln) */
	mov $0x34, %al		/* SLP_EN | SLP_TYP=5 */
	out %al, %dx
	xor %eax, %eax
	out %al, $0xf4		/* QEMU isa-debug-exit: exits with status (0 << 1) | 1 = 1 */
1:	cli
	hlt
	jmp 1b
