/* tests/test_kvm_backend.c - the KVM backend's unit test, at the hv.h level.
 *
 * A few hand-assembled real-mode instructions do port I/O, string port I/O and
 * MMIO to unbacked addresses; the test checks each exit packet (a write into a
 * bell trap comes out as a bell, next to it as a plain MMIO write),
 * that completed reads land in guest registers/memory, and that a kick gets a
 * halted vCPU out of KVM_RUN. Skips when /dev/kvm is unusable.
 */
#include "vmm/hv/kvm.h"
#include "tests/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/hv.h"

#define MEM_SIZE 0x4000ul /* 16 KiB at gpa 0: everything above exits */
#define CODE 0x1000
#define AP_CODE 0x1800

/* Real mode, ds = es = cs = 0. */
static const uint8_t bsp_code[] = {
	0xb0, 0x41,             /* mov al, 0x41 */
	0xba, 0xf8, 0x03,       /* mov dx, 0x3f8 */
	0xee,                   /* out dx, al          -> IO_OUT 0x3f8 = 0x41 */
	0xec,                   /* in al, dx           -> IO_IN, answer 0x5a */
	0xa2, 0x00, 0x20,       /* mov [0x2000], al */
	0xa1, 0x00, 0x80,       /* mov ax, [0x8000]    -> MEM_READ 2 bytes, 0x1234 */
	0xa3, 0x02, 0x20,       /* mov [0x2002], ax */
	0xc7, 0x06, 0x10, 0x80, 0xef, 0xbe, /* mov word [0x8010], 0xbeef -> BELL */
	0xc7, 0x06, 0x20, 0x80, 0x34, 0x12, /* mov word [0x8020], 0x1234 -> MEM_WRITE */
	0xbe, 0x00, 0x30,       /* mov si, 0x3000 */
	0xb9, 0x03, 0x00,       /* mov cx, 3 */
	0xf3, 0x6e,             /* rep outsb           -> 3 x IO_OUT */
	0xbf, 0x10, 0x30,       /* mov di, 0x3010 */
	0xb9, 0x02, 0x00,       /* mov cx, 2 */
	0xf3, 0x6c,             /* rep insb            -> 2 x IO_IN */
	0xfa,                   /* cli */
	0xf4,                   /* hlt: blocks in the in-kernel APIC until kicked */
	0xeb, 0xfc,             /* jmp back to cli */
};

static const uint8_t ap_code[] = {
	0xb0, 0x99,             /* mov al, 0x99 */
	0xe6, 0x80,             /* out 0x80, al */
	0xfa, 0xf4, 0xeb, 0xfc, /* cli; hlt; jmp */
};

struct env {
	int kvm_fd;
	uint8_t *mem;
	struct hv_guest *g;
	struct hv_vcpu *v0, *v1;
};

static int open_kvm(void)
{
	return open("/dev/kvm", O_RDWR | O_CLOEXEC);
}

static int setup(void **state)
{
	static struct env e;
	memset(&e, 0, sizeof(e));
	e.kvm_fd = open_kvm();
	e.mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	             -1, 0);
	if (e.mem == MAP_FAILED)
		return -1;
	*state = &e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	if (e->v0)
		hv_kvm_ops.vcpu_destroy(e->v0);
	if (e->v1)
		hv_kvm_ops.vcpu_destroy(e->v1);
	if (e->g)
		hv_kvm_ops.guest_destroy(e->g);
	if (e->kvm_fd >= 0)
		close(e->kvm_fd);
	munmap(e->mem, MEM_SIZE);
	return 0;
}

/* Create the VM or skip saying why. */
static bool need_guest(struct env *e)
{
	if (e->kvm_fd < 0) {
		SKIP_BECAUSE("cannot open /dev/kvm: %s", strerror(errno));
		return false;
	}
	int r = hv_kvm_ops.guest_create(e->kvm_fd, NULL, &e->g);
	if (r < 0) {
		SKIP_BECAUSE("KVM_CREATE_VM or VM setup failed: %s", strerror(-r));
		return false;
	}
	return true;
}

static void real_mode_at(struct hv_vcpu *v, uint64_t rip)
{
	struct hv_regs r;
	assert_int_equal(hv_kvm_ops.vcpu_read_state(v, &r), 0);
	struct hv_segment *segs[] = { &r.cs, &r.ds, &r.es, &r.ss };
	for (unsigned i = 0; i < 4; i++) {
		segs[i]->base = 0;
		segs[i]->selector = 0;
	}
	r.rip = rip;
	r.rsp = 0x3f00;
	r.rflags = 2;
	assert_int_equal(hv_kvm_ops.vcpu_write_state(v, &r), 0);
}

static void expect(struct hv_vcpu *v, enum hv_exit_kind kind, uint64_t addr,
                   unsigned size, uint64_t data)
{
	struct hv_exit x;
	assert_int_equal(hv_kvm_ops.vcpu_enter(v, &x), 0);
	if (x.kind != kind)
		fail_msg("exit %s (reason %#x), wanted %s", hv_exit_kind_name(x.kind),
		         x.reason, hv_exit_kind_name(kind));
	assert_int_equal(x.addr, addr);
	assert_int_equal(x.size, size);
	if (kind != HV_EXIT_IO_IN && kind != HV_EXIT_MEM_READ)
		assert_int_equal(x.data, data);
}

static void test_bad_fd(void **state)
{
	struct hv_guest *g = (void *)1;
	assert_int_equal(hv_kvm_ops.guest_create(-1, NULL, &g), -EBADF);
	assert_null(g);
	int max = hv_kvm_ops.max_vcpus();
	assert_true(max >= 1 && max <= HV_MAX_VCPUS);
}

