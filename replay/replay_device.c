/* replay/replay_device.c - device-level replay; see replay_device.h.
 *
 * The sim (sim-hypervisor) holds the cursor and does every check, exactly as
 * for a full-stack trace: a guest with one vCPU is made on hv_sim_ops and its
 * vCPU entered until the trace ends. Every event of a device-level trace is a
 * host event, which the sim hands to inject() below (after writing the guest
 * memory the device read into the mapped table); the device core's replies,
 * calls, memory writes and host output come back through the checker sink
 * and set_irq, and its entropy and block completions from sim_source. The
 * device's host side is the same host/ adapter vmm_device runs, with no
 * fds: outputs only announced, inputs from the source. */
#include "replay/replay_device.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/byteorder.h"
#include "base/event_names.h"
#include "devices/balloon.h"
#include "devices/block.h"
#include "devices/console.h"
#include "devices/net.h"
#include "devices/rng.h"
#include "devices/vhost_user.h"
#include "host/balloon.h"
#include "host/block.h"
#include "host/entropy.h"
#include "host/host_events.h"
#include "host/net_tap.h"
#include "host/stream.h"

/* vmm_device's virtio-net MAC (vmm-device/kind_net.c). */
static const uint8_t vmm_device_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

enum dev_kind { D_BLOCK, D_RNG, D_CONSOLE, D_NET, D_BALLOON };

struct dev_config {
	enum dev_kind kind;
	enum block_dev_mode mode;
	char id[64];
	uint64_t bytes;
	uint32_t balloon_pages;
};

struct dev_replay {
	struct sim_config sim;
	struct ev_sink check, sink;
	struct ev_source src;
	struct host_events hev; /* &sink, &src: what the host adapters use */
	struct hv_guest *g;
	struct vhu_server server;
	struct virtio_device *dev;
	struct virtio_block *blk;
	struct virtio_rng *rng;
	struct virtio_console *con;
	struct virtio_net *net;
	struct virtio_balloon *bal;
	struct host_stream *con_host;
	struct host_tap *net_host;
	struct host_balloon *bal_host;
	int disk_fd;
	int slave_peer[8];
	unsigned nslave;
	char note[160]; /* an event the replayer could not even attempt */
};


bool trace_config_is_device(const char *config)
{
	return config && strncmp(config, "device=", 7) == 0;
}

struct config_parse {
	struct dev_config *c;
	bool have_dev;
};

/* One key of a device-level config. */
static int config_key(void *ctx, const char *line, char *v, char *err, size_t errlen)
{
	struct config_parse *k = ctx;
	struct dev_config *c = k->c;
	int rc = 0;
	char *end;
	if (strcmp(line, "device") == 0) {
		static const char *const names[] = { "block", "rng", "console", "net", "balloon" };
		k->have_dev = false;
		for (int i = 0; i < 5; i++)
			if (strcmp(v, names[i]) == 0) {
				c->kind = (enum dev_kind)i;
				k->have_dev = true;
			}
		if (!k->have_dev)
			rc = trace_errf(err, errlen, -ENOTSUP, "config: device '%.40s' cannot be replayed "
			          "(block, rng, console, net, balloon)", v);
	} else if (strcmp(line, "block_mode") == 0) {
		if (strcmp(v, "rw") == 0)
			c->mode = BLOCK_DEV_READ_WRITE;
		else if (strcmp(v, "ro") == 0)
			c->mode = BLOCK_DEV_READ_ONLY;
		else if (strcmp(v, "volatile") == 0)
			c->mode = BLOCK_DEV_VOLATILE;
		else
			rc = trace_errf(err, errlen, -EINVAL, "config: bad block_mode '%.20s'", v);
	} else if (strcmp(line, "block_id") == 0) {
		snprintf(c->id, sizeof(c->id), "%s", v);
	} else if (strcmp(line, "block_bytes") == 0) {
		errno = 0;
		unsigned long long b = strtoull(v, &end, 10);
		if (errno || *end || !*v || v[0] == '-' || b > (1ull << 50))
			rc = trace_errf(err, errlen, -EINVAL, "config: bad block_bytes '%.30s'", v);
		c->bytes = b;
	} else if (strcmp(line, "balloon_pages") == 0) {
		errno = 0;
		unsigned long p = strtoul(v, &end, 10);
		if (errno || *end || !*v || v[0] == '-' || p > UINT32_MAX)
			rc = trace_errf(err, errlen, -EINVAL, "config: bad balloon_pages '%.30s'", v);
		c->balloon_pages = (uint32_t)p;
	} else {
		rc = trace_errf(err, errlen, -ENOTSUP,
		          "config: unknown key '%.40s' (a trace from a newer vmm_device?)", line);
	}
	return rc;
}

