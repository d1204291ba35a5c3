/* alive: tiny PVH guest for bench/memory-overhead. Writes 0xa1 to port 0x80, prints
 * "bench-alive" on COM1 and halts with interrupts off, so the VM stays up until the VMM is
 * killed. Touches no memory beyond its own image. */
	.section .note.Xen, "a"
	.balign 4
	.long 4
	.long 4
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start

	.section .text.entry, "ax"
	.code32
	.globl _start
_start:
	mov $0xa1, %al
	out %al, $0x80
	mov $msg, %esi
	mov $0x3f8, %dx
1:	lodsb
	test %al, %al
	jz 2f
	out %al, %dx		/* COM1 THR; both VMMs accept back-to-back bytes */
	jmp 1b
2:	cli
3:	hlt
	jmp 3b

	.section .rodata
msg:	.asciz "bench-alive\n"
