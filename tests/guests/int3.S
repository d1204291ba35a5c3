/* int3: installs a 32-bit interrupt gate for #BP whose handler prints "bp", executes int3,
 * then prints "after-int3" and powers off. The handler returns without iret (this host's KVM
 * emulator has no protected-mode iret): it pops the frame and jumps to the saved EIP, so a
 * #BP delivered with EIP still at the int3 would print "bp" again and again. */
	.code32
	.text
	.globl guest_main
guest_main:
	mov $bp_handler, %eax
	mov %ax, idt + 3 * 8		/* offset 15:0 */
	shr $16, %eax
	mov %ax, idt + 3 * 8 + 6	/* offset 31:16 */
	lidt idt_desc
	int3
	mov $after, %esi
	call puts
	ret

bp_handler:
	mov $bp_msg, %esi
	call puts
	pop %eax		/* EIP after int3 */
	add $4, %esp		/* CS */
	popf
	jmp *%eax

	.data
	.balign 8
idt:
	.rept 4
	.word 0			/* offset 15:0 (set at run time) */
	.word 0x08		/* code selector */
	.byte 0
	.byte 0x8e		/* present, DPL 0, 32-bit interrupt gate */
	.word 0			/* offset 31:16 */
	.endr
idt_end:
idt_desc:
	.word idt_end - idt - 1
	.long idt

	.section .rodata
bp_msg:	.asciz "bp\n"
after:	.asciz "after-int3\n"
