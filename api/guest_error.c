/* api/guest_error.c - names of GuestError values. */
#include "api/guest_error.h"

static const char *const names[] = {
	"OK",
	"INTERNAL_ERROR",
	"DEVICE_NOT_PRESENT",
	"BAD_CONFIG",
	"GUEST_INITIALIZATION_FAILURE",
	"DEVICE_INITIALIZATION_FAILURE",
	"DEVICE_START_FAILURE",
	"DEVICE_MEMORY_OVERLAP",
	"FAILED_SERVICE_CONNECT",
	"DUPLICATE_PUBLIC_SERVICES",
	"KERNEL_LOAD_FAILURE",
	"VCPU_START_FAILURE",
	"VCPU_RUNTIME_FAILURE",
	"NOT_CREATED",
	"ALREADY_RUNNING",
	"CONTROLLER_FORCED_HALT",
};

const char *guest_error_name(enum guest_error e)
{
	if ((unsigned)e > GUEST_ERR_MAX)
		return "UNKNOWN";
	return names[e];
}
