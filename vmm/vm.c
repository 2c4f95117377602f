/* vmm/vm.c - see vm.h.
 *
 * Owns: building the machine (hypervisor guest, memory, the device table's
 * devices, MP table, ACPI and its power-management ports, the kernel),
 * the vCPU threads and their exits, the stop result, and the teardown.
 */
#include "vm_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "acpi.h"
#include "mptable.h"

static enum guest_error add_device(struct vm *vm, enum bus_space space, uint64_t base,
                                   uint64_t len, const char *name,
                                   const struct bus_device_ops *ops, void *ctx,
                                   char *err, size_t errlen);

static void set_result(struct vm *vm, enum guest_error why, const char *msg)
{
	pthread_mutex_lock(&vm->state_lock);
	if (!vm->stop_requested) {
		vm->stop_requested = true;
		vm->result = why;
		snprintf(vm->result_msg, sizeof(vm->result_msg), "%s", msg ? msg : "");
	}
	pthread_mutex_unlock(&vm->state_lock);
}

static void kick_all(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].hv)
			vm->hv->vcpu_kick(vm->vcpus[i].hv);
}

void vm_request_stop(struct vm *vm, enum guest_error why, const char *msg)
{
	set_result(vm, why, msg);
	kick_all(vm);
}

static bool stopping(struct vm *vm)
{
	pthread_mutex_lock(&vm->state_lock);
	bool s = vm->stop_requested;
	pthread_mutex_unlock(&vm->state_lock);
	return s;
}

/* ---- interrupts ---- */

void vm_irq_line(struct vm *vm, uint32_t gsi, int level)
{
	if (vm->have_sink && vm->sink.irq)
		vm->sink.irq(vm->sink.ctx, gsi, level);
	int r = vm->hv->set_irq(vm->guest, gsi, level);
	if (r < 0)
		log_warn("set_irq(%u, %d): %s", gsi, level, strerror(-r));
}

static void virtio_irq(void *ctx, int level)
{
	struct vm_virtio_slot *slot = ctx;
	vm_irq_line(slot->vm, slot->gsi, level);
}

enum guest_error vm_add_virtio(struct vm *vm, struct virtio_device *dev, char *err,
                              size_t errlen)
{
	/* vm_devices_create counted the slots before building any. */
	assert(vm->nvirtio < VM_MAX_VIRTIO);
	unsigned i = vm->nvirtio;
	struct vm_virtio_slot *slot = &vm->virtio[i];
	slot->vm = vm;
	slot->index = i;
	slot->gsi = VM_VIRTIO_GSI_BASE + i;
	virtio_mmio_init(&slot->mmio, dev, &vm->mem, virtio_irq, slot);
	enum guest_error e = add_device(vm, BUS_MMIO, VM_VIRTIO_MMIO_BASE + i * VM_VIRTIO_MMIO_SIZE,
	                                VM_VIRTIO_MMIO_SIZE, dev->ops->name, &virtio_mmio_bus_ops,
	                                &slot->mmio, err, errlen);
	if (e == GUEST_OK)
		vm->nvirtio++;
	return e;
}

/* ---- ACPI power management: Linux's poweroff and reboot ---- */

static void acpi_pm_write(void *ctx, uint64_t off, unsigned size, uint64_t value)
{
	struct vm *vm = ctx;
	uint8_t v = (uint8_t)value;
	if (off == ACPI_SLEEP_PORT - ACPI_SLEEP_PORT && acpi_sleep_is_poweroff(v)) {
		log_info("guest powered off (ACPI S5)");
		set_result(vm, GUEST_OK, "guest powered off");
		kick_all(vm);
	} else if (off == ACPI_RESET_PORT - ACPI_SLEEP_PORT && v == ACPI_RESET_VALUE) {
		/* A VMM run ends at reboot, as with the i8042 reset: the session
		 * decides whether to start the guest again. */
		log_info("guest asked for a reset (ACPI): stopping cleanly");
		set_result(vm, GUEST_OK, "guest reset");
		kick_all(vm);
	}
}

static uint64_t acpi_pm_read(void *ctx, uint64_t off, unsigned size)
{
	return 0; /* no wake status ever pending */
}

