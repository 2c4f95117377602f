/* model/lifecycle_model.h - executable specification of GuestLifecycle.
 *
 * Owns: the states, calls and results of fuchsia.virtualization's
 * GuestLifecycle (and the Guest getters that depend on it) as RFC-0210's seed
 * states them, written for a reader, not for speed. It is an oracle for
 * differential tests and fuzzers; it never runs a guest.
 *
 * What the outside world decides is an input here, not something the model
 * computes: whether a config passes validation (see guest_config_model.h),
 * whether building the VM fails and how, and why a running guest stops.
 *
 * The rules, each a sentence of the seed:
 *   - Create builds a guest from a config. While a Run is in progress it is
 *     refused (ALREADY_RUNNING). Otherwise any previous guest is discarded
 *     first ("Create may be called again to re-initialize the guest"), so a
 *     failed Create leaves no guest behind.
 *   - Bind works between Create and the end of that guest (Stop, or Run
 *     returning); otherwise NOT_CREATED.
 *   - Run needs a created guest (NOT_CREATED), refuses a second concurrent
 *     Run (ALREADY_RUNNING), and returns when the guest stops: success on a
 *     clean guest shutdown, CONTROLLER_FORCED_HALT when Stop ended it,
 *     VCPU_RUNTIME_FAILURE when a vCPU failed. After Run returns the guest is
 *     gone: Run again needs Create again.
 *   - Stop ends a running or created guest and never fails.
 *   - GetSerial works on any existing guest; GetConsole,
 *     GetHostVsockEndpoint and GetBalloonController need the guest to exist
 *     (NOT_CREATED) and the device to be in its config (DEVICE_NOT_PRESENT).
 *
 * libc only: error values restate the seed's GuestError numbers.
 */
#ifndef MODEL_LIFECYCLE_MODEL_H
#define MODEL_LIFECYCLE_MODEL_H

#include <stdbool.h>

/* fuchsia.virtualization/GuestError, numbered as in the seed; 0 is success. */
enum ml_error {
	ML_OK = 0,
	ML_INTERNAL_ERROR = 1,
	ML_DEVICE_NOT_PRESENT = 2,
	ML_BAD_CONFIG = 3,
	ML_GUEST_INITIALIZATION_FAILURE = 4,
	ML_DEVICE_INITIALIZATION_FAILURE = 5,
	ML_KERNEL_LOAD_FAILURE = 10,
	ML_VCPU_START_FAILURE = 11,
	ML_VCPU_RUNTIME_FAILURE = 12,
	ML_NOT_CREATED = 13,
	ML_ALREADY_RUNNING = 14,
	ML_CONTROLLER_FORCED_HALT = 15,
};

enum ml_state { ML_STATE_NO_GUEST, ML_STATE_CREATED, ML_STATE_RUNNING };

/* The devices a Guest getter can ask for. */
enum ml_device { ML_DEV_SERIAL, ML_DEV_CONSOLE, ML_DEV_VSOCK, ML_DEV_BALLOON };

/* Why a running guest stopped on its own. */
enum ml_stop_cause { ML_GUEST_SHUTDOWN, ML_VCPU_FAILED };

/* Everything about a Create that the lifecycle itself does not decide. */
struct ml_create_input {
	bool config_valid;        /* the validation rules accept the config */
	enum ml_error build;      /* ML_OK, or how building the VM fails */
	bool console, vsock, balloon; /* devices the config enables */
};

struct ml_guest {
	enum ml_state state;
	bool console, vsock, balloon; /* of the current guest's config */
};

void ml_init(struct ml_guest *g);
enum ml_error ml_create(struct ml_guest *g, const struct ml_create_input *in);
enum ml_error ml_bind(const struct ml_guest *g);
/* A Run call arrives. Returns true when it is refused at once, with the
 * error in *result; false when it now blocks (the guest runs), and its result
 * comes from ml_guest_stopped or ml_stop. */
bool ml_run_refused(struct ml_guest *g, enum ml_error *result);
/* The running guest stopped by itself: the blocked Run's result. */
enum ml_error ml_guest_stopped(struct ml_guest *g, enum ml_stop_cause why);
/* Stop: returns true and the blocked Run's result in *run_result if a Run
 * was in progress. */
bool ml_stop(struct ml_guest *g, enum ml_error *run_result);
enum ml_error ml_get_device(const struct ml_guest *g, enum ml_device d);

const char *ml_error_name(enum ml_error e);

#endif
