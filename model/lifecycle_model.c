/* model/lifecycle_model.c - see lifecycle_model.h. One function per call,
 * each a direct reading of the seed's sentence for it. */
#include "lifecycle_model.h"

void ml_init(struct ml_guest *g)
{
	g->state = ML_STATE_NO_GUEST;
	g->console = g->vsock = g->balloon = false;
}

static void discard_guest(struct ml_guest *g)
{
	ml_init(g);
}

enum ml_error ml_create(struct ml_guest *g, const struct ml_create_input *in)
{
	if (g->state == ML_STATE_RUNNING)
		return ML_ALREADY_RUNNING;
	/* Re-initialisation: the old guest is gone whatever happens next. */
	discard_guest(g);
	if (!in->config_valid)
		return ML_BAD_CONFIG;
	if (in->build != ML_OK)
		return in->build;
	g->state = ML_STATE_CREATED;
	g->console = in->console;
	g->vsock = in->vsock;
	g->balloon = in->balloon;
	return ML_OK;
}

enum ml_error ml_bind(const struct ml_guest *g)
{
	return g->state == ML_STATE_NO_GUEST ? ML_NOT_CREATED : ML_OK;
}

bool ml_run_refused(struct ml_guest *g, enum ml_error *result)
{
	switch (g->state) {
	case ML_STATE_NO_GUEST:
		*result = ML_NOT_CREATED;
		return true;
	case ML_STATE_RUNNING:
		*result = ML_ALREADY_RUNNING;
		return true;
	case ML_STATE_CREATED:
		break;
	}
	g->state = ML_STATE_RUNNING;
	*result = ML_OK;
	return false;
}

enum ml_error ml_guest_stopped(struct ml_guest *g, enum ml_stop_cause why)
{
	/* Run returning ends this guest: the next Run needs a new Create. */
	discard_guest(g);
	return why == ML_GUEST_SHUTDOWN ? ML_OK : ML_VCPU_RUNTIME_FAILURE;
}

bool ml_stop(struct ml_guest *g, enum ml_error *run_result)
{
	bool was_running = g->state == ML_STATE_RUNNING;
	discard_guest(g);
	if (was_running)
		*run_result = ML_CONTROLLER_FORCED_HALT;
	return was_running;
}

enum ml_error ml_get_device(const struct ml_guest *g, enum ml_device d)
{
	if (g->state == ML_STATE_NO_GUEST)
		return ML_NOT_CREATED;
	bool present = false;
	switch (d) {
	case ML_DEV_SERIAL: present = true; break; /* every guest has a UART */
	case ML_DEV_CONSOLE: present = g->console; break;
	case ML_DEV_VSOCK: present = g->vsock; break;
	case ML_DEV_BALLOON: present = g->balloon; break;
	}
	return present ? ML_OK : ML_DEVICE_NOT_PRESENT;
}

const char *ml_error_name(enum ml_error e)
{
	switch (e) {
	case ML_OK: return "OK";
	case ML_INTERNAL_ERROR: return "INTERNAL_ERROR";
	case ML_DEVICE_NOT_PRESENT: return "DEVICE_NOT_PRESENT";
	case ML_BAD_CONFIG: return "BAD_CONFIG";
	case ML_GUEST_INITIALIZATION_FAILURE: return "GUEST_INITIALIZATION_FAILURE";
	case ML_DEVICE_INITIALIZATION_FAILURE: return "DEVICE_INITIALIZATION_FAILURE";
	case ML_KERNEL_LOAD_FAILURE: return "KERNEL_LOAD_FAILURE";
	case ML_VCPU_START_FAILURE: return "VCPU_START_FAILURE";
	case ML_VCPU_RUNTIME_FAILURE: return "VCPU_RUNTIME_FAILURE";
	case ML_NOT_CREATED: return "NOT_CREATED";
	case ML_ALREADY_RUNNING: return "ALREADY_RUNNING";
	case ML_CONTROLLER_FORCED_HALT: return "CONTROLLER_FORCED_HALT";
	}
	return "UNKNOWN";
}
