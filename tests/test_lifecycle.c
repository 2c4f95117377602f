/* GuestLifecycle: every call in every state, and each GuestError the core can
 * produce, driven through a controllable fake hypervisor. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/fake_hv.h"
#include "lib/mini_kernel.h"
#include "vmm/lifecycle.h"
#include "vmm/vm.h"

static struct fake_hv_ctl ctl;

static struct guest_lifecycle *new_lc(int serial_fd)
{
	struct lc_options o = { .hv = &hv_fake_ops, .hv_fd = -1, .backend_arg = &ctl,
	                        .sink = NULL, .serial_fd = serial_fd };
	return lc_new(&o);
}

static void good_config(struct guest_config *c, unsigned cpus)
{
	gc_init(c);
	c->kernel_fd = mini_pvh_kernel();
	assert_true(c->kernel_fd >= 0);
	c->has_cpus = true;
	c->cpus = (uint8_t)cpus;
	c->has_guest_memory = true;
	c->guest_memory = 64ull << 20;
}

static enum guest_error create(struct guest_lifecycle *lc, unsigned cpus)
{
	struct guest_config c;
	char err[256];
	good_config(&c, cpus);
	enum guest_error e = lc_create(lc, &c, err, sizeof(err));
	if (e)
		print_message("create: %s: %s\n", guest_error_name(e), err);
	return e;
}

struct runner {
	struct guest_lifecycle *lc;
	pthread_t t;
	enum guest_error result;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;
	r->result = lc_run(r->lc);
	return NULL;
}

static void start_run(struct runner *r, struct guest_lifecycle *lc)
{
	r->lc = lc;
	r->result = (enum guest_error)-1;
	assert_int_equal(pthread_create(&r->t, NULL, run_thread, r), 0);
}

/* Wait (bounded) until n vCPU threads are inside the backend. */
static void wait_entered(unsigned n)
{
	for (int i = 0; i < 5000 && __atomic_load_n(&ctl.vcpus_entered, __ATOMIC_SEQ_CST) < n; i++)
		usleep(1000);
	assert_true(ctl.vcpus_entered >= n);
}

static int setup(void **s)
{
	fake_hv_reset(&ctl);
	return 0;
}

static void test_run_before_create(void **s)
{
	struct guest_lifecycle *lc = new_lc(-1);
	assert_int_equal(lc_run(lc), GUEST_ERR_NOT_CREATED);
	assert_int_equal(lc_bind(lc), GUEST_ERR_NOT_CREATED);
	lc_stop(lc); /* Stop on nothing is harmless */
	assert_int_equal(lc_run(lc), GUEST_ERR_NOT_CREATED);
	lc_free(lc);
}

static void test_stop_from_another_thread(void **s)
{
	struct guest_lifecycle *lc = new_lc(-1);
	assert_int_equal(create(lc, 1), GUEST_OK);
	assert_int_equal(lc_bind(lc), GUEST_OK);
	struct runner r;
	start_run(&r, lc);
	wait_entered(1);
	/* While running: a second Run and a Create are refused. */
	assert_int_equal(lc_run(lc), GUEST_ERR_ALREADY_RUNNING);
	assert_int_equal(create(lc, 1), GUEST_ERR_ALREADY_RUNNING);
	/* Bind is allowed between Create and Stop, running or not. */
	assert_int_equal(lc_bind(lc), GUEST_OK);
	lc_stop(lc);
	pthread_join(r.t, NULL);
	assert_int_equal(r.result, GUEST_ERR_CONTROLLER_FORCED_HALT);
	/* Stop then Run (without Create) is refused; Bind too. */
	assert_int_equal(lc_run(lc), GUEST_ERR_NOT_CREATED);
	assert_int_equal(lc_bind(lc), GUEST_ERR_NOT_CREATED);
	/* Stop then Create re-initialises: a fresh guest object. */
	assert_int_equal(ctl.guests_created, 1);
	assert_int_equal(create(lc, 1), GUEST_OK);
	assert_int_equal(ctl.guests_created, 2);
	assert_int_equal(ctl.guests_destroyed, 1);
	ctl.vcpus_entered = 0;
	start_run(&r, lc);
	wait_entered(1);
	lc_stop(lc);
	pthread_join(r.t, NULL);
	assert_int_equal(r.result, GUEST_ERR_CONTROLLER_FORCED_HALT);
	lc_free(lc);
	assert_int_equal(ctl.guests_destroyed, 2);
}

