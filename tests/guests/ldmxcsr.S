/* ldmxcsr: enables SSE, loads MXCSR = 0x7f80 with ldmxcsr, reads it back with fxsave (MXCSR is
 * at offset 24 of the save area; KVM's emulator implements fxsave itself) and prints
 * "mxcsr=00007f80", then reads it with stmxcsr (which kiln completes on kvm_pvm hosts, like
 * ldmxcsr) and prints "stmxcsr=00007f80". */
	.code32
	.text
	.globl guest_main
guest_main:
	mov %cr0, %eax
	and $~(1 << 2), %eax		/* EM = 0 */
	or $(1 << 1), %eax		/* MP = 1 */
	and $~(1 << 3), %eax		/* TS = 0 */
	mov %eax, %cr0
	mov %cr4, %eax
	or $((1 << 9) | (1 << 10)), %eax	/* OSFXSR | OSXMMEXCPT */
	mov %eax, %cr4
	ldmxcsr mxcsr_in
	fxsave fxsave_area
	mov $msg, %esi
	call puts
	mov fxsave_area + 24, %eax
	call put_hex32
	mov $'\n', %al
	call putc
	stmxcsr mxcsr_out
	mov $msg2, %esi
	call puts
	mov mxcsr_out, %eax
	call put_hex32
	mov $'\n', %al
	call putc
	ret

	.data
	.balign 4
mxcsr_in:
	.long 0x7f80
mxcsr_out:
	.long 0xdeadbeef
	.bss
	.balign 16
fxsave_area:
	.space 512

	.section .rodata
msg:	.asciz "mxcsr="
msg2:	.asciz "stmxcsr="
