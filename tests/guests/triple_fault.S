/* triple_fault: loads an empty IDT, then raises #UD with ud2: its delivery faults (#GP), so
 * does the double fault's; the CPU shuts down (KVM_EXIT_SHUTDOWN). kiln must exit 1.
 * (Not int3: this host's KVM cannot emulate it, so it would test kiln's int3 completion.) */
	.code32
	.text
	.globl guest_main
guest_main:
	mov $msg, %esi
	call puts
	lidt empty_idt
	ud2
	mov $survived, %esi
	call puts
	ret

	.section .rodata
	.balign 8
empty_idt:
	.word 0
	.long 0
msg:	.asciz "triple-fault-next\n"
survived: .asciz "survived-triple-fault\n"
