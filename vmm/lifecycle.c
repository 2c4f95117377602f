/* vmm/lifecycle.c - see lifecycle.h. */
#include "vmm/guest_config_check.h"
#include "lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/zx_status.h"
#include "base/log.h"
#include "vm.h"

enum lc_state { LC_NOT_CREATED, LC_CREATED, LC_RUNNING };

struct guest_lifecycle {
	struct lc_options opt;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	enum lc_state state;
	struct vm *vm;
	bool stop_requested;
	char last_error[VM_MSG_MAX];
};

struct guest_lifecycle *lc_new(const struct lc_options *o)
{
	if (!o || !o->hv)
		return NULL;
	struct guest_lifecycle *lc = calloc(1, sizeof(*lc));
	if (!lc)
		return NULL;
	lc->opt = *o;
	pthread_mutex_init(&lc->lock, NULL);
	pthread_cond_init(&lc->changed, NULL);
	lc->state = LC_NOT_CREATED;
	return lc;
}

void lc_free(struct guest_lifecycle *lc)
{
	if (!lc)
		return;
	lc_stop(lc);
	pthread_mutex_destroy(&lc->lock);
	pthread_cond_destroy(&lc->changed);
	free(lc);
}

enum guest_error lc_create(struct guest_lifecycle *lc, struct guest_config *cfg, char *err,
                           size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	pthread_mutex_lock(&lc->lock);
	if (lc->state == LC_RUNNING) {
		pthread_mutex_unlock(&lc->lock);
		gc_free(cfg);
		snprintf(err, errlen, "the guest is running; Stop it before Create");
		return GUEST_ERR_ALREADY_RUNNING;
	}
	if (lc->state == LC_CREATED) {
		/* Create again re-initialises: the old VM goes first. */
		vm_destroy(lc->vm);
		lc->vm = NULL;
		lc->state = LC_NOT_CREATED;
	}
	int max = lc->opt.hv->max_vcpus();
	enum guest_error e = gc_validate(cfg, max, err, errlen);
	if (e) {
		pthread_mutex_unlock(&lc->lock);
		gc_free(cfg);
		return e;
	}
	struct vm_params p = {
		.hv = lc->opt.hv,
		.hv_fd = lc->opt.hv_fd,
		.backend_arg = lc->opt.backend_arg,
		.sink = lc->opt.sink,
		.source = lc->opt.source,
		.serial_fd = lc->opt.serial_fd,
		.serial_in_fd = lc->opt.serial_fd >= 0 && lc->opt.has_serial_in ? lc->opt.serial_in_fd : -1,
	};
	e = vm_create(&p, cfg, &lc->vm, err, errlen);
	if (e == GUEST_OK) {
		lc->state = LC_CREATED;
		lc->stop_requested = false;
	}
	pthread_mutex_unlock(&lc->lock);
	return e;
}

enum guest_error lc_bind(struct guest_lifecycle *lc)
{
	pthread_mutex_lock(&lc->lock);
	enum guest_error e = lc->state == LC_NOT_CREATED ? GUEST_ERR_NOT_CREATED : GUEST_OK;
	pthread_mutex_unlock(&lc->lock);
	return e;
}

enum guest_error lc_run(struct guest_lifecycle *lc)
{
	pthread_mutex_lock(&lc->lock);
	if (lc->state == LC_NOT_CREATED) {
		pthread_mutex_unlock(&lc->lock);
		return GUEST_ERR_NOT_CREATED;
	}
	if (lc->state == LC_RUNNING) {
		pthread_mutex_unlock(&lc->lock);
		return GUEST_ERR_ALREADY_RUNNING;
	}
	lc->state = LC_RUNNING;
	struct vm *vm = lc->vm;
	pthread_mutex_unlock(&lc->lock);

	enum guest_error e = vm_run(vm);

	pthread_mutex_lock(&lc->lock);
	if (lc->stop_requested)
		e = GUEST_ERR_CONTROLLER_FORCED_HALT;
	snprintf(lc->last_error, sizeof(lc->last_error), "%s",
	         e == GUEST_OK ? "" : (lc->stop_requested ? "stopped by the controller" : vm_result_msg(vm)));
	if (e != GUEST_OK && !lc->stop_requested)
		log_info("guest stopped: %s: %s", guest_error_name(e), vm_result_msg(vm));
	vm_destroy(vm);
	lc->vm = NULL;
	lc->state = LC_NOT_CREATED;
	pthread_cond_broadcast(&lc->changed);
	pthread_mutex_unlock(&lc->lock);
	return e;
}

void lc_stop(struct guest_lifecycle *lc)
{
	pthread_mutex_lock(&lc->lock);
	if (lc->state == LC_RUNNING) {
		lc->stop_requested = true;
		vm_request_stop(lc->vm, GUEST_ERR_CONTROLLER_FORCED_HALT, "stopped by the controller");
		while (lc->state == LC_RUNNING)
			pthread_cond_wait(&lc->changed, &lc->lock);
	} else if (lc->state == LC_CREATED) {
		vm_destroy(lc->vm);
		lc->vm = NULL;
		lc->state = LC_NOT_CREATED;
	}
	pthread_mutex_unlock(&lc->lock);
}

struct hv_guest *lc_hv_guest(struct guest_lifecycle *lc)
{
	pthread_mutex_lock(&lc->lock);
	struct hv_guest *g = lc->vm ? vm_hv_guest(lc->vm) : NULL;
	pthread_mutex_unlock(&lc->lock);
	return g;
}

const char *lc_last_error(struct guest_lifecycle *lc)
{
	return lc->last_error;
}