static const struct bus_device_ops acpi_pm_ops = { .read = acpi_pm_read, .write = acpi_pm_write };

/* A replayer's way in for recorded host input (ev_source.bind_injector). */
static size_t replay_inject(void *ctx, const char *device, const void *data, size_t len)
{
	return vm_host_input(ctx, device, data, len);
}

/* ---- build ---- */

enum guest_error vm_fail(char *err, size_t errlen, enum guest_error e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrf(err, errlen, fmt, ap);
	va_end(ap);
	return e;
}

static enum guest_error add_device(struct vm *vm, enum bus_space space, uint64_t base,
                                   uint64_t len, const char *name,
                                   const struct bus_device_ops *ops, void *ctx,
                                   char *err, size_t errlen)
{
	int r = bus_register(&vm->bus, space, base, len, name, ops, ctx);
	if (r == -EEXIST)
		return vm_fail(err, errlen, GUEST_ERR_DEVICE_MEMORY_OVERLAP,
		            "%s at %s 0x%llx+0x%llx overlaps a device already there", name,
		            space == BUS_PIO ? "port" : "address", (unsigned long long)base,
		            (unsigned long long)len);
	if (r < 0)
		return vm_fail(err, errlen, GUEST_ERR_DEVICE_INITIALIZATION_FAILURE,
		            "%s: cannot map at 0x%llx: %s", name, (unsigned long long)base,
		            strerror(-r));
	r = vm->hv->set_trap(vm->guest, space == BUS_PIO ? HV_TRAP_IO : HV_TRAP_MEM, base, len);
	if (r < 0)
		return vm_fail(err, errlen, GUEST_ERR_DEVICE_INITIALIZATION_FAILURE,
		            "%s: hypervisor refused the trap: %s", name, strerror(-r));
	return GUEST_OK;
}

enum guest_error vm_add_device(struct vm *vm, enum bus_space space, uint64_t base,
                               uint64_t len, const char *name,
                               const struct bus_device_ops *ops, void *ctx, char *err,
                               size_t errlen)
{
	return add_device(vm, space, base, len, name, ops, ctx, err, errlen);
}

/* ACPI tables describing this machine, and the power-management ports they
 * name. */
static enum guest_error build_acpi(struct vm *vm, uint64_t *rsdp, char *err, size_t errlen)
{
	enum guest_error e = add_device(vm, BUS_PIO, ACPI_SLEEP_PORT, 2, "acpi-pm", &acpi_pm_ops, vm,
	                                err, errlen);
	if (e)
		return e;
	struct acpi_machine m;
	acpi_machine_init(&m, vm->ncpus);
	for (unsigned i = 0; i < vm->nvirtio; i++) {
		m.virtio[m.nvirtio++] = (struct acpi_virtio_mmio){
			.base = VM_VIRTIO_MMIO_BASE + i * VM_VIRTIO_MMIO_SIZE,
			.size = VM_VIRTIO_MMIO_SIZE,
			.gsi = vm->virtio[i].gsi,
		};
	}
	int r = acpi_build(&vm->mem, &m, rsdp);
	if (r < 0)
		return vm_fail(err, errlen, GUEST_ERR_GUEST_INITIALIZATION_FAILURE,
		               "cannot build ACPI tables for %u cpus and %u devices: %s", vm->ncpus,
		               vm->nvirtio, strerror(-r));
	/* Linux's default reboot on this machine jumps to the reset vector. */
	if (acpi_write_reset_vector(&vm->mem, &m) < 0)
		return vm_fail(err, errlen, GUEST_ERR_GUEST_INITIALIZATION_FAILURE,
		               "cannot write the reset vector at 0x%llx",
		               (unsigned long long)ACPI_RESET_VECTOR_GPA);
	return GUEST_OK;
}

static enum guest_error build(struct vm *vm, const struct vm_params *p, char *err, size_t errlen)
{
	int r = p->hv->guest_create(p->hv_fd, p->backend_arg, &vm->guest);
	if (r < 0)
		return vm_fail(err, errlen, GUEST_ERR_GUEST_INITIALIZATION_FAILURE,
		            "%s backend cannot create a guest: %s", p->hv->name, strerror(-r));

