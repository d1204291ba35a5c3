/* hello: prints one line and powers off (exit status 0). */
	.code32
	.text
	.globl guest_main
guest_main:
	mov $msg, %esi
	call puts
	ret

	.section .rodata
msg:	.asciz "hello from a tiny kiln guest\n"
