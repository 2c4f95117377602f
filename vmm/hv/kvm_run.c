/* vmm/hv/kvm_run.c - running a KVM vCPU and turning its exits into packets.
 *
 * Owns: KVM_RUN, the translation of kvm_run exits into struct hv_exit,
 * completing read exits (the value goes where KVM copies it into the guest on
 * the next KVM_RUN), string port I/O split into one packet per element, and
 * kicking a vCPU out of KVM_RUN from another thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>

#include "base/byteorder.h"
#include "vmm/hv/kvm_internal.h"

/* A realtime signal of our own interrupts KVM_RUN. Realtime signals queue and
 * are not used by libc; SIGRTMIN + 4 keeps clear of the low ones other code in
 * the process might pick first. */
static int kick_signal(void)
{
	return SIGRTMIN + 4;
}

static void kick_handler(int sig)
{
	(void)sig; /* only there so the signal interrupts KVM_RUN */
}

static pthread_once_t kick_once = PTHREAD_ONCE_INIT;

static void kick_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return EINTR */
	sigaction(kick_signal(), &sa, NULL);
}

/* A vCPU thread created with the signal blocked could not be kicked out of a
 * halted guest; unblock it once per thread. */
static __thread bool thread_ready;

static void thread_prepare(void)
{
	if (thread_ready)
		return;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, kick_signal());
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	thread_ready = true;
}

/* Exit data: the first `size` bytes (at most 8) of a little-endian value. */
static uint64_t load_le(const uint8_t *p, unsigned size)
{
	uint8_t b[8] = { 0 };
	memcpy(b, p, size < sizeof(b) ? size : sizeof(b));
	return le64_get(b);
}

static void store_le(uint8_t *p, unsigned size, uint64_t v)
{
	uint8_t b[8];
	le64_put(b, v);
	memcpy(p, b, size < sizeof(b) ? size : sizeof(b));
}

/* The bytes of element `index` of the current port I/O exit. */
static uint8_t *pio_data(struct hv_vcpu *v, uint32_t index)
{
	return (uint8_t *)v->run + v->run->io.data_offset + (size_t)index * v->run->io.size;
}

static int pio_element_fits(const struct hv_vcpu *v)
{
	const struct kvm_run *r = v->run;
	uint64_t end = r->io.data_offset + (uint64_t)r->io.count * r->io.size;
	return r->io.size >= 1 && r->io.size <= 4 && end <= (uint64_t)v->run_size;
}

/* Fill *exit with element v->pio.index of the current port I/O exit. */
static void pio_exit(struct hv_vcpu *v, struct hv_exit *exit)
{
	const struct kvm_run *r = v->run;
	exit->addr = r->io.port;
	exit->size = r->io.size;
	if (r->io.direction == KVM_EXIT_IO_OUT) {
		exit->kind = HV_EXIT_IO_OUT;
		exit->data = load_le(pio_data(v, v->pio.index), r->io.size);
	} else {
		exit->kind = HV_EXIT_IO_IN;
		v->read_pending = KVM_READ_PIO;
	}
}

static void mmio_exit(struct hv_vcpu *v, struct hv_exit *exit)
{
	const struct kvm_run *r = v->run;
	exit->addr = r->mmio.phys_addr;
	exit->size = (uint8_t)r->mmio.len;
	if (r->mmio.is_write) {
		exit->data = load_le(r->mmio.data, r->mmio.len);
		/* A write into a bell range needs no answer: it is a doorbell. */
		exit->kind = kvm_trap_is_bell(v->g, r->mmio.phys_addr) ? HV_EXIT_BELL
		                                                       : HV_EXIT_MEM_WRITE;
	} else {
		exit->kind = HV_EXIT_MEM_READ;
		v->read_pending = KVM_READ_MMIO;
	}
}

static void failure(struct hv_exit *exit, uint32_t reason)
{
	exit->kind = HV_EXIT_FAILURE;
	exit->reason = reason;
}