static void test_create_twice_reinitialises(void **s)
{
	struct guest_lifecycle *lc = new_lc(-1);
	assert_int_equal(create(lc, 1), GUEST_OK);
	assert_int_equal(create(lc, 2), GUEST_OK);
	assert_int_equal(ctl.guests_created, 2);
	assert_int_equal(ctl.guests_destroyed, 1);
	lc_stop(lc); /* created, not running: tears down */
	assert_int_equal(ctl.guests_destroyed, 2);
	assert_int_equal(lc_run(lc), GUEST_ERR_NOT_CREATED);
	lc_free(lc);
}

static void test_every_vcpu_runs(void **s)
{
	struct guest_lifecycle *lc = new_lc(-1);
	assert_int_equal(create(lc, 4), GUEST_OK);
	struct runner r;
	start_run(&r, lc);
	wait_entered(4);
	lc_stop(lc);
	pthread_join(r.t, NULL);
	assert_int_equal(ctl.vcpus_entered, 4);
	lc_free(lc);
}

static struct hv_exit io(enum hv_exit_kind k, uint16_t port, uint64_t data)
{
	return (struct hv_exit){ .kind = k, .addr = port, .size = 1, .data = data };
}

static void test_guest_shutdown_is_success(void **s)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ctl.exits[ctl.nexits++] = io(HV_EXIT_IO_IN, 0x3fd, 0);   /* LSR */
	ctl.exits[ctl.nexits++] = io(HV_EXIT_IO_OUT, 0x3f8, 'h');
	ctl.exits[ctl.nexits++] = io(HV_EXIT_IO_OUT, 0x3f8, 'i');
	ctl.exits[ctl.nexits++] = io(HV_EXIT_IO_OUT, 0x64, 0xfe); /* i8042 reset */
	struct guest_lifecycle *lc = new_lc(sv[0]);
	assert_int_equal(create(lc, 1), GUEST_OK);
	assert_int_equal(lc_run(lc), GUEST_OK);
	assert_int_equal(ctl.read_completions, 1);
	/* LSR says transmitter empty (THRE | TEMT). */
	assert_int_equal(ctl.last_read_value & 0x60, 0x60);
	char buf[8] = { 0 };
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 2);
	assert_string_equal(buf, "hi");
	/* After a clean shutdown, Run needs a new Create. */
	assert_int_equal(lc_run(lc), GUEST_ERR_NOT_CREATED);
	lc_free(lc);
	close(sv[0]);
	close(sv[1]);
}

static void test_triple_fault_is_runtime_failure(void **s)
{
	ctl.exits[ctl.nexits++] = (struct hv_exit){ .kind = HV_EXIT_SHUTDOWN };
	struct guest_lifecycle *lc = new_lc(-1);
	assert_int_equal(create(lc, 2), GUEST_OK);
	assert_int_equal(lc_run(lc), GUEST_ERR_VCPU_RUNTIME_FAILURE);
	assert_non_null(strstr(lc_last_error(lc), "triple fault"));
	lc_free(lc);
}

static void test_backend_failure_is_runtime_failure(void **s)
{
	ctl.exits[ctl.nexits++] = (struct hv_exit){ .kind = HV_EXIT_FAILURE, .reason = 17 };
	struct guest_lifecycle *lc = new_lc(-1);
	assert_int_equal(create(lc, 1), GUEST_OK);
	assert_int_equal(lc_run(lc), GUEST_ERR_VCPU_RUNTIME_FAILURE);
	assert_non_null(strstr(lc_last_error(lc), "reason 17"));
	lc_free(lc);
}

