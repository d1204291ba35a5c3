/* fwait: executes fwait (0x9b) in kernel mode, prints "after-fwait", powers off. */
	.code32
	.text
	.globl guest_main
guest_main:
	fwait
	mov $msg, %esi
	call puts
	ret

	.section .rodata
msg:	.asciz "after-fwait\n"