/* Translate the exit KVM_RUN just reported. */
static void translate(struct hv_vcpu *v, struct hv_exit *exit)
{
	struct kvm_run *r = v->run;
	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		if (!pio_element_fits(v)) {
			failure(exit, r->exit_reason);
			return;
		}
		v->pio.index = 0;
		v->pio.count = r->io.count;
		v->pio.active = r->io.count > 1;
		pio_exit(v, exit);
		return;
	case KVM_EXIT_MMIO:
		if (r->mmio.len == 0 || r->mmio.len > 8) {
			failure(exit, r->exit_reason);
			return;
		}
		mmio_exit(v, exit);
		return;
	case KVM_EXIT_HLT:
		exit->kind = HV_EXIT_HALT;
		return;
	case KVM_EXIT_SHUTDOWN:
		exit->kind = HV_EXIT_SHUTDOWN;
		exit->reason = r->exit_reason;
		return;
	case KVM_EXIT_SYSTEM_EVENT:
		/* PSCI-style reset/shutdown requests are a clean shutdown; anything
		 * else (a crash report) is not something we can continue. */
		if (r->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ||
		    r->system_event.type == KVM_SYSTEM_EVENT_RESET) {
			exit->kind = HV_EXIT_SHUTDOWN;
			exit->reason = r->system_event.type;
		} else {
			failure(exit, r->exit_reason);
		}
		return;
	case KVM_EXIT_INTR:
		exit->kind = HV_EXIT_KICK;
		return;
	case KVM_EXIT_INTERNAL_ERROR:
		/* The suberror says why (emulation failure, delivery event...). */
		failure(exit, (r->exit_reason << 16) | (r->internal.suberror & 0xffff));
		return;
	case KVM_EXIT_FAIL_ENTRY:
		failure(exit, (r->exit_reason << 16) |
		                      (uint32_t)(r->fail_entry.hardware_entry_failure_reason &
		                                 0xffff));
		return;
	default:
		failure(exit, r->exit_reason);
		return;
	}
}

/* Consume a pending kick, if any. Called with kick_lock held. */
static bool take_kick(struct hv_vcpu *v)
{
	bool k = v->kicked;
	v->kicked = false;
	v->run->immediate_exit = 0;
	return k;
}

int kvm_vcpu_enter(struct hv_vcpu *v, struct hv_exit *exit)
{
	if (!v || !exit)
		return -EINVAL;
	memset(exit, 0, sizeof(*exit));
	pthread_once(&kick_once, kick_install);
	thread_prepare();
	/* Whatever complete_read did not answer is answered now (with whatever
	 * was there): the contract says the answer precedes the next enter. */
	v->read_pending = KVM_READ_NONE;

	pthread_mutex_lock(&v->kick_lock);
	if (v->kicked) {
		take_kick(v);
		pthread_mutex_unlock(&v->kick_lock);
		exit->kind = HV_EXIT_KICK;
		return 0;
	}
	/* Remaining elements of a string I/O are delivered without KVM_RUN. */
	if (v->pio.active && v->pio.index + 1 < v->pio.count) {
		pthread_mutex_unlock(&v->kick_lock);
		v->pio.index++;
		if (v->pio.index + 1 == v->pio.count)
			v->pio.active = false;
		pio_exit(v, exit);
		return 0;
	}
	v->pio.active = false;
	v->in_run = true;
	v->thread = pthread_self();
	pthread_mutex_unlock(&v->kick_lock);

	int r;
	do {
		r = ioctl(v->fd, KVM_RUN, 0);
	} while (r < 0 && errno == EAGAIN);
	int err = r < 0 ? errno : 0;

	pthread_mutex_lock(&v->kick_lock);
	v->in_run = false;
	if (err == EINTR || (r == 0 && v->run->exit_reason == KVM_EXIT_INTR)) {
		take_kick(v);
		pthread_mutex_unlock(&v->kick_lock);
		exit->kind = HV_EXIT_KICK;
		return 0;
	}
	pthread_mutex_unlock(&v->kick_lock);
	if (err)
		return -err;
	translate(v, exit);
	return 0;
}

int kvm_vcpu_complete_read(struct hv_vcpu *v, uint64_t value)
{
	if (!v)
		return -EINVAL;
	switch (v->read_pending) {
	case KVM_READ_MMIO:
		store_le(v->run->mmio.data, v->run->mmio.len, value);
		break;
	case KVM_READ_PIO:
		store_le(pio_data(v, v->pio.index), v->run->io.size, value);
		break;
	default:
		return -EINVAL; /* the last exit was not a read */
	}
	v->read_pending = KVM_READ_NONE;
	return 0;
}

void kvm_vcpu_kick(struct hv_vcpu *v)
{
	if (!v)
		return;
	pthread_once(&kick_once, kick_install);
	pthread_mutex_lock(&v->kick_lock);
	v->kicked = true;
	/* Makes the next KVM_RUN return at once if the signal lands before the
	 * thread is inside it. */
	v->run->immediate_exit = 1;
	if (v->in_run)
		pthread_kill(v->thread, kick_signal());
	pthread_mutex_unlock(&v->kick_lock);
}