static void test_guest_init_failures(void **s)
{
	struct guest_lifecycle *lc = new_lc(-1);
	ctl.fail_guest_create = -ENODEV;
	assert_int_equal(create(lc, 1), GUEST_ERR_GUEST_INITIALIZATION_FAILURE);
	ctl.fail_guest_create = 0;
	ctl.fail_map_memory = -ENOMEM;
	assert_int_equal(create(lc, 1), GUEST_ERR_GUEST_INITIALIZATION_FAILURE);
	ctl.fail_map_memory = 0;
	/* Nothing half-built stays behind. */
	assert_int_equal(ctl.guests_created, ctl.guests_destroyed + 0);
	assert_int_equal(lc_run(lc), GUEST_ERR_NOT_CREATED);
	lc_free(lc);
}

static void test_vcpu_start_failure(void **s)
{
	struct guest_lifecycle *lc = new_lc(-1);
	ctl.fail_vcpu_create_at = 1;
	assert_int_equal(create(lc, 2), GUEST_ERR_VCPU_START_FAILURE);
	assert_int_equal(ctl.guests_created, ctl.guests_destroyed);
	assert_int_equal(lc_run(lc), GUEST_ERR_NOT_CREATED);
	lc_free(lc);
}

static void test_bad_config_and_bad_kernel(void **s)
{
	struct guest_lifecycle *lc = new_lc(-1);
	struct guest_config c;
	char err[256];
	good_config(&c, 1);
	c.cpus = 0;
	assert_int_equal(lc_create(lc, &c, err, sizeof(err)), GUEST_ERR_BAD_CONFIG);
	assert_true(strlen(err) > 0);
	good_config(&c, 9); /* fake backend's limit is 8 */
	assert_int_equal(lc_create(lc, &c, err, sizeof(err)), GUEST_ERR_BAD_CONFIG);
	/* The config's fds are closed either way (ownership passed). */
	assert_int_equal(c.kernel_fd, -1);
	/* A truncated ELF is a malformed kernel: the loader refuses it. */
	gc_init(&c);
	unsigned char junk[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	c.kernel_fd = memfd_with(junk, sizeof(junk));
	assert_int_equal(lc_create(lc, &c, err, sizeof(err)), GUEST_ERR_KERNEL_LOAD_FAILURE);
	assert_int_equal(lc_run(lc), GUEST_ERR_NOT_CREATED);
	lc_free(lc);
}

static void add_block(struct guest_config *c, int fd, const char *id)
{
	c->block_devices = realloc(c->block_devices, (c->n_block_devices + 1) * sizeof(struct block_spec));
	struct block_spec *b = &c->block_devices[c->n_block_devices++];
	memset(b, 0, sizeof(*b));
	snprintf(b->id, sizeof(b->id), "%s", id);
	b->mode = BLOCK_READ_ONLY;
	b->format = BLOCK_FORMAT_FILE;
	b->fd = fd;
	c->has_block_devices = true;
}

static void test_device_initialization_failure(void **s)
{
	struct guest_lifecycle *lc = new_lc(-1);
	struct guest_config c;
	char err[256];
	good_config(&c, 1);
	int p[2];
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	add_block(&c, p[0], "pipe"); /* a pipe is no disk */
	assert_int_equal(lc_create(lc, &c, err, sizeof(err)), GUEST_ERR_DEVICE_INITIALIZATION_FAILURE);
	assert_non_null(strstr(err, "\"pipe\""));
	assert_int_equal(ctl.guests_created, ctl.guests_destroyed);
	lc_free(lc);
}

static void test_too_many_virtio_devices(void **s)
{
	struct guest_lifecycle *lc = new_lc(-1);
	struct guest_config c;
	char err[256];
	good_config(&c, 1);
	for (int i = 0; i < VM_MAX_VIRTIO + 1; i++) {
		char id[8];
		snprintf(id, sizeof(id), "d%d", i);
		add_block(&c, memfd_with("x", 1), id);
	}
	assert_int_equal(lc_create(lc, &c, err, sizeof(err)), GUEST_ERR_BAD_CONFIG);
	assert_non_null(strstr(err, "virtio-mmio slots"));
	lc_free(lc);
}

static void test_guest_services(void **s)
{
	struct guest_lifecycle *lc = new_lc(-1);
	int fd;
	assert_int_equal(guest_get_serial(lc, &fd), GUEST_ERR_NOT_CREATED);
	assert_int_equal(fd, -1);
	assert_int_equal(create(lc, 1), GUEST_OK);
	assert_int_equal(guest_get_serial(lc, &fd), GUEST_OK);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(guest_get_console(lc, &fd), GUEST_ERR_DEVICE_NOT_PRESENT);
	assert_int_equal(guest_get_host_vsock_endpoint(lc, &fd), GUEST_ERR_DEVICE_NOT_PRESENT);
	assert_int_equal(guest_get_balloon_controller(lc, &fd), GUEST_ERR_DEVICE_NOT_PRESENT);
	lc_free(lc);
}

static void test_serial_socket_carries_output(void **s)
{
	ctl.exits[ctl.nexits++] = io(HV_EXIT_IO_OUT, 0x3f8, 'o');
	ctl.exits[ctl.nexits++] = io(HV_EXIT_IO_OUT, 0x3f8, 'k');
	ctl.exits[ctl.nexits++] = io(HV_EXIT_IO_OUT, 0x64, 0xfe);
	struct guest_lifecycle *lc = new_lc(-1);
	assert_int_equal(create(lc, 1), GUEST_OK);
	int fd;
	assert_int_equal(guest_get_serial(lc, &fd), GUEST_OK);
	assert_int_equal(lc_run(lc), GUEST_OK);
	char buf[8] = { 0 };
	assert_int_equal(read(fd, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "ok");
	close(fd);
	lc_free(lc);
}

/* A VM on the fake backend, built by vm_create directly (below the lifecycle). */
static struct vm *fake_vm(unsigned cpus)
{
	struct guest_config c;
	char err[256];
	good_config(&c, cpus);
	struct vm_params p = { .hv = &hv_fake_ops, .hv_fd = -1, .backend_arg = &ctl,
	                       .serial_fd = -1, .serial_in_fd = -1 };
	struct vm *vm;
	assert_int_equal(vm_create(&p, &c, &vm, err, sizeof(err)), GUEST_OK);
	return vm;
}

static void test_device_overlap(void **s)
{
	struct vm *vm = fake_vm(1);
	char err[256];
	static const struct bus_device_ops none = { 0 };
	assert_int_equal(vm_add_device(vm, BUS_PIO, 0x3fc, 2, "clash", &none, NULL, err,
	                               sizeof(err)),
	                 GUEST_ERR_DEVICE_MEMORY_OVERLAP);
	assert_non_null(strstr(err, "clash"));
	assert_int_equal(vm_add_device(vm, BUS_MMIO, 0xd0000000, 0x200, "ok", &none, NULL, err,
	                               sizeof(err)),
	                 GUEST_OK);
	vm_destroy(vm);
}

static void test_serial_host_input(void **s)
{
	struct vm *vm = fake_vm(1);
	/* Without its FIFO the UART holds one byte; the rest stays the caller's. */
	char in[40];
	memset(in, 'k', sizeof(in));
	in[0] = 'a';
	assert_int_equal(vm_host_input(vm, "serial", in, sizeof(in)), 1);
	uint64_t v;
	assert_int_equal(bus_read(vm_bus(vm), BUS_PIO, 0x3fd, 1, &v), 0);
	assert_int_equal(v & 1, 1); /* LSR.DR: data ready */
	assert_int_equal(bus_read(vm_bus(vm), BUS_PIO, 0x3f8, 1, &v), 0);
	assert_int_equal(v, 'a');
	/* With the FIFO on (FCR bit 0), a FIFO's worth. */
	assert_int_equal(bus_write(vm_bus(vm), BUS_PIO, 0x3fa, 1, 0x01), 0);
	assert_int_equal(vm_host_input(vm, "serial", in + 1, sizeof(in) - 1), 16);
	assert_int_equal(vm_host_input(vm, "nosuch", in, 4), 0);
	vm_destroy(vm);
}

static void test_console_and_balloon_services(void **s)
{
	struct guest_lifecycle *lc = new_lc(-1);
	struct guest_config c;
	char err[256];
	good_config(&c, 1);
	c.has_virtio_console = c.virtio_console = true;
	c.has_virtio_balloon = c.virtio_balloon = true;
	assert_int_equal(lc_create(lc, &c, err, sizeof(err)), GUEST_OK);
	int fd;
	assert_int_equal(guest_get_console(lc, &fd), GUEST_OK);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(guest_get_balloon_controller(lc, &fd), GUEST_OK);
	assert_int_equal(lc_balloon_request_pages(lc, 64), GUEST_OK);
	uint32_t actual, requested;
	assert_int_equal(lc_balloon_size(lc, &actual, &requested), GUEST_OK);
	assert_int_equal(requested, 64);
	assert_int_equal(actual, 0); /* no driver has inflated anything */
	assert_int_equal(guest_get_host_vsock_endpoint(lc, &fd), GUEST_ERR_DEVICE_NOT_PRESENT);
	lc_free(lc);
}

static void test_acpi_tables_and_poweroff(void **s)
{
	/* Linux's poweroff: a write of SLP_TYP(5) | SLP_EN to the sleep port. */
	ctl.exits[ctl.nexits++] = (struct hv_exit){ .kind = HV_EXIT_IO_OUT, .addr = 0x3c0,
	                                            .size = 1, .data = 0x80 }; /* WAK_STS: ignored */
	ctl.exits[ctl.nexits++] = (struct hv_exit){ .kind = HV_EXIT_IO_OUT, .addr = 0x3c0,
	                                            .size = 1, .data = (5 << 2) | 0x20 };
	struct vm *vm = fake_vm(2);
	/* The PVH start info names the RSDP, and an RSDP is there. */
	uint64_t rsdp = 0;
	assert_int_equal(gm_read(vm_guest_mem(vm), 0x2000 + 0x20, &rsdp, 8), 0);
	assert_int_equal(rsdp, 0xe0000);
	char sig[8];
	assert_int_equal(gm_read(vm_guest_mem(vm), rsdp, sig, 8), 0);
	assert_memory_equal(sig, "RSD PTR ", 8);
	assert_int_equal(vm_run(vm), GUEST_OK);
	assert_non_null(strstr(vm_result_msg(vm), "powered off"));
	vm_destroy(vm);
}

static void test_error_names(void **s)
{
	assert_string_equal(guest_error_name(GUEST_ERR_BAD_CONFIG), "BAD_CONFIG");
	assert_string_equal(guest_error_name(GUEST_ERR_CONTROLLER_FORCED_HALT),
	                    "CONTROLLER_FORCED_HALT");
	assert_string_equal(guest_error_name((enum guest_error)99), "UNKNOWN");
	for (int e = 1; e <= GUEST_ERR_MAX; e++)
		assert_string_not_equal(guest_error_name((enum guest_error)e), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_run_before_create, setup),
		cmocka_unit_test_setup(test_stop_from_another_thread, setup),
		cmocka_unit_test_setup(test_create_twice_reinitialises, setup),
		cmocka_unit_test_setup(test_every_vcpu_runs, setup),
		cmocka_unit_test_setup(test_guest_shutdown_is_success, setup),
		cmocka_unit_test_setup(test_triple_fault_is_runtime_failure, setup),
		cmocka_unit_test_setup(test_backend_failure_is_runtime_failure, setup),
		cmocka_unit_test_setup(test_guest_init_failures, setup),
		cmocka_unit_test_setup(test_vcpu_start_failure, setup),
		cmocka_unit_test_setup(test_bad_config_and_bad_kernel, setup),
		cmocka_unit_test_setup(test_guest_services, setup),
		cmocka_unit_test_setup(test_device_initialization_failure, setup),
		cmocka_unit_test_setup(test_too_many_virtio_devices, setup),
		cmocka_unit_test_setup(test_serial_socket_carries_output, setup),
		cmocka_unit_test_setup(test_device_overlap, setup),
		cmocka_unit_test_setup(test_serial_host_input, setup),
		cmocka_unit_test_setup(test_console_and_balloon_services, setup),
		cmocka_unit_test_setup(test_acpi_tables_and_poweroff, setup),
		cmocka_unit_test(test_error_names),
	};
	return cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
}