	uint64_t mem = gc_memory(&vm->cfg);
	r = gm_create(&vm->mem, mem);
	if (r < 0)
		return vm_fail(err, errlen, GUEST_ERR_GUEST_INITIALIZATION_FAILURE,
		            "cannot allocate %llu bytes of guest memory: %s",
		            (unsigned long long)mem, strerror(-r));
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		const struct gm_region *g = &vm->mem.regions[i];
		r = vm->hv->map_memory(vm->guest, g->gpa, vm->mem.host + g->offset, g->len,
		                       vm->mem.fd, g->offset);
		if (r < 0)
			return vm_fail(err, errlen, GUEST_ERR_GUEST_INITIALIZATION_FAILURE,
			            "cannot map guest memory at 0x%llx: %s",
			            (unsigned long long)g->gpa, strerror(-r));
	}

	enum guest_error e = vm_devices_create(vm, err, errlen);
	if (e)
		return e;

	r = mptable_write(&vm->mem, vm->ncpus);
	if (r < 0)
		return vm_fail(err, errlen, GUEST_ERR_GUEST_INITIALIZATION_FAILURE,
		            "cannot write the MP table for %u cpus: %s", vm->ncpus, strerror(-r));

	uint64_t rsdp = 0;
	e = build_acpi(vm, &rsdp, err, errlen);
	if (e)
		return e;

	if (vm->have_source && vm->source.kernel_less)
		goto vcpus; /* replay: devices read only recorded memory */
	char *cmdline = gc_full_cmdline(&vm->cfg);
	if (!cmdline)
		return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "out of memory");
	e = loader_load(&vm->mem, vm->cfg.kernel_fd, vm->cfg.ramdisk_fd, cmdline, vm->ncpus,
	                &vm->boot, err, errlen);
	free(cmdline);
	if (e)
		return e;
	/* Tell the kernel where the RSDP is: the zero page's acpi_rsdp_addr
	 * (boot protocol 2.14) or hvm_start_info.rsdp_paddr (PVH). Both live at
	 * the loader's boot-info page; the entry register says which it is. */
	uint64_t field = vm->boot.bsp.rsi == LOADER_BOOT_INFO_GPA ? 0x070 : 0x020;
	if (gm_write(&vm->mem, LOADER_BOOT_INFO_GPA + field, &rsdp, sizeof(rsdp)) < 0)
		return vm_fail(err, errlen, GUEST_ERR_GUEST_INITIALIZATION_FAILURE,
		               "cannot record the ACPI tables' address");

vcpus:
	for (unsigned i = 0; i < vm->ncpus; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
		r = vm->hv->vcpu_create(vm->guest, i, &vm->vcpus[i].hv);
		if (r < 0)
			return vm_fail(err, errlen, GUEST_ERR_VCPU_START_FAILURE,
			            "cannot create vCPU %u: %s", i, strerror(-r));
	}
	r = vm->hv->vcpu_write_state(vm->vcpus[0].hv, &vm->boot.bsp);
	if (r < 0)
		return vm_fail(err, errlen, GUEST_ERR_VCPU_START_FAILURE,
		            "cannot set the boot vCPU's entry state: %s", strerror(-r));
	return GUEST_OK;
}

