/* debug_port: writes the boot-progress codes 0x5a then 0xa5 to port 0x80, prints
 * "debug-port-done", powers off. kiln logs each code at debug level (-vv). */
	.code32
	.text
	.globl guest_main
guest_main:
	mov $0x5a, %al
	out %al, $0x80
	mov $0xa5, %al
	out %al, $0x80
	mov $msg, %esi
	call puts
	ret

	.section .rodata
msg:	.asciz "debug-port-done\n"
