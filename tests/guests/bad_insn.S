/* bad_insn: executes xsavec (0f c7 23 = xsavec (%ebx)) in kernel mode. This host's KVM
 * instruction emulator cannot execute it (KVM_EXIT_INTERNAL_ERROR) and kiln does not complete
 * it (it hides XSAVEC from Linux guests): kiln must report RIP, CPL and the instruction bytes,
 * and exit 1. */
	.code32
	.text
	.globl guest_main
guest_main:
	mov $msg, %esi
	call puts
	mov $xsave_area, %ebx
	xor %eax, %eax
	xor %edx, %edx
	xsavec (%ebx)
	mov $survived, %esi
	call puts
	ret

	.bss
	.balign 64
xsave_area:
	.space 4096

	.section .rodata
msg:	.asciz "bad-insn-next\n"
survived: .asciz "survived-bad-insn\n"
