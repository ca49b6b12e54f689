// guest.S - arm64 guest for vmm.c (runs at EL1, MMU off, IRQs masked in PSTATE the whole time).
// Loaded at GUEST_BASE (0x40000000); x0 = vCPU index on entry (set by the VMM).
// Each phase is bracketed by MMIO writes to the VMM's device (begin/end markers: KVM_EXIT_MMIO to userspace).
// Phases (count 0 = skipped; counts and timer deltas come from PARAMS, written by the VMM):
//   1 hvc        HVC #0 with x0 = PSCI_VERSION               -> EC 0x16 HVC64, handled in KVM (kvm_hvc_arm64)
//   2 mmio_write STR to the VMM device                         -> EC 0x24 DABT_LOW, exit to userspace
//   3 mmio_read  LDR from the VMM device                       -> EC 0x24 DABT_LOW, exit to userspace
//   4 sysreg     MRS ID_AA64PFR0_EL1 (HCR_EL2.TID3), MRS ACTLR_EL1 (HCR_EL2.TACR) -> EC 0x18 SYS64 when trapped
//   5 wfi_short  arm the virtual timer 50 us ahead, WFI until it fires   -> EC 0x01 WFx (when WFI traps)
//   6 wfi_long   the same with 1 ms
//   7 wfe        WFE with the event register clear             -> EC 0x01 WFx only when WFE traps (HCR_EL2.TWE)
//   8 ipi        vCPU0 sends SGI 1 to vCPU1 (ICC_SGI1R_EL1 write -> EC 0x18 SYS64), vCPU1 waits in WFI
// Interrupts are never taken: WFI wakes on a pending interrupt with PSTATE.I set, and the guest acknowledges it
// through ICC_IAR1_EL1 / ICC_EOIR1_EL1. Unexpected exceptions are reported to the VMM (MMIO 0x30/0x38/0x40).
	.equ MMIO,   0x0a000000
	.equ PARAMS, 0x40100000
	.equ FLAGS,  0x40101000
	.equ GICD,   0x08000000
	.equ GICR,   0x080a0000

	.macro PHASE n
	mov	w1, #\n
	str	w1, [x20, #0x0]
	.endm
	.macro ENDPHASE n
	mov	w1, #\n
	str	w1, [x20, #0x8]
	.endm

	.text
	.globl _start
_start:
	mov	x19, x0			// vCPU index
	ldr	x20, =MMIO
	ldr	x21, =PARAMS
	ldr	x1, =vectors
	msr	vbar_el1, x1
	isb
	ldr	x1, =0x40200000
	add	x1, x1, x19, lsl #16
	add	x1, x1, #0x10000
	mov	sp, x1
	// GICv3: distributor (vCPU0 only), this vCPU's redistributor, CPU interface
	cbnz	x19, 1f
	ldr	x1, =GICD
	mov	w2, #0x12		// ARE | EnableGrp1
	str	w2, [x1]
1:	ldr	x1, =GICR
	add	x1, x1, x19, lsl #17	// 128 KiB per redistributor
	add	x1, x1, #0x10000	// SGI_base frame
	mov	w2, #-1
	str	w2, [x1, #0x80]		// GICR_IGROUPR0: all SGIs/PPIs group 1
	ldr	w2, =0x80808080
	str	w2, [x1, #0x400]	// GICR_IPRIORITYR0 (SGI 0-3)
	str	w2, [x1, #0x418]	// GICR_IPRIORITYR6 (PPI 24-27)
	ldr	w2, =((1 << 27) | (1 << 1))
	str	w2, [x1, #0x100]	// GICR_ISENABLER0: virtual timer PPI 27, SGI 1
	mov	x2, #0xff
	msr	s3_0_c4_c6_0, x2	// ICC_PMR_EL1
	mov	x2, #1
	msr	s3_0_c12_c12_7, x2	// ICC_IGRPEN1_EL1
	isb

	// 1 hvc
	ldr	w22, [x21, #0]
	cbz	w22, 2f
	PHASE	1
1:	mov	x0, #0x84000000		// PSCI_VERSION
	hvc	#0
	subs	w22, w22, #1
	b.ne	1b
	ENDPHASE 1
2:	// 2 mmio_write
	ldr	w22, [x21, #4]
	cbz	w22, 2f
	PHASE	2
1:	str	w22, [x20, #0x18]
	subs	w22, w22, #1
	b.ne	1b
	ENDPHASE 2
2:	// 3 mmio_read
	ldr	w22, [x21, #8]
	cbz	w22, 2f
	PHASE	3
1:	ldr	w1, [x20, #0x20]
	subs	w22, w22, #1
	b.ne	1b
	ENDPHASE 3
2:	// 4 sysreg
	ldr	w22, [x21, #12]
	cbz	w22, 2f
	PHASE	4
1:	mrs	x1, id_aa64pfr0_el1
	mrs	x2, actlr_el1
	subs	w22, w22, #1
	b.ne	1b
	ENDPHASE 4
2:	// 5 wfi_short
	ldr	w22, [x21, #16]
	ldr	x23, [x21, #40]
	cbz	w22, 2f
	PHASE	5
1:	bl	timer_wait
	subs	w22, w22, #1
	b.ne	1b
	ENDPHASE 5
2:	// 6 wfi_long
	ldr	w22, [x21, #20]
	ldr	x23, [x21, #48]
	cbz	w22, 2f
	PHASE	6
1:	bl	timer_wait
	subs	w22, w22, #1
	b.ne	1b
	ENDPHASE 6
2:	// 7 wfe
	ldr	w22, [x21, #24]
	cbz	w22, 2f
	PHASE	7
1:	wfe
	subs	w22, w22, #1
	b.ne	1b
	ENDPHASE 7
2:	// 8 ipi (two vCPUs only)
	ldr	w22, [x21, #28]
	ldr	w1, [x21, #32]
	cmp	w1, #2
	b.lo	9f
	cbz	w22, 9f
	ldr	x24, =FLAGS
	PHASE	8
	cbnz	x19, 5f
	// vCPU0: wait until vCPU1 is ready, then send SGI 1 and wait for its acknowledgement, n times
3:	ldr	w1, [x24]
	cbz	w1, 3b
	mov	w25, #0
4:	add	w25, w25, #1
	ldr	x1, =((1 << 24) | (1 << 1))	// INTID 1, target list = Aff0 1
	msr	s3_0_c12_c11_5, x1	// ICC_SGI1R_EL1
	isb
6:	ldr	w1, [x24, #4]
	cmp	w1, w25
	b.lo	6b
	cmp	w25, w22
	b.lo	4b
	b	8f
5:	// vCPU1: ready, then WFI until SGI 1 is pending, acknowledge, count
	mov	w1, #1
	str	w1, [x24]
	dsb	sy
	mov	w25, #0
7:	wfi
	mrs	x2, s3_0_c12_c12_0	// ICC_IAR1_EL1
	cmp	x2, #1020
	b.hs	7b
	msr	s3_0_c12_c12_1, x2	// ICC_EOIR1_EL1
	isb
	cmp	x2, #1
	b.ne	7b
	add	w25, w25, #1
	str	w25, [x24, #4]
	dsb	sy
	cmp	w25, w22
	b.lo	7b
8:	ENDPHASE 8
9:	str	w19, [x20, #0x10]	// done
	b	.

// timer_wait: arm the virtual timer x23 ticks ahead, WFI until ISTATUS, acknowledge, disarm
timer_wait:
	mrs	x1, cntvct_el0
	add	x1, x1, x23
	msr	cntv_cval_el0, x1
	mov	x1, #1
	msr	cntv_ctl_el0, x1
	isb
1:	wfi
	mrs	x1, cntv_ctl_el0
	tbz	x1, #2, 1b		// ISTATUS
	mrs	x2, s3_0_c12_c12_0	// ICC_IAR1_EL1
	msr	cntv_ctl_el0, xzr
	isb
	cmp	x2, #1020
	b.hs	2f
	msr	s3_0_c12_c12_1, x2	// ICC_EOIR1_EL1
	isb
2:	ret

	.ltorg
	.balign	2048
vectors:
	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	.balign	128
	mov	x9, #\i
	b	exc
	.endr
exc:	ldr	x20, =MMIO
	mrs	x10, esr_el1
	mrs	x11, elr_el1
	str	x10, [x20, #0x30]
	str	x11, [x20, #0x38]
	str	x9, [x20, #0x40]
	b	.
	.ltorg
