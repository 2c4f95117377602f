/* replay/replay.c - config meta, recording meta, whole-run replay; see replay.h. */
#include "vmm/guest_config_check.h"
#include "replay/replay.h"
#include "replay/replay_device.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "devices/i8042.h"
#include "devices/uart8250.h"
#include "base/sha256.h"
#include "vmm/bus.h"
#include "vmm/lifecycle.h"
#include "vmm/virtio_mmio.h"
#include "vmm/vm.h"


/* ---- config text ---- */

static const char *const mode_names[] = { [BLOCK_READ_WRITE] = "rw", [BLOCK_READ_ONLY] = "ro",
	                                  [BLOCK_VOLATILE_WRITE] = "volatile" };

char *trace_config_encode(const struct guest_config *c, char *err, size_t errlen)
{
	/* Devices a replay cannot rebuild yet are refused rather than recorded
	 * into a trace that would replay as a different machine. */
	if ((c->has_virtio_vsock && c->virtio_vsock) || (c->has_virtio_gpu && c->virtio_gpu) ||
	    (c->has_virtio_sound && c->virtio_sound)) {
		trace_errf(err, errlen, -ENOTSUP,
		     "recording supports serial, i8042, virtio-rng, -blk, -console, -balloon and "
		     "-net so far; this config has vsock, gpu or sound");
		return NULL;
	}
	char *cmd = gc_full_cmdline(c);
	if (!cmd) {
		trace_errf(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	for (char *p = cmd; *p; p++)
		if (*p == '\n')
			*p = ' '; /* gc_validate refuses these anyway; one line per key */
	size_t nnet = c->n_net_devices + (c->has_default_net && c->default_net);
	size_t cap = strlen(cmd) + 256 + c->n_block_devices * (GC_MAX_BLOCK_DEVICE_ID + 48) +
	             nnet * 24;
	char *t = malloc(cap);
	if (!t) {
		free(cmd);
		trace_errf(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	int n = snprintf(t, cap, "cpus=%u\nmemory=%" PRIu64 "\nkernel_type=%s\ncmdline=%s\nrng=%d\n",
	                 gc_cpus(c), gc_memory(c),
	                 c->has_kernel_type && c->kernel_type == KERNEL_ZIRCON ? "zircon" : "linux",
	                 cmd, c->has_virtio_rng && c->virtio_rng);
	free(cmd);
	/* Only what exists is written: a trace without these replays as before. */
	if (c->has_virtio_console && c->virtio_console && n > 0 && (size_t)n < cap)
		n += snprintf(t + n, cap - (size_t)n, "console=1\n");
	if (c->has_virtio_balloon && c->virtio_balloon && n > 0 && (size_t)n < cap)
		n += snprintf(t + n, cap - (size_t)n, "balloon=1\n");
	/* Net devices in slot order (NetSpecs, then the default network, as
	 * vm_io.c adds them), each by its MAC. */
	for (size_t i = 0; i < nnet && n > 0 && (size_t)n < cap; i++) {
		uint8_t mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, (uint8_t)(i + 1) };
		if (i < c->n_net_devices)
			memcpy(mac, c->net_devices[i].mac, 6);
		n += snprintf(t + n, cap - (size_t)n, "net=%02x:%02x:%02x:%02x:%02x:%02x\n", mac[0],
		              mac[1], mac[2], mac[3], mac[4], mac[5]);
	}
	for (size_t i = 0; i < c->n_block_devices && n > 0 && (size_t)n < cap; i++) {
		const struct block_spec *b = &c->block_devices[i];
		struct stat st;
		uint64_t bytes = 0;
		if (b->fd >= 0 && fstat(b->fd, &st) == 0)
			bytes = S_ISBLK(st.st_mode) ? (uint64_t)lseek(b->fd, 0, SEEK_END)
			                            : (uint64_t)st.st_size;
		n += snprintf(t + n, cap - (size_t)n, "block=%s,%s,%" PRIu64 "\n", b->id,
		              b->mode <= BLOCK_VOLATILE_WRITE ? mode_names[b->mode] : "rw", bytes);
	}
	return t;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (!*s)
		return -1;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int decode_block(struct guest_config *c, char *v, char *err, size_t errlen)
{
	char *id = v, *mode = strchr(v, ',');
	char *size = mode ? strchr(mode + 1, ',') : NULL;
	if (!mode || !size)
		return trace_errf(err, errlen, -EINVAL, "config: block=%s is not ID,MODE,BYTES", v);
	*mode++ = 0;
	*size++ = 0;
	struct block_spec b = { .format = BLOCK_FORMAT_FILE, .fd = -1 };
	if (strlen(id) > GC_MAX_BLOCK_DEVICE_ID)
		return trace_errf(err, errlen, -EINVAL, "config: block id longer than %d", GC_MAX_BLOCK_DEVICE_ID);
	snprintf(b.id, sizeof(b.id), "%s", id);
	int m = -1;
	for (int i = 0; i < 3; i++)
		if (strcmp(mode, mode_names[i]) == 0)
			m = i;
	uint64_t bytes;
	if (m < 0 || parse_u64(size, 1ull << 50, &bytes) < 0)
		return trace_errf(err, errlen, -EINVAL, "config: block %s: bad mode '%s' or size '%s'", id, mode,
		            size);
	b.mode = (enum block_mode)m;
	/* No disk image: a sparse stand-in of the recorded size gives the
	 * device its capacity; every read comes from the recording. */
	b.fd = memfd_create("replay-disk", MFD_CLOEXEC);
	if (b.fd < 0 || ftruncate(b.fd, (off_t)bytes) < 0) {
		int e = errno;
		if (b.fd >= 0)
			close(b.fd);
		return trace_errf(err, errlen, -e, "config: block %s: stand-in disk: %s", id, strerror(e));
	}
	struct block_spec *nb = realloc(c->block_devices, (c->n_block_devices + 1) * sizeof(*nb));
	if (!nb) {
		close(b.fd);
		return trace_errf(err, errlen, -ENOMEM, "out of memory");
	}
	c->block_devices = nb;
	c->block_devices[c->n_block_devices++] = b;
	c->has_block_devices = true;
	return 0;
}

static int decode_net(struct guest_config *c, const char *v, char *err, size_t errlen)
{
	unsigned m[6];
	char tail;
	if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5],
	           &tail) != 6 || strlen(v) != 17)
		return trace_errf(err, errlen, -EINVAL, "config: net=%.40s is not a MAC address", v);
	if (c->n_net_devices >= GC_MAX_NET_DEVICES)
		return trace_errf(err, errlen, -EINVAL, "config: more than %d net devices", GC_MAX_NET_DEVICES);
	struct net_spec *nn = realloc(c->net_devices, (c->n_net_devices + 1) * sizeof(*nn));
	if (!nn)
		return trace_errf(err, errlen, -ENOMEM, "out of memory");
	c->net_devices = nn;
	struct net_spec *ns = &c->net_devices[c->n_net_devices++];
	memset(ns, 0, sizeof(*ns));
	for (int i = 0; i < 6; i++)
		ns->mac[i] = (uint8_t)m[i];
	c->has_net_devices = true;
	return 0;
}

int trace_config_each(const char *text, trace_config_fn *fn, void *ctx, char *err,
                      size_t errlen)
{
	char *copy = strdup(text);
	if (!copy)
		return trace_errf(err, errlen, -ENOMEM, "out of memory");
	int rc = 0;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line && !rc;
	     line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');
		if (!v) {
			rc = trace_errf(err, errlen, -EINVAL, "config: line '%.60s' has no '='", line);
			break;
		}
		*v++ = 0;
		rc = fn(ctx, line, v, err, errlen);
	}
	free(copy);
	return rc;
}