static int parse_config(const char *text, struct dev_config *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->mode = BLOCK_DEV_READ_WRITE;
	struct config_parse k = { .c = c };
	int rc = trace_config_each(text, config_key, &k, err, errlen);
	if (!rc && !k.have_dev)
		rc = trace_errf(err, errlen, -EINVAL, "config: no device");
	return rc;
}

/* A call (the device interrupting its driver): the sim checks it. */
static void call_irq(void *ctx, uint32_t q, int level)
{
	struct sim_config *c = ctx;
	if (c->guest)
		hv_sim_ops.set_irq(c->guest, q, level);
}

/* ---- events ---- */

/* The table the device now has, as the sim's guest memory. */
static void remap(struct dev_replay *r)
{
	sim_unmap_all(r->g);
	const struct guest_mem *m = &r->server.mem;
	for (unsigned i = 0; r->server.mem_set && i < m->nregions; i++)
		hv_sim_ops.map_memory(r->g, m->regions[i].gpa, m->host + m->regions[i].offset,
		                      m->regions[i].len, -1, 0);
}

/* Stand-ins for the fds a recorded message came with: memory files of the
 * recorded sizes for a memory table, a socket for the slave channel (its
 * peer kept open and never read), eventfds for the rest. */
static int stand_in_fds(struct dev_replay *r, const uint8_t *msg, size_t len, unsigned nfds,
                        int *fds)
{
	uint32_t req = le32_get(msg);
	for (unsigned i = 0; i < nfds; i++) {
		fds[i] = -1;
		if (req == VHU_SET_MEM_TABLE) {
			uint64_t size = 4096, off = 0;
			if (len >= VHU_HDR_SIZE + 8 + 32 * (i + 1)) {
				const uint8_t *reg = msg + VHU_HDR_SIZE + 8 + 32 * i;
				size = le64_get(reg + 8);
				off = le64_get(reg + 24);
			}
			fds[i] = memfd_create("replay-guest-ram", MFD_CLOEXEC);
			if (fds[i] >= 0 && (off > (1ull << 40) || size > (1ull << 40) ||
			                    ftruncate(fds[i], (off_t)(off + size)) < 0)) {
				close(fds[i]);
				fds[i] = -1;
			}
		} else if (req == VHU_SET_SLAVE_REQ_FD && r->nslave < 8) {
			int sv[2];
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
				fds[i] = sv[0];
				r->slave_peer[r->nslave++] = sv[1];
			}
		} else {
			fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		}
		if (fds[i] < 0) {
			for (unsigned k = 0; k < i; k++)
				close(fds[k]);
			return -1;
		}
	}
	return 0;
}

