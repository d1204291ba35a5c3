/* echo: prints "echo-ready", then echoes every byte read from COM1 until '\n', then powers off. */
	.code32
	.text
	.globl guest_main
guest_main:
	mov $ready, %esi
	call puts
1:	call getc
	call putc
	cmp $'\n', %al
	jne 1b
	ret

	.section .rodata
ready:	.asciz "echo-ready\n"