enum guest_error vm_create(const struct vm_params *p, struct guest_config *cfg,
                           struct vm **out, char *err, size_t errlen)
{
	*out = NULL;
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm) {
		gc_free(cfg);
		return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "out of memory");
	}
	vm->cfg = *cfg;
	gc_init(cfg);
	vm->hv = p->hv;
	vm->mem.fd = -1;
	vm->serial_fd = -1;
	vm->serial_in_fd = -1;
	vm->serial_peer_fd = -1;
	vm_io_init(vm);
	bus_init(&vm->bus);
	pthread_mutex_init(&vm->event_lock, NULL);
	pthread_mutex_init(&vm->state_lock, NULL);
	if (p->sink) {
		vm->sink = *p->sink;
		vm->have_sink = true;
	}
	if (p->source) {
		vm->source = *p->source;
		vm->have_source = true;
	}
	vm->hev = (struct host_events){ vm->have_sink ? &vm->sink : NULL,
	                                vm->have_source ? &vm->source : NULL };
	vm->ncpus = gc_cpus(&vm->cfg);
	/* Validated (guest_config_check.c): never more than the backend's limit. */
	assert(vm->ncpus >= 1 && vm->ncpus <= HV_MAX_VCPUS);
	if (p->serial_fd >= 0) {
		vm->serial_fd = p->serial_fd;
		vm->serial_in_fd = p->serial_in_fd;
	} else {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			vm_destroy(vm);
			return vm_fail(err, errlen, GUEST_ERR_INTERNAL_ERROR, "socketpair: %s",
			            strerror(errno));
		}
		vm->serial_fd = sv[0];
		vm->serial_in_fd = sv[0];
		vm->serial_peer_fd = sv[1];
	}
	enum guest_error e = build(vm, p, err, errlen);
	if (e) {
		vm_destroy(vm);
		return e;
	}
	/* From here on guest memory changes only while an exit is handled:
	 * what devices read and write there is part of the recording (the
	 * loader's writes before this point are not). */
	if (vm->have_sink && (vm->sink.mem_read || vm->sink.mem_write))
		vm->mem.obs = (struct gm_observer){ vm->sink.ctx, vm->sink.mem_read,
		                                    vm->sink.mem_write };
	if (vm->have_source && vm->source.bind_injector)
		vm->source.bind_injector(vm->source.ctx, vm, replay_inject);
	*out = vm;
	return GUEST_OK;
}

/* ---- run ---- */

static uint64_t handle_exit(struct vm *vm, struct vm_vcpu *c, const struct hv_exit *x)
{
	assert(vm_event_lock_busy(vm));
	assert(c->id < vm->ncpus);
	uint64_t value = 0;
	int r = 0;
	switch (x->kind) {
	case HV_EXIT_MEM_READ:
		r = bus_read(&vm->bus, BUS_MMIO, x->addr, x->size, &value);
		break;
	case HV_EXIT_MEM_WRITE:
	case HV_EXIT_BELL:
		r = bus_write(&vm->bus, BUS_MMIO, x->addr, x->size, x->data);
		break;
	case HV_EXIT_IO_IN:
		r = bus_read(&vm->bus, BUS_PIO, x->addr, x->size, &value);
		break;
	case HV_EXIT_IO_OUT:
		r = bus_write(&vm->bus, BUS_PIO, x->addr, x->size, x->data);
		break;
	default:
		break;
	}
	if (r == -ENOENT && !vm->unmapped_warned) {
		/* Guests probe for hardware that isn't there; real buses float high. */
		vm->unmapped_warned = true;
		log_info("vcpu %u: %s at unmapped %s 0x%llx (reads as all ones; said once)", c->id,
		         hv_exit_kind_name(x->kind),
		         (x->kind == HV_EXIT_IO_IN || x->kind == HV_EXIT_IO_OUT) ? "port" : "address",
		         (unsigned long long)x->addr);
	}
	return value;
}