/* One key of a full-stack config. */
static int decode_key(void *ctx, const char *line, char *v, char *err, size_t errlen)
{
	struct guest_config *c = ctx;
	int rc = 0;
	uint64_t n;
	if (strcmp(line, "cpus") == 0) {
		if (parse_u64(v, 255, &n) < 0 || n == 0)
			rc = trace_errf(err, errlen, -EINVAL, "config: bad cpus '%s'", v);
		c->has_cpus = true;
		c->cpus = (uint8_t)n;
	} else if (strcmp(line, "memory") == 0) {
		if (parse_u64(v, 1ull << 46, &n) < 0 || n == 0)
			rc = trace_errf(err, errlen, -EINVAL, "config: bad memory '%s'", v);
		c->has_guest_memory = true;
		c->guest_memory = n;
	} else if (strcmp(line, "kernel_type") == 0) {
		c->has_kernel_type = true;
		if (strcmp(v, "linux") == 0)
			c->kernel_type = KERNEL_LINUX;
		else if (strcmp(v, "zircon") == 0)
			c->kernel_type = KERNEL_ZIRCON;
		else
			rc = trace_errf(err, errlen, -EINVAL, "config: bad kernel_type '%s'", v);
	} else if (strcmp(line, "cmdline") == 0) {
		free(c->cmdline);
		if (!(c->cmdline = strdup(v)))
			rc = trace_errf(err, errlen, -ENOMEM, "out of memory");
	} else if (strcmp(line, "rng") == 0) {
		if (strcmp(v, "0") && strcmp(v, "1"))
			rc = trace_errf(err, errlen, -EINVAL, "config: bad rng '%s'", v);
		c->has_virtio_rng = true;
		c->virtio_rng = v[0] == '1';
	} else if (strcmp(line, "block") == 0) {
		rc = decode_block(c, v, err, errlen);
	} else if (strcmp(line, "console") == 0 || strcmp(line, "balloon") == 0) {
		bool con = line[0] == 'c';
		if (strcmp(v, "0") && strcmp(v, "1"))
			rc = trace_errf(err, errlen, -EINVAL, "config: bad %s '%s'", line, v);
		if (con)
			c->has_virtio_console = c->virtio_console = v[0] == '1';
		else
			c->has_virtio_balloon = c->virtio_balloon = v[0] == '1';
	} else if (strcmp(line, "net") == 0) {
		rc = decode_net(c, v, err, errlen);
	} else {
		rc = trace_errf(err, errlen, -ENOTSUP,
		          "config: unknown key '%.40s' (a trace from a newer vmm?)", line);
	}
	return rc;
}

