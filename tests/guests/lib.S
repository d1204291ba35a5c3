/* Shared start-up and I/O routines of the tiny PVH test guests.
 *
 * _start is the PVH entry (32-bit protected mode, paging off, flat segments, EBX = start_info).
 * It loads its own GDT (so IDT gates have a known code selector 0x08), a stack and an IDT whose
 * 32 exception gates print "guest-exception vector=<hex>" and then triple-fault (so an
 * unexpected exception ends the VM with a clue instead of a hang), calls guest_main and powers
 * off when that returns. Routines keep all registers but those named. */

#define COM1		0x3f8
#define COM1_LSR	(COM1 + 5)
#define LSR_DR		0x01	/* data ready */
#define LSR_THRE	0x20	/* transmit holding register empty */
#define ACPI_SLEEP_CTL	0x3c0	/* Cloud Hypervisor's ACPI sleep-control / reset register */
#define SLP_EN_S5	0x34	/* SLP_EN | SLP_TYP=5 */

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
	cli
	lgdt gdt_desc
	ljmp $0x08, $1f
1:	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $stack_top, %esp
	call install_exception_idt
	call guest_main
	jmp poweroff

	.text
/* putc: writes %al to COM1 once the transmitter is empty. */
	.globl putc
putc:
	push %edx
	push %eax
	mov $COM1_LSR, %dx
1:	in %dx, %al
	test $LSR_THRE, %al
	jz 1b
	pop %eax
	mov $COM1, %dx
	out %al, %dx
	pop %edx
	ret

/* puts: writes the NUL-terminated string at %esi. */
	.globl puts
puts:
	push %esi
	push %eax
1:	lodsb
	test %al, %al
	jz 2f
	call putc
	jmp 1b
2:	pop %eax
	pop %esi
	ret

/* getc: waits for a byte on COM1 and returns it in %al (upper bits of %eax cleared). */
	.globl getc
getc:
	push %edx
	mov $COM1_LSR, %dx
1:	in %dx, %al
	test $LSR_DR, %al
	jz 1b
	mov $COM1, %dx
	xor %eax, %eax
	in %dx, %al
	pop %edx
	ret

/* put_hex32: writes %eax as 8 lower-case hex digits. */
	.globl put_hex32
put_hex32:
	push %eax
	push %ebx
	push %ecx
	mov %eax, %ebx
	mov $8, %ecx
1:	rol $4, %ebx
	mov %ebx, %eax
	and $0xf, %eax
	mov hex_digits(%eax), %al
	call putc
	loop 1b
	pop %ecx
	pop %ebx
	pop %eax
	ret

/* poweroff: ACPI S5 through the sleep-control register; never returns. */
	.globl poweroff
poweroff:
	mov $ACPI_SLEEP_CTL, %dx
	mov $SLP_EN_S5, %al
	out %al, %dx
/* halt_forever: parks the vCPU with interrupts off; never returns. */
	.globl halt_forever
halt_forever:
	cli
1:	hlt
	jmp 1b

/* install_exception_idt: points vectors 0-31 at exception_stubs; clobbers %eax, %ecx. */
install_exception_idt:
	xor %ecx, %ecx
1:	mov exception_stub_addrs(,%ecx,4), %eax
	mov %ax, exception_idt(,%ecx,8)		/* offset 15:0 */
	movw $0x08, exception_idt + 2(,%ecx,8)	/* selector */
	movw $0x8e00, exception_idt + 4(,%ecx,8)	/* present, DPL 0, 32-bit interrupt gate */
	shr $16, %eax
	mov %ax, exception_idt + 6(,%ecx,8)	/* offset 31:16 */
	inc %ecx
	cmp $32, %ecx
	jne 1b
	lidt exception_idt_desc
	ret

/* An unexpected exception: report it, then triple-fault on purpose (empty IDT + ud2). */
exception_common:
	mov $exception_msg, %esi
	call puts
	call put_hex32
	mov $'\n', %al
	call putc
	lidt empty_idt_desc
	ud2

	.irp v,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
exception_stub\v:
	mov $\v, %eax
	jmp exception_common
	.endr

	.data
exception_stub_addrs:
	.irp v,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.long exception_stub\v
	.endr
	.balign 8
exception_idt:
	.space 32 * 8
exception_idt_desc:
	.word 32 * 8 - 1
	.long exception_idt
empty_idt_desc:
	.word 0
	.long 0

	.section .rodata
exception_msg:
	.asciz "guest-exception vector="
hex_digits:
	.ascii "0123456789abcdef"

	.balign 8
gdt:
	.quad 0				/* null */
	.quad 0x00cf9b000000ffff	/* 0x08: code, base 0, limit 4 GiB, 32-bit */
	.quad 0x00cf93000000ffff	/* 0x10: data, base 0, limit 4 GiB */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.bss
	.balign 16
	.space 8192
stack_top:
