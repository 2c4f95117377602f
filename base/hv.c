/* base/hv.c - see hv.h. */
#include "base/hv.h"

#include <string.h>

const char *hv_exit_kind_name(enum hv_exit_kind k)
{
	switch (k) {
	case HV_EXIT_MEM_READ: return "mem-read";
	case HV_EXIT_MEM_WRITE: return "mem-write";
	case HV_EXIT_IO_IN: return "io-in";
	case HV_EXIT_IO_OUT: return "io-out";
	case HV_EXIT_BELL: return "bell";
	case HV_EXIT_HALT: return "halt";
	case HV_EXIT_SHUTDOWN: return "shutdown";
	case HV_EXIT_KICK: return "kick";
	case HV_EXIT_FAILURE: return "failure";
	case HV_EXIT_END: return "end";
	}
	return "unknown";
}

enum hv_exit_kind hv_exit_kind_from_name(const char *name)
{
	/* The inverse of hv_exit_kind_name, so that a name exists once. */
	for (int k = HV_EXIT_MEM_READ; name && k <= HV_EXIT_END; k++)
		if (strcmp(name, hv_exit_kind_name((enum hv_exit_kind)k)) == 0)
			return (enum hv_exit_kind)k;
	return 0;
}