enum guest_error guest_get_serial(struct guest_lifecycle *lc, int *fd)
{
	*fd = -1;
	pthread_mutex_lock(&lc->lock);
	enum guest_error e = GUEST_OK;
	if (!lc->vm) {
		e = GUEST_ERR_NOT_CREATED;
	} else {
		int src = vm_serial_peer(lc->vm);
		if (src < 0)
			e = GUEST_ERR_DEVICE_NOT_PRESENT; /* serial goes to the caller's own fd */
		else if ((*fd = fcntl(src, F_DUPFD_CLOEXEC, 0)) < 0)
			e = GUEST_ERR_INTERNAL_ERROR;
	}
	pthread_mutex_unlock(&lc->lock);
	return e;
}

enum guest_error guest_get_console(struct guest_lifecycle *lc, int *fd)
{
	*fd = -1;
	pthread_mutex_lock(&lc->lock);
	enum guest_error e = GUEST_OK;
	if (!lc->vm)
		e = GUEST_ERR_NOT_CREATED;
	else if (vm_console_peer(lc->vm) < 0)
		e = GUEST_ERR_DEVICE_NOT_PRESENT;
	else if ((*fd = fcntl(vm_console_peer(lc->vm), F_DUPFD_CLOEXEC, 0)) < 0)
		e = GUEST_ERR_INTERNAL_ERROR;
	pthread_mutex_unlock(&lc->lock);
	return e;
}

/* The balloon, under the VM's event lock (its driver runs on vCPU threads). */
enum guest_error lc_balloon_request_pages(struct guest_lifecycle *lc, uint32_t pages)
{
	pthread_mutex_lock(&lc->lock);
	enum guest_error e = !lc->vm ? GUEST_ERR_NOT_CREATED
	                   : !vm_has_balloon(lc->vm) ? GUEST_ERR_DEVICE_NOT_PRESENT : GUEST_OK;
	if (e == GUEST_OK)
		vm_balloon_request(lc->vm, pages); /* a recorded host input */
	pthread_mutex_unlock(&lc->lock);
	return e;
}

enum guest_error lc_balloon_size(struct guest_lifecycle *lc, uint32_t *actual,
                                 uint32_t *requested)
{
	*actual = *requested = 0;
	pthread_mutex_lock(&lc->lock);
	enum guest_error e = !lc->vm ? GUEST_ERR_NOT_CREATED
	                   : !vm_has_balloon(lc->vm) ? GUEST_ERR_DEVICE_NOT_PRESENT : GUEST_OK;
	if (e == GUEST_OK)
		vm_balloon_size(lc->vm, actual, requested);
	pthread_mutex_unlock(&lc->lock);
	return e;
}

int lc_balloon_stats(struct guest_lifecycle *lc, struct balloon_stat *out, unsigned max)
{
	pthread_mutex_lock(&lc->lock);
	/* Asks for fresh numbers for next time; answers with the latest. */
	int n = lc->vm ? vm_balloon_stats(lc->vm, out, max) : -ENODEV;
	pthread_mutex_unlock(&lc->lock);
	return n;
}

enum guest_error guest_get_host_vsock_endpoint(struct guest_lifecycle *lc, int *fd)
{
	*fd = -1;
	pthread_mutex_lock(&lc->lock);
	enum guest_error e = !lc->vm ? GUEST_ERR_NOT_CREATED
	                   : !vm_has_vsock(lc->vm) ? GUEST_ERR_DEVICE_NOT_PRESENT : GUEST_OK;
	pthread_mutex_unlock(&lc->lock);
	return e;
}

/* The VM for a vsock call, with lc->lock held; or a status and the lock free. */
static int vsock_vm(struct guest_lifecycle *lc, struct vm **vm)
{
	pthread_mutex_lock(&lc->lock);
	*vm = lc->vm;
	int r = !lc->vm ? ZX_ERR_BAD_STATE : !vm_has_vsock(lc->vm) ? ZX_ERR_NOT_SUPPORTED : ZX_OK;
	if (r != ZX_OK)
		pthread_mutex_unlock(&lc->lock);
	return r;
}

int lc_vsock_listen(struct guest_lifecycle *lc, uint32_t port, int acceptor)
{
	struct vm *vm;
	int r = vsock_vm(lc, &vm);
	if (r != ZX_OK) {
		if (acceptor >= 0)
			close(acceptor);
		return r;
	}
	r = vm_vsock_listen(vm, port, acceptor);
	pthread_mutex_unlock(&lc->lock);
	return r;
}

int lc_vsock_listen_unix(struct guest_lifecycle *lc, uint32_t port, const char *path)
{
	struct vm *vm;
	int r = vsock_vm(lc, &vm);
	if (r != ZX_OK)
		return r;
	r = vm_vsock_listen_unix(vm, port, path);
	pthread_mutex_unlock(&lc->lock);
	return r;
}

int lc_vsock_connect(struct guest_lifecycle *lc, uint32_t guest_port, lc_vsock_connect_fn *done,
                     void *ctx)
{
	struct vm *vm;
	int r = vsock_vm(lc, &vm);
	if (r != ZX_OK)
		return r;
	r = vm_vsock_connect(vm, guest_port, done, ctx);
	pthread_mutex_unlock(&lc->lock);
	return r;
}

enum guest_error guest_get_balloon_controller(struct guest_lifecycle *lc, int *fd)
{
	*fd = -1;
	pthread_mutex_lock(&lc->lock);
	enum guest_error e = !lc->vm ? GUEST_ERR_NOT_CREATED
	                   : !vm_has_balloon(lc->vm) ? GUEST_ERR_DEVICE_NOT_PRESENT : GUEST_OK;
	pthread_mutex_unlock(&lc->lock);
	return e;
}
