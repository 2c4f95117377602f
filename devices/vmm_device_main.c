/* devices/vmm_device_main.c - the `vmm_device` program (build/vmm_device):
 * one virtio device core served over vhost-user, as its own process.
 *
 * The same device code the vmm runs in-process behind virtio-mmio, here
 * behind devices/vhost_user.c, so any vhost-user front end (our vmm, QEMU,
 * user-mode Linux's virtio_uml) can drive it. One front end at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/block.h"
#include "devices/rng.h"
#include "devices/vhost_user.h"
#include "vmm/log.h"

/* Exit statuses, as --help documents them. */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static const char usage[] =
	"usage: vmm_device --socket PATH --device block --image FILE [--mode MODE] [--id ID]\n"
	"       vmm_device --socket PATH --device rng\n"
	"       vmm_device --help\n"
	"\n"
	"Serve one virtio device to a vhost-user front end (QEMU, user-mode Linux with\n"
	"virtio_uml.device=PATH:ID, or the vmm) on the Unix socket PATH. A stale socket\n"
	"at PATH is replaced; any other file there is an error. Front ends are served\n"
	"one at a time; when one disconnects the device is reset and the next is\n"
	"awaited (with --once, the program exits instead).\n"
	"\n"
	"devices (virtio device id for virtio_uml in brackets):\n"
	"  block [2]   virtio-blk over --image FILE (a regular file or block device)\n"
	"  rng   [4]   virtio-rng; entropy from getrandom(2)\n"
	"\n"
	"options:\n"
	"  --socket PATH   where to listen (required)\n"
	"  --device NAME   which device (required)\n"
	"  --image FILE    block: the disk image\n"
	"  --mode MODE     block: rw (default; FLUSH is fdatasync), ro (the driver sees\n"
	"                  a read-only disk), volatile (writes stay in this process's\n"
	"                  memory; FILE is opened read-only and never changes)\n"
	"  --id ID         block: the serial GET_ID returns (default: FILE's name; at\n"
	"                  most 20 bytes are visible)\n"
	"  --once          exit after the first front end disconnects\n"
	"  -v, --verbose   say more (repeat for debug)\n"
	"  -h, --help      this text\n"
	"\n"
	"SIGTERM and SIGINT stop the server cleanly (an rw image is fsync'd first).\n"
	"Exit status: 0 stopped or (--once) the front end left; 1 runtime failure\n"
	"(cannot open the image or listen on the socket); 2 bad command line.\n";

static struct vhu_server server;

static void on_signal(int sig)
{
	(void)sig;
	vhu_stop(&server);
}

static int entropy(void *ctx, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "vmm_device: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'vmm_device --help'.\n");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	enum { O_SOCKET = 256, O_DEVICE, O_IMAGE, O_MODE, O_ID, O_ONCE };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "device", required_argument, NULL, O_DEVICE },
		{ "image", required_argument, NULL, O_IMAGE },
		{ "mode", required_argument, NULL, O_MODE },
		{ "id", required_argument, NULL, O_ID },
		{ "once", no_argument, NULL, O_ONCE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *device = NULL, *image = NULL, *mode_s = NULL, *id = NULL;
	bool once = false;
	int verbose = 0, c;
	log_set_prefix("vmm_device");
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		switch (c) {
		case O_SOCKET: sock = optarg; break;
		case O_DEVICE: device = optarg; break;
		case O_IMAGE: image = optarg; break;
		case O_MODE: mode_s = optarg; break;
		case O_ID: id = optarg; break;
		case O_ONCE: once = true; break;
		case 'v': verbose++; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
		default: return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!sock)
		return usage_error("%s", "--socket PATH is required");
	if (!device)
		return usage_error("%s", "--device NAME is required (block or rng)");
	log_set_level(verbose >= 2 ? LOG_DEBUG : verbose ? LOG_INFO : LOG_WARN);

	bool is_block = strcmp(device, "block") == 0, is_rng = strcmp(device, "rng") == 0;
	if (!is_block && !is_rng)
		return usage_error("unknown device '%s' (block or rng)", device);
	if (!is_block && (image || mode_s || id))
		return usage_error("--image, --mode and --id are for --device block, not %s", device);

	static struct virtio_block blk;
	static struct virtio_rng rng;
	struct virtio_device *dev;
	int img_fd = -1;
	enum block_dev_mode mode = BLOCK_DEV_READ_WRITE;
	if (is_block) {
		if (!image)
			return usage_error("%s", "--device block needs --image FILE");
		if (!mode_s || strcmp(mode_s, "rw") == 0)
			mode = BLOCK_DEV_READ_WRITE;
		else if (strcmp(mode_s, "ro") == 0)
			mode = BLOCK_DEV_READ_ONLY;
		else if (strcmp(mode_s, "volatile") == 0)
			mode = BLOCK_DEV_VOLATILE;
		else
			return usage_error("unknown --mode '%s' (rw, ro or volatile)", mode_s);
		/* Only rw needs write access: ro and volatile must not be able to
		 * change the image even by mistake. */
		img_fd = open(image, (mode == BLOCK_DEV_READ_WRITE ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (img_fd < 0) {
			fprintf(stderr, "vmm_device: cannot open image '%s': %s\n", image, strerror(errno));
			return EXIT_RUNTIME;
		}
		if (!id) {
			const char *slash = strrchr(image, '/');
			id = slash ? slash + 1 : image;
		}
		int r = virtio_block_init(&blk, img_fd, mode, id, NULL);
		if (r < 0) {
			fprintf(stderr, "vmm_device: image '%s': %s\n", image,
			        r == -EINVAL ? "not a regular file or block device" : strerror(-r));
			close(img_fd);
			return EXIT_RUNTIME;
		}
		dev = &blk.dev;
	} else {
		struct rng_host h = { NULL, entropy };
		virtio_rng_init(&rng, &h);
		dev = &rng.dev;
	}

	int r = vhu_init(&server, dev);
	if (r == 0)
		r = vhu_listen(&server, sock);
	if (r < 0) {
		fprintf(stderr, "vmm_device: cannot listen on '%s': %s\n", sock,
		        r == -EEXIST ? "a file that is not a socket is in the way" : strerror(-r));
		return EXIT_RUNTIME;
	}
	/* A front end that exits first leaves our call pipes without a reader. */
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	log_info("serving %s on %s", device, sock);

	r = vhu_run(&server, once);
	int status = EXIT_OK;
	if (r < 0) {
		fprintf(stderr, "vmm_device: accept on '%s': %s\n", sock, strerror(-r));
		status = EXIT_RUNTIME;
	}
	vhu_destroy(&server);
	unlink(sock);
	if (is_block) {
		/* Whatever the guest wrote reaches the disk before we say we are done. */
		if (mode == BLOCK_DEV_READ_WRITE && fsync(img_fd) < 0) {
			fprintf(stderr, "vmm_device: fsync '%s': %s\n", image, strerror(errno));
			status = EXIT_RUNTIME;
		}
		log_info("block: %llu reads, %llu writes, %llu flushes, %llu errors",
		         (unsigned long long)blk.reads, (unsigned long long)blk.writes,
		         (unsigned long long)blk.flushes, (unsigned long long)blk.errors);
		virtio_block_destroy(&blk);
		close(img_fd);
	}
	return status;
}