static void test_traps(void **state)
{
	struct env *e = *state;
	if (!need_guest(e))
		return;
	const struct hv_ops *o = &hv_kvm_ops;
	assert_int_equal(o->set_trap(e->g, HV_TRAP_IO, 0x3f8, 8), 0);
	assert_int_equal(o->set_trap(e->g, HV_TRAP_IO, 0x3ff, 1), -EEXIST);
	assert_int_equal(o->set_trap(e->g, HV_TRAP_IO, 0xffff, 2), -EINVAL);
	assert_int_equal(o->set_trap(e->g, HV_TRAP_MEM, 0x3f8, 8), 0); /* other space */
	assert_int_equal(o->set_trap(e->g, HV_TRAP_BELL, 0x3fc, 8), -EEXIST);
	assert_int_equal(o->set_trap(e->g, HV_TRAP_MEM, 0, 0), -EINVAL);
	assert_int_equal(o->set_trap(e->g, HV_TRAP_MEM, ~0ull, 2), -EINVAL);
	assert_int_equal(o->map_memory(e->g, 0x123, e->mem, MEM_SIZE, -1, 0), -EINVAL);
	assert_int_equal(o->set_irq(e->g, 4, 1), 0);
	assert_int_equal(o->set_irq(e->g, 4, 0), 0);
}

struct kicker {
	const struct hv_ops *o;
	struct hv_vcpu *v;
};

static void *kick_later(void *arg)
{
	struct kicker *k = arg;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	k->o->vcpu_kick(k->v);
	return NULL;
}

static void test_exits(void **state)
{
	struct env *e = *state;
	if (!need_guest(e))
		return;
	const struct hv_ops *o = &hv_kvm_ops;
	memcpy(e->mem + CODE, bsp_code, sizeof(bsp_code));
	memcpy(e->mem + 0x3000, "abc", 3);
	assert_int_equal(o->map_memory(e->g, 0, e->mem, MEM_SIZE, -1, 0), 0);
	assert_int_equal(o->set_trap(e->g, HV_TRAP_IO, 0x3f8, 8), 0);
	assert_int_equal(o->set_trap(e->g, HV_TRAP_MEM, 0x8000, 0x10), 0);
	assert_int_equal(o->set_trap(e->g, HV_TRAP_BELL, 0x8010, 0x10), 0);
	assert_int_equal(o->vcpu_create(e->g, 0, &e->v0), 0);
	real_mode_at(e->v0, CODE);

	/* A kick before entering makes the next enter return at once. */
	o->vcpu_kick(e->v0);
	expect(e->v0, HV_EXIT_KICK, 0, 0, 0);
	assert_int_equal(o->vcpu_complete_read(e->v0, 1), -EINVAL);

	expect(e->v0, HV_EXIT_IO_OUT, 0x3f8, 1, 0x41);
	expect(e->v0, HV_EXIT_IO_IN, 0x3f8, 1, 0);
	assert_int_equal(o->vcpu_complete_read(e->v0, 0x5a), 0);
	expect(e->v0, HV_EXIT_MEM_READ, 0x8000, 2, 0);
	assert_int_equal(o->vcpu_complete_read(e->v0, 0x1234), 0);
	expect(e->v0, HV_EXIT_BELL, 0x8010, 2, 0xbeef);
	expect(e->v0, HV_EXIT_MEM_WRITE, 0x8020, 2, 0x1234);
	expect(e->v0, HV_EXIT_IO_OUT, 0x3f8, 1, 'a');
	expect(e->v0, HV_EXIT_IO_OUT, 0x3f8, 1, 'b');
	expect(e->v0, HV_EXIT_IO_OUT, 0x3f8, 1, 'c');
	expect(e->v0, HV_EXIT_IO_IN, 0x3f8, 1, 0);
	assert_int_equal(o->vcpu_complete_read(e->v0, 'x'), 0);
	expect(e->v0, HV_EXIT_IO_IN, 0x3f8, 1, 0);
	assert_int_equal(o->vcpu_complete_read(e->v0, 'y'), 0);

	/* Now it halts with interrupts off; only a kick gets it out. */
	struct kicker k = { o, e->v0 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, kick_later, &k), 0);
	expect(e->v0, HV_EXIT_KICK, 0, 0, 0);
	pthread_join(t, NULL);

	assert_int_equal(e->mem[0x2000], 0x5a);
	assert_int_equal(e->mem[0x2002] | e->mem[0x2003] << 8, 0x1234);
	assert_memory_equal(e->mem + 0x3010, "xy", 2);
	struct hv_regs r;
	assert_int_equal(o->vcpu_read_state(e->v0, &r), 0);
	assert_true(r.rip >= CODE && r.rip < CODE + sizeof(bsp_code));
	assert_int_equal(r.rcx & 0xffff, 0);
	assert_int_equal(r.rdi & 0xffff, 0x3012);
}

/* An AP given state runs without INIT/SIPI. */
static void test_ap_with_state(void **state)
{
	struct env *e = *state;
	if (!need_guest(e))
		return;
	const struct hv_ops *o = &hv_kvm_ops;
	memcpy(e->mem + AP_CODE, ap_code, sizeof(ap_code));
	assert_int_equal(o->map_memory(e->g, 0, e->mem, MEM_SIZE, -1, 0), 0);
	assert_int_equal(o->vcpu_create(e->g, 0, &e->v0), 0);
	assert_int_equal(o->vcpu_create(e->g, 1, &e->v1), 0);
	real_mode_at(e->v1, AP_CODE);
	expect(e->v1, HV_EXIT_IO_OUT, 0x80, 1, 0x99);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_fd),
		cmocka_unit_test_setup_teardown(test_traps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ap_with_state, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