int trace_config_decode(const char *text, struct guest_config *c, char *err, size_t errlen)
{
	gc_init(c);
	if (!text)
		return trace_errf(err, errlen, -EINVAL, "the trace has no config meta");
	int rc = trace_config_each(text, decode_key, c, err, errlen);
	if (!rc) {
		/* The kernel is never loaded in replay; Create still wants a file. */
		c->kernel_fd = memfd_create("replay-no-kernel", MFD_CLOEXEC);
		if (c->kernel_fd < 0)
			rc = trace_errf(err, errlen, -errno, "memfd: %s", strerror(errno));
	}
	if (rc)
		gc_free(c);
	return rc;
}

/* ---- recording meta ---- */

static int kernel_digest(int fd, char hex[65])
{
	struct sha256_ctx c;
	sha256_init(&c);
	uint8_t buf[65536];
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		sha256_update(&c, buf, (size_t)n);
		off += n;
	}
	uint8_t d[32];
	sha256_final(&c, d);
	trace_hex_digest(d, hex);
	return 0;
}

int trace_record_meta(struct trace_writer *w, const struct guest_config *c,
                      const char *vmm_version, const char *backend, char *err, size_t errlen)
{
	char *cfg = trace_config_encode(c, err, errlen);
	if (!cfg)
		return -ENOTSUP;
	char hex[65] = "none";
	if (c->kernel_fd >= 0 && kernel_digest(c->kernel_fd, hex) < 0)
		snprintf(hex, sizeof(hex), "unreadable");
	struct utsname u;
	char host[200] = "unknown";
	if (uname(&u) == 0)
		snprintf(host, sizeof(host), "%.60s %.60s %.60s", u.sysname, u.release, u.machine);
	char when[64];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	int r = trace_writer_set_meta(w, "config", cfg);
	free(cfg);
	if (!r)
		r = trace_writer_set_meta(w, "vmm_version", vmm_version);
	if (!r)
		r = trace_writer_set_meta(w, "kernel_sha256", hex);
	if (!r)
		r = trace_writer_set_meta(w, "backend", backend);
	if (!r)
		r = trace_writer_set_meta(w, "host", host);
	if (!r)
		r = trace_writer_set_meta(w, "created", when);
	if (r)
		trace_errf(err, errlen, r, "cannot write the trace's meta");
	return r;
}

/* ---- addresses ---- */

/* The machine layout as a bus of device kinds with no device state behind
 * them: each device names its own registers (describe_reg), so no register
 * map is copied here, and the trace tool, which has no vm, describes exits
 * the same way a divergence report does. Labels are the layout's: which
 * slot, which COM port. */
static struct bus layout_bus;
static char layout_slot_names[VM_MAX_VIRTIO][24];
static pthread_once_t layout_once = PTHREAD_ONCE_INIT;