static void *vcpu_thread(void *arg)
{
	struct vm_vcpu *c = arg;
	struct vm *vm = c->vm;
	assert(c->id < vm->ncpus && c == &vm->vcpus[c->id]);
	char msg[VM_MSG_MAX];
	for (;;) {
		if (stopping(vm))
			break;
		struct hv_exit x;
		memset(&x, 0, sizeof(x));
		int r = vm->hv->vcpu_enter(c->hv, &x);
		if (r < 0) {
			snprintf(msg, sizeof(msg), "vcpu %u: enter failed: %s", c->id, strerror(-r));
			vm_request_stop(vm, GUEST_ERR_VCPU_RUNTIME_FAILURE, msg);
			break;
		}
		switch (x.kind) {
		case HV_EXIT_MEM_READ:
		case HV_EXIT_IO_IN:
		case HV_EXIT_MEM_WRITE:
		case HV_EXIT_IO_OUT:
		case HV_EXIT_BELL: {
			pthread_mutex_lock(&vm->event_lock);
			if (vm->have_sink && vm->sink.exit_begin)
				vm->sink.exit_begin(vm->sink.ctx, c->id);
			uint64_t v = handle_exit(vm, c, &x);
			if (x.kind == HV_EXIT_MEM_READ || x.kind == HV_EXIT_IO_IN) {
				r = vm->hv->vcpu_complete_read(c->hv, v);
				if (r < 0)
					log_warn("vcpu %u: complete_read: %s", c->id, strerror(-r));
			}
			if (vm->have_sink && vm->sink.exit_handled)
				vm->sink.exit_handled(vm->sink.ctx, c->id, &x, v);
			pthread_mutex_unlock(&vm->event_lock);
			break;
		}
		case HV_EXIT_KICK:
			break;
		case HV_EXIT_HALT:
			/* Only a backend without an in-kernel irqchip reports HLT; with no
			 * interrupt source that could wake it, the vCPU is done. */
			log_info("vcpu %u halted", c->id);
			goto out;
		case HV_EXIT_SHUTDOWN:
			snprintf(msg, sizeof(msg), "vcpu %u: triple fault (cpu shutdown, reason %u)",
			         c->id, x.reason);
			vm_request_stop(vm, GUEST_ERR_VCPU_RUNTIME_FAILURE, msg);
			goto out;
		case HV_EXIT_END:
			snprintf(msg, sizeof(msg),
			         "vcpu %u: the script ended before the guest shut down", c->id);
			vm_request_stop(vm, GUEST_ERR_VCPU_RUNTIME_FAILURE, msg);
			goto out;
		case HV_EXIT_FAILURE:
		default: {
			const char *detail = vm->hv->failure_detail ? vm->hv->failure_detail(vm->guest)
			                                            : NULL;
			if (detail)
				snprintf(msg, sizeof(msg), "vcpu %u: %s", c->id, detail);
			else
				snprintf(msg, sizeof(msg), "vcpu %u: hypervisor failure (%s, reason %u)",
				         c->id, hv_exit_kind_name(x.kind), x.reason);
			vm_request_stop(vm, GUEST_ERR_VCPU_RUNTIME_FAILURE, msg);
			goto out;
		}
		}
	}
out:
	return NULL;
}

enum guest_error vm_run(struct vm *vm)
{
	vm_io_start(vm);
	/* The kick signal must not kill threads that block it elsewhere. */
	unsigned started = 0;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vm_vcpu *c = &vm->vcpus[i];
		int r = pthread_create(&c->thread, NULL, vcpu_thread, c);
		if (r != 0) {
			char msg[96];
			snprintf(msg, sizeof(msg), "cannot start vCPU %u thread: %s", i, strerror(r));
			vm_request_stop(vm, GUEST_ERR_VCPU_START_FAILURE, msg);
			break;
		}
		c->thread_started = true;
		started++;
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].thread_started = false;
	}
	vm_io_stop(vm);
	pthread_mutex_lock(&vm->state_lock);
	if (!vm->stop_requested) {
		/* Every vCPU halted for good. */
		vm->stop_requested = true;
		vm->result = GUEST_OK;
		snprintf(vm->result_msg, sizeof(vm->result_msg), "all vCPUs halted");
	}
	enum guest_error e = vm->result;
	pthread_mutex_unlock(&vm->state_lock);
	return e;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	/* Nothing may feed a device while it goes. */
	vm_io_stop(vm);
	for (unsigned i = 0; i < HV_MAX_VCPUS; i++)
		if (vm->vcpus[i].hv)
			vm->hv->vcpu_destroy(vm->vcpus[i].hv);
	if (vm->guest)
		vm->hv->guest_destroy(vm->guest);
	vm_devices_destroy(vm);
	gm_destroy(&vm->mem);
	vm_io_destroy(vm);
	if (vm->serial_peer_fd >= 0) {
		close(vm->serial_fd);
		close(vm->serial_peer_fd);
	}
	gc_free(&vm->cfg);
	pthread_mutex_destroy(&vm->event_lock);
	pthread_mutex_destroy(&vm->state_lock);
	free(vm);
}

/* ---- what the VM's services may look at ---- */

const struct bus *vm_bus(const struct vm *vm)
{
	return &vm->bus;
}

const struct guest_mem *vm_guest_mem(const struct vm *vm)
{
	return &vm->mem;
}

struct hv_guest *vm_hv_guest(const struct vm *vm)
{
	return vm->guest;
}

const char *vm_result_msg(const struct vm *vm)
{
	return vm->result_msg;
}

int vm_serial_peer(const struct vm *vm)
{
	return vm->serial_peer_fd;
}
