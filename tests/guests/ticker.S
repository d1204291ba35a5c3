/* ticker: prints "tick <n>" (8 hex digits) each time the CMOS RTC's seconds register changes,
 * forever: about one line per second on any host, so a test can see a paused VM go quiet and
 * resume. Reads the RTC through ports 0x70/0x71 (kiln's CMOS returns the host's time). */
	.code32
	.text
	.globl guest_main
guest_main:
	xor %ebx, %ebx			/* tick count */
	mov $0xff, %edi			/* last seconds value seen (none yet) */
1:	mov $0x00, %al			/* RTC seconds */
	out %al, $0x70
	in $0x71, %al
	movzbl %al, %eax
	cmp %edi, %eax
	je 1b
	mov %eax, %edi
	mov $msg, %esi
	call puts
	mov %ebx, %eax
	call put_hex32
	mov $'\n', %al
	call putc
	inc %ebx
	jmp 1b

	.section .rodata
msg:	.asciz "tick "