static size_t inject(void *ctx, const char *device, const void *data, size_t len)
{
	struct dev_replay *r = ctx;
	const uint8_t *b = data;
	if (strcmp(device, EVN_VHOST_USER) == 0 && len >= 1 + VHU_HDR_SIZE && b[0] <= 8) {
		int fds[8];
		if (stand_in_fds(r, b + 1, len - 1, b[0], fds) < 0) {
			snprintf(r->note, sizeof(r->note), "cannot make stand-in fds: %s", strerror(errno));
			return 0;
		}
		vhu_handle_message(&r->server, b + 1, len - 1, fds, b[0]);
		if (le32_get(b + 1) == VHU_SET_MEM_TABLE)
			remap(r);
		return len;
	}
	if (strcmp(device, EVN_KICK) == 0 && len == 1) {
		vhu_kick(&r->server, b[0]);
		return len;
	}
	if (strcmp(device, EVN_DISCONNECT) == 0 && len == 1) {
		vhu_end_session(&r->server);
		remap(r);
		return len;
	}
	if (strcmp(device, EVN_CONSOLE) == 0 && r->con)
		return virtio_console_host_input(r->con, data, len);
	if (strcmp(device, EVN_NET) == 0 && r->net)
		return host_tap_frame_in(r->net, data, len);
	snprintf(r->note, sizeof(r->note), "a host event for '%.32s' that this device cannot take",
	         device);
	return 0;
}

/* ---- the replay ---- */

