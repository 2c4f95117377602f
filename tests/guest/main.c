/* tests/guest/main.c - what the test guest does once in long mode.
 *
 * Owns: the boot processor's script (banner, command line, port and MMIO
 * checks, CPU discovery, starting the APs, waiting for them, the virtio
 * devices (vtest.c), shutdown) and the
 * application processors' hello. The output lines are the contract the KVM
 * and QEMU tests check; see README.md.
 */
#include <stdint.h>

#include "console.h"
#include "hw.h"
#include "smp.h"
#include "vtest.h"

#define HVM_START_MAGIC 0x336ec578u
#define CMDLINE_MAX 256
#define UART_SCR 0x3ff   /* 8250 scratch register: read back what was written */
/* Unmapped: just past the vmm's 8 virtio-mmio slots (0xd0000000 + 8 * 0x200);
 * reads must return all ones. */
#define MMIO_PROBE 0xd0001000ull
#define I8042_CMD 0x64
#define I8042_RESET 0xfe
/* How long the BSP waits for APs: ~4 s at 2.5 GHz, far beyond a healthy start. */
#define AP_WAIT_TICKS 10000000000ull

/* Set by the 32-bit entry from ebx: physical address of hvm_start_info. */
extern uint32_t start_info_pa;

void guest_main(void);
void ap_main(unsigned id);

static volatile unsigned aps_up;

static void hello(unsigned id)
{
	con_lock();
	con_puts("hello from vcpu ");
	con_dec(id);
	con_puts("\n");
	con_unlock();
}

void ap_main(unsigned id)
{
	hello(id);
	__atomic_fetch_add(&aps_up, 1, __ATOMIC_RELEASE);
}

static void print_cmdline(void)
{
	const uint32_t *si = gpa(start_info_pa);
	con_lock();
	if (start_info_pa == 0 || si[0] != HVM_START_MAGIC) {
		con_puts("no hvm_start_info\n");
	} else {
		/* cmdline_paddr is the u64 at offset 24. */
		uint64_t cl = (uint64_t)si[6] | (uint64_t)si[7] << 32;
		con_puts("cmdline: ");
		if (cl)
			con_putn(gpa(cl), CMDLINE_MAX);
		con_puts("\n");
	}
	con_unlock();
}

static void port_check(void)
{
	outb(UART_SCR, 0x5a);
	uint8_t a = inb(UART_SCR);
	outb(UART_SCR, 0xa5);
	uint8_t b = inb(UART_SCR);
	con_line(a == 0x5a && b == 0xa5 ? "uart scratch OK" : "uart scratch FAIL");
}

static void mmio_check(void)
{
	uint32_t v = mmio_read32(MMIO_PROBE);
	con_lock();
	con_puts("mmio read ");
	con_hex(MMIO_PROBE);
	con_puts(" = ");
	con_hex(v);
	con_puts("\n");
	con_unlock();
}

static unsigned start_aps(void)
{
	static unsigned ids[SMP_MAX_CPUS];
	int found;
	unsigned n = smp_find_cpus(ids, SMP_MAX_CPUS, &found);
	con_lock();
	con_puts(found ? "mp table: " : "no mp table: ");
	con_dec(n);
	con_puts(" cpus\n");
	con_unlock();

	unsigned self = apic_id();
	hello(self);
	if (n > 1) {
		smp_prepare();
		for (unsigned i = 0; i < n; i++)
			if (ids[i] != self)
				smp_start_ap(ids[i]);
	}
	uint64_t t0 = rdtsc();
	while (__atomic_load_n(&aps_up, __ATOMIC_ACQUIRE) < n - 1 &&
	       rdtsc() - t0 < AP_WAIT_TICKS)
		cpu_relax();
	return n;
}

void guest_main(void)
{
	con_line("test guest: PVH boot, long mode");
	print_cmdline();
	port_check();
	mmio_check();
	unsigned n = start_aps();
	unsigned up = 1 + __atomic_load_n(&aps_up, __ATOMIC_ACQUIRE);
	con_lock();
	if (up == n) {
		con_puts("all ");
		con_dec(n);
		con_puts(" vcpus up\n");
	} else {
		con_puts("only ");
		con_dec(up);
		con_puts(" of ");
		con_dec(n);
		con_puts(" vcpus up\n");
	}
	con_unlock();
	vtest_run();
	con_line("shutdown");
	/* i8042 pulse-reset: the vmm's clean shutdown. The caller triple-faults
	 * if this returns (no i8042, e.g. QEMU microvm). */
	outb(I8042_CMD, I8042_RESET);
}