static void layout_build(void)
{
	bus_init(&layout_bus);
	int r = bus_register(&layout_bus, BUS_PIO, VM_COM1_BASE, UART8250_PORTS, "serial (COM1)",
	                     &uart8250_bus_ops, NULL);
	r |= bus_register(&layout_bus, BUS_PIO, I8042_BASE, I8042_PORTS, "i8042", &i8042_bus_ops,
	                  NULL);
	for (unsigned i = 0; i < VM_MAX_VIRTIO; i++) {
		snprintf(layout_slot_names[i], sizeof(layout_slot_names[i]), "virtio-mmio slot %u", i);
		r |= bus_register(&layout_bus, BUS_MMIO, VM_VIRTIO_MMIO_BASE + i * VM_VIRTIO_MMIO_SIZE,
		                  VM_VIRTIO_MMIO_SIZE, layout_slot_names[i], &virtio_mmio_bus_ops, NULL);
	}
	assert(r == 0); /* a fixed layout of disjoint ranges, far below BUS_MAX_RANGES */
	(void)r;
}

void trace_describe_addr(enum hv_exit_kind kind, uint64_t addr, char *buf, size_t len)
{
	pthread_once(&layout_once, layout_build);
	bool pio = kind == HV_EXIT_IO_IN || kind == HV_EXIT_IO_OUT;
	bool write = kind == HV_EXIT_IO_OUT || kind == HV_EXIT_MEM_WRITE || kind == HV_EXIT_BELL;
	bus_describe(&layout_bus, pio ? BUS_PIO : BUS_MMIO, addr, write, buf, len);
}

/* ---- replay ---- */

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

int trace_replay_script(const struct script *s, const char *config, const struct replay_opts *o,
                        struct replay_result *res, char *err, size_t errlen)
{
	if (trace_config_is_device(config))
		return trace_replay_device(s, config, res, err, errlen);
	memset(res, 0, sizeof(*res));
	res->records = s->n;
	struct guest_config cfg;
	int rc = trace_config_decode(config, &cfg, err, errlen);
	if (rc)
		return rc;
	struct sim_config sim;
	sim_config_init(&sim, s);
	sim.stall_ms = o && o->stall_ms ? o->stall_ms : 0;
	sim.describe_addr = trace_describe_addr;
	struct ev_sink sink = sim_checker_sink(&sim);
	struct ev_source source = sim_source(&sim);
	int serial = o ? o->serial_fd : -1;
	int devnull = -1;
	if (serial < 0) {
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		serial = devnull;
	}
	struct lc_options lo = { .hv = &hv_sim_ops, .hv_fd = -1, .backend_arg = &sim, .sink = &sink,
		                 .source = &source, .serial_fd = serial };
	struct guest_lifecycle *lc = lc_new(&lo);
	if (!lc) {
		gc_free(&cfg);
		if (devnull >= 0)
			close(devnull);
		return trace_errf(err, errlen, -ENOMEM, "out of memory");
	}
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char e2[512];
	enum guest_error e = lc_create(lc, &cfg, e2, sizeof(e2));
	res->create_ms = ms_since(&t0);
	if (e) {
		res->result = e;
		snprintf(res->error, sizeof(res->error), "Create: %s: %s", guest_error_name(e), e2);
		lc_free(lc);
		if (devnull >= 0)
			close(devnull);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	e = lc_run(lc);
	res->run_ms = ms_since(&t0);
	res->result = e;
	snprintf(res->error, sizeof(res->error), "%s", lc_last_error(lc));
	lc_free(lc);
	if (devnull >= 0)
		close(devnull);
	snprintf(res->divergence, sizeof(res->divergence), "%s", sim.divergence);
	res->consumed = sim.consumed;
	res->div_index = sim.div_index;
	res->div_exit = sim.divergence[0] ? sim.div_exit : 0;
	memcpy(res->digest, sim.digest, sizeof(res->digest));
	res->matched = !sim.divergence[0] && sim.finished;
	if (!sim.divergence[0] && !sim.finished)
		snprintf(res->divergence, sizeof(res->divergence),
		         "replay ended (%s) with %zu of %zu records not consumed",
		         guest_error_name(e), s->n - sim.consumed, s->n);
	return 0;
}

int trace_replay_file(const char *path, const struct replay_opts *o, struct replay_result *res,
                      char *err, size_t errlen)
{
	struct script s;
	struct trace_info info;
	memset(res, 0, sizeof(*res));
	int rc = trace_load(path, &s, &info, err, errlen);
	if (rc)
		return rc;
	rc = trace_replay_script(&s, trace_info_get(&info, "config"), o, res, err, errlen);
	script_free(&s);
	trace_info_free(&info);
	return rc;
}