static int build_device(struct dev_replay *r, const struct dev_config *c, char *err,
                        size_t errlen)
{
	switch (c->kind) {
	case D_BLOCK: {
		r->blk = calloc(1, sizeof(*r->blk));
		r->disk_fd = memfd_create("replay-disk", MFD_CLOEXEC);
		if (!r->blk || r->disk_fd < 0 || ftruncate(r->disk_fd, (off_t)c->bytes) < 0)
			return trace_errf(err, errlen, -ENOMEM, "cannot make the stand-in disk");
		struct block_io io = host_block_io(&r->hev);
		int rc = virtio_block_init(r->blk, r->disk_fd, c->mode, c->id, &io);
		if (rc < 0)
			return trace_errf(err, errlen, rc, "block device: %s", strerror(-rc));
		r->dev = &r->blk->dev;
		return 0;
	}
	case D_RNG: {
		r->rng = calloc(1, sizeof(*r->rng));
		if (!r->rng)
			return trace_errf(err, errlen, -ENOMEM, "out of memory");
		struct rng_host h = host_entropy(&r->hev);
		virtio_rng_init(r->rng, &h);
		r->dev = &r->rng->dev;
		return 0;
	}
	case D_CONSOLE: {
		r->con = calloc(1, sizeof(*r->con));
		r->con_host = calloc(1, sizeof(*r->con_host));
		if (!r->con || !r->con_host)
			return trace_errf(err, errlen, -ENOMEM, "out of memory");
		/* No fds, and no wake: held input comes back as recorded events. */
		host_stream_init(r->con_host, &r->hev, EVN_CONSOLE, -1, -1, HOST_STREAM_DROP, 0);
		struct console_host h = host_stream_console(r->con_host);
		virtio_console_init(r->con, &h);
		r->dev = &r->con->dev;
		return 0;
	}
	case D_NET: {
		r->net = calloc(1, sizeof(*r->net));
		r->net_host = calloc(1, sizeof(*r->net_host));
		if (!r->net || !r->net_host)
			return trace_errf(err, errlen, -ENOMEM, "out of memory");
		host_tap_init(r->net_host, &r->hev, EVN_NET, -1);
		struct net_host h = host_tap_net(r->net_host);
		virtio_net_init(r->net, vmm_device_mac, &h);
		r->dev = &r->net->dev;
		return 0;
	}
	case D_BALLOON: {
		r->bal = calloc(1, sizeof(*r->bal));
		r->bal_host = calloc(1, sizeof(*r->bal_host));
		if (!r->bal || !r->bal_host)
			return trace_errf(err, errlen, -ENOMEM, "out of memory");
		host_balloon_init(r->bal_host, &r->hev, &r->server.mem);
		struct balloon_host h = host_balloon_hooks(r->bal_host);
		virtio_balloon_init(r->bal, &h, false);
		r->dev = &r->bal->dev;
		return 0;
	}
	}
	return trace_errf(err, errlen, -EINVAL, "no device");
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

int trace_replay_device(const struct script *s, const char *config, struct replay_result *res,
                        char *err, size_t errlen)
{
	memset(res, 0, sizeof(*res));
	res->records = s->n;
	struct dev_config dc;
	int rc = parse_config(config, &dc, err, errlen);
	if (rc)
		return rc;
	struct dev_replay *r = calloc(1, sizeof(*r));
	if (!r)
		return trace_errf(err, errlen, -ENOMEM, "out of memory");
	r->disk_fd = -1;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sim_config_init(&r->sim, s);
	r->sim.max_vcpus = 1;
	r->check = sim_checker_sink(&r->sim);
	r->src = sim_source(&r->sim);
	r->sim.inject = inject;
	r->sim.inject_vm = r;
	r->sink = r->check;
	r->sink.irq = call_irq;
	r->hev = (struct host_events){ &r->sink, &r->src };
	bool server_up = false;
	struct hv_vcpu *v = NULL;
	rc = build_device(r, &dc, err, errlen);
	if (!rc && (rc = vhu_init(&r->server, r->dev)) < 0)
		trace_errf(err, errlen, rc, "vhost-user server: %s", strerror(-rc));
	if (rc)
		goto out;
	server_up = true;
	r->server.replaying = true;
	vhu_set_sink(&r->server, &r->sink);
	if (dc.kind == D_BALLOON)
		virtio_balloon_request_pages(r->bal, dc.balloon_pages);
	rc = hv_sim_ops.guest_create(-1, &r->sim, &r->g);
	if (!rc)
		rc = hv_sim_ops.vcpu_create(r->g, 0, &v);
	if (rc) {
		trace_errf(err, errlen, rc, "sim: %s", strerror(-rc));
		goto out;
	}
	res->create_ms = ms_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct hv_exit x;
		hv_sim_ops.vcpu_enter(v, &x);
		if (x.kind == HV_EXIT_END || x.kind == HV_EXIT_FAILURE)
			break;
		if (x.kind != HV_EXIT_KICK) {
			snprintf(r->note, sizeof(r->note), "a device-level trace holds a vCPU exit (%s)",
			         hv_exit_kind_name(x.kind));
			break;
		}
	}
	res->run_ms = ms_since(&t0);
	hv_sim_ops.vcpu_destroy(v);
	hv_sim_ops.guest_destroy(r->g);
	r->g = NULL;
	res->result = GUEST_OK;
	snprintf(res->divergence, sizeof(res->divergence), "%s", r->sim.divergence);
	if (r->note[0] && !res->divergence[0])
		snprintf(res->divergence, sizeof(res->divergence), "replay: %s", r->note);
	res->consumed = r->sim.consumed;
	res->div_index = r->sim.div_index;
	res->div_exit = r->sim.divergence[0] ? r->sim.div_exit : 0;
	memcpy(res->digest, r->sim.digest, sizeof(res->digest));
	res->matched = !res->divergence[0] && r->sim.finished;
	if (!res->divergence[0] && !r->sim.finished)
		snprintf(res->divergence, sizeof(res->divergence),
		         "replay ended with %zu of %zu records not consumed", s->n - r->sim.consumed, s->n);
out:
	if (server_up) {
		vhu_set_sink(&r->server, NULL);
		vhu_destroy(&r->server);
	}
	for (unsigned i = 0; i < r->nslave; i++)
		close(r->slave_peer[i]);
	if (r->blk) {
		virtio_block_destroy(r->blk);
		free(r->blk);
	}
	if (r->disk_fd >= 0)
		close(r->disk_fd);
	free(r->rng);
	free(r->con);
	free(r->net);
	free(r->bal);
	free(r->con_host);
	free(r->net_host);
	free(r->bal_host);
	free(r);
	return rc;
}
