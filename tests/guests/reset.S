/* reset: prints "boot", then acts on command bytes from COM1:
 *   'r'  reset through the ACPI reset register (write 0x01 to port 0x3c0)
 *   'k'  reset through the i8042 (write 0xfe to port 0x64)
 *   'p'  power off
 * Other bytes are ignored. A reset that does not happen leaves the guest halted. */
	.code32
	.text
	.globl guest_main
guest_main:
	mov $boot, %esi
	call puts
1:	call getc
	cmp $'p', %al
	je poweroff
	cmp $'r', %al
	je 2f
	cmp $'k', %al
	je 3f
	jmp 1b
2:	mov $0x3c0, %dx
	mov $0x01, %al
	out %al, %dx
	jmp halt_forever
3:	mov $0x64, %dx
	mov $0xfe, %al
	out %al, %dx
	jmp halt_forever

	.section .rodata
boot:	.asciz "boot\n"
