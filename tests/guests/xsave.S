/* xsave: enables XSAVE (CR4.OSXSAVE, XCR0 = x87|SSE), puts a pattern in XMM1, stores the state
 * with xsave (which kiln completes on kvm_pvm hosts) and prints "xsave-xmm1=<dword>" from the
 * area (offset 160 + 16) and "xsave-bv=<XSTATE_BV low dword>"; then changes the saved XMM1,
 * restores with xrstor, reads XMM1 back and prints "xrstor-xmm1=<dword>". */
	.code32
	.text
	.globl guest_main
guest_main:
	mov %cr0, %eax
	and $~((1 << 2) | (1 << 3)), %eax	/* EM = 0, TS = 0 */
	or $(1 << 1), %eax			/* MP = 1 */
	mov %eax, %cr0
	mov %cr4, %eax
	or $((1 << 9) | (1 << 10) | (1 << 18)), %eax	/* OSFXSR | OSXMMEXCPT | OSXSAVE */
	mov %eax, %cr4
	xor %ecx, %ecx
	xor %edx, %edx
	mov $3, %eax				/* XCR0 = x87 | SSE */
	xsetbv
	movups pattern, %xmm1
	mov $3, %eax
	xor %edx, %edx
	xsave area
	mov $msg1, %esi
	call puts
	mov area + 160 + 16, %eax
	call put_hex32
	mov $msg2, %esi
	call puts
	mov area + 512, %eax
	call put_hex32
	movl $0x600dcafe, area + 160 + 16
	mov $3, %eax
	xor %edx, %edx
	xrstor area
	movups %xmm1, out
	mov $msg3, %esi
	call puts
	mov out, %eax
	call put_hex32
	mov $'\n', %al
	call putc
	ret

	.data
	.balign 16
pattern:
	.long 0x12345678, 0x9abcdef0, 0x0badf00d, 0xfeedface
out:
	.space 16
	.bss
	.balign 64
area:
	.space 4096

	.section .rodata
msg1:	.asciz "xsave-xmm1="
msg2:	.asciz "\nxsave-bv="
msg3:	.asciz "\nxrstor-xmm1="
