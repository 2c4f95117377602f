/* launcher/vmm_launcher_main.c - the `vmm_launcher` daemon. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/launcher.h"
#include "base/cli_args.h"
#include "base/log.h"

static const char usage[] =
	"usage: vmm_launcher --socket PATH [options]\n"
	"\n"
	"Listen on PATH (a SOCK_SEQPACKET Unix socket). Every connection is a\n"
	"fuchsia.virtualization/GuestLifecycle channel: a fresh vmm process is started\n"
	"for it, holding only that channel, the hypervisor handle and stdio. The vmm\n"
	"stops when the channel closes. SIGTERM or SIGINT stops every vmm and exits.\n"
	"\n"
	"options:\n"
	"  --socket PATH       where to listen (required)\n"
	"  --explicit          connections speak VmmLauncher; each Launch carries the\n"
	"                      GuestLifecycle channel to serve\n"
	"  --vmm PATH          the vmm program (default: 'vmm' next to this program);\n"
	"                      fixed at start: no client can choose what runs\n"
	"  --hv-device PATH    hypervisor device to open and hand to each vmm\n"
	"                      (default /dev/kvm; if it cannot be opened, vmm\n"
	"                      instances get no hypervisor handle)\n"
	"  --collection FILE   keep FILE listing the pid of every live vmm (for audits)\n"
	"  --max-guests N      refuse connections beyond N live vmm instances (default 256)\n"
	"  -v, --verbose       log every event (default: warnings only)\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, 0, 's' },
		{ "explicit", no_argument, 0, 'e' },
		{ "vmm", required_argument, 0, 'm' },
		{ "hv-device", required_argument, 0, 'd' },
		{ "collection", required_argument, 0, 'c' },
		{ "max-guests", required_argument, 0, 'n' },
		{ "verbose", no_argument, 0, 'v' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *sock = NULL, *vmm = NULL, *hv_dev = "/dev/kvm", *collection = NULL;
	bool explicit_mode = false;
	unsigned max_guests = 0;
	log_set_prefix("vmm_launcher");
	int c;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'e': explicit_mode = true; break;
		case 'm': vmm = optarg; break;
		case 'd': hv_dev = optarg; break;
		case 'c': collection = optarg; break;
		case 'n': {
			uint64_t v;
			char err[128];
			if (parse_uint(optarg, 1, LAUNCHER_MAX_GUESTS, &v, err, sizeof(err)) < 0) {
				fprintf(stderr, "vmm_launcher: --max-guests must be 1 to %d\n",
				        LAUNCHER_MAX_GUESTS);
				return 2;
			}
			max_guests = (unsigned)v;
			break;
		}
		case 'v': log_set_level(LOG_INFO); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fprintf(stderr, "Try 'vmm_launcher --help'.\n"); return 2;
		}
	}
	if (optind < argc || !sock) {
		fprintf(stderr, "vmm_launcher: %s\nTry 'vmm_launcher --help'.\n",
		        sock ? "unexpected argument" : "--socket PATH is required");
		return 2;
	}
	char self[PATH_MAX], vmm_default[PATH_MAX];
	if (!vmm) {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0) {
			fprintf(stderr, "vmm_launcher: cannot find myself; give --vmm PATH\n");
			return 2;
		}
		self[n] = '\0';
		snprintf(vmm_default, sizeof(vmm_default), "%s/vmm", dirname(self));
		vmm = vmm_default;
	}
	if (access(vmm, X_OK) != 0) {
		fprintf(stderr, "vmm_launcher: the vmm program %s is not executable: %s\n", vmm,
		        strerror(errno));
		return 1;
	}
	int hv_fd = open(hv_dev, O_RDWR | O_CLOEXEC);
	if (hv_fd < 0)
		fprintf(stderr, "vmm_launcher: warning: cannot open %s (%s); vmm instances get no "
		                "hypervisor handle\n", hv_dev, strerror(errno));
	struct posix_spawner ps;
	struct launcher_options o = {
		.socket_path = sock,
		.explicit_mode = explicit_mode,
		.hv_fd = hv_fd,
		.spawner = posix_spawner(&ps, vmm),
		.max_guests = max_guests,
		.collection_path = collection,
	};
	char err[256];
	struct launcher *l;
	if (launcher_open(&l, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmm_launcher: %s\n", err);
		if (hv_fd >= 0)
			close(hv_fd);
		return 1;
	}
	launcher_run(l);
	launcher_close(l);
	return 0;
}
