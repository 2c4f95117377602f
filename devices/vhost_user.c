/* devices/vhost_user.c - see vhost_user.h. Message layouts from QEMU's
 * docs/interop/vhost-user.rst ("Message types"), named in vhost_user.h; all
 * little-endian, read and written through base/byteorder.h (the payload has
 * no alignment guarantee). */
#include "vhost_user.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/unix_socket.h"
#include "base/byteorder.h"
#include "base/event_names.h"
#include "base/log.h"

#define PAGE 4096ull
/* Bound on the host address space one memory table may reserve. */
#define VHU_MAX_MAP (1ull << 40)
#define VHU_MAX_FDS 8
/* Polling-mode rings (SET_VRING_KICK with the no-fd bit) are looked at this often. */
#define VHU_POLL_MS 10

struct vhu_msg {
	uint32_t request, flags, size;
	union {
		uint64_t align;
		uint8_t b[VHU_MAX_PAYLOAD];
	} p;
};

static uint32_t get32(const struct vhu_msg *m, size_t off)
{
	return le32_get(m->p.b + off);
}

static uint64_t get64(const struct vhu_msg *m, size_t off)
{
	return le64_get(m->p.b + off);
}

static void hdr_put(uint8_t b[VHU_HDR_SIZE], uint32_t request, uint32_t flags, uint32_t size)
{
	le32_put(b + VHU_HDR_REQUEST, request);
	le32_put(b + VHU_HDR_FLAGS, flags);
	le32_put(b + VHU_HDR_PAYLOAD_SIZE, size);
}

static void hdr_get(const uint8_t b[VHU_HDR_SIZE], struct vhu_msg *m)
{
	m->request = le32_get(b + VHU_HDR_REQUEST);
	m->flags = le32_get(b + VHU_HDR_FLAGS);
	m->size = le32_get(b + VHU_HDR_PAYLOAD_SIZE);
}

/* Record why a message was refused; returns -EINVAL for the caller to pass on. */
static int refuse(struct vhu_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct vhu_server *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
	va_end(ap);
	s->refused++;
	log_warn("vhost-user %s: %s", s->dev->ops->name, s->last_error);
	return -EINVAL;
}

static bool proto_acked(const struct vhu_server *s, unsigned bit)
{
	return s->proto_acked & (1ull << bit);
}

static bool protocol_features_negotiated(const struct vhu_server *s)
{
	return s->features_acked & (1ull << VHU_F_PROTOCOL_FEATURES);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* One 8-byte event write (eventfd or pipe). A full pipe or a saturated
 * eventfd already has an event pending, so EAGAIN loses nothing. */
static void event_write(int fd)
{
	uint64_t one = 1;
	ssize_t n;
	do {
		n = write(fd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
}

/* Whole-buffer send on the connection or the slave channel (which UML makes a
 * pipe, hence the write() fallback). */
static int send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { fd, POLLOUT, 0 };
			if (poll(&pfd, 1, 1000) <= 0)
				return -EAGAIN;
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- recording: every message, kick and end of session is an event ---- */

void vhu_event_begin(struct vhu_server *s)
{
	if (s->have_sink && s->sink.exit_begin)
		s->sink.exit_begin(s->sink.ctx, 0);
}

void vhu_event_end(struct vhu_server *s, const char *device, const void *data, uint64_t len,
                   uint64_t taken)
{
	if (s->have_sink && s->sink.host_event)
		s->sink.host_event(s->sink.ctx, device, data, len, taken);
}

static void rec_output(struct vhu_server *s, const char *device, const void *data, size_t len)
{
	if (s->have_sink && s->sink.host_output)
		s->sink.host_output(s->sink.ctx, device, data, len);
}

static int reply(struct vhu_server *s, const struct vhu_msg *req, const void *payload,
                 uint32_t size)
{
	uint8_t buf[VHU_HDR_SIZE + VHU_MAX_CONFIG + 16];
	if (size > sizeof(buf) - VHU_HDR_SIZE)
		return -EINVAL;
	hdr_put(buf, req->request, VHU_VERSION | VHU_FLAG_REPLY, size);
	if (size)
		memcpy(buf + VHU_HDR_SIZE, payload, size);
	/* What the front end is told is an output of the message's event. */
	rec_output(s, EVN_VHOST_USER, buf, VHU_HDR_SIZE + size);
	if (s->replaying)
		return 0; /* no front end: the checker heard it */
	return send_all(s->conn_fd, buf, VHU_HDR_SIZE + size);
}

static int reply_u64(struct vhu_server *s, const struct vhu_msg *req, uint64_t v)
{
	uint8_t b[VHU_U64_SIZE];
	le64_put(b, v);
	return reply(s, req, b, sizeof(b));
}

/* ---- memory table ---- */

static void unmap_table(struct vhu_server *s)
{
	if (s->map)
		munmap(s->map, s->map_len);
	s->map = NULL;
	s->map_len = 0;
	s->mem_set = false;
	s->nregions = 0;
	memset(&s->mem, 0, sizeof(s->mem));
	s->mem.fd = -1;
}

/* Front-end user address -> guest-physical, if some region holds it. */
static bool user_to_gpa(const struct vhu_server *s, uint64_t ua, uint64_t *gpa)
{
	for (unsigned i = 0; i < s->nregions; i++) {
		const struct vhu_region *r = &s->regions[i];
		if (ua >= r->user_addr && ua - r->user_addr < r->size) {
			*gpa = r->gpa + (ua - r->user_addr);
			return true;
		}
	}
	return false;
}

/* Check (and with vq non-NULL, initialise) ring q's layout against the
 * current table. Returns 0 or -EINVAL with the reason in vq->error / s. */
static int ring_layout(struct vhu_server *s, unsigned q, struct virtqueue *vq)
{
	struct vhu_vring *r = &s->vring[q];
	uint64_t desc, avail, used;
	if (!user_to_gpa(s, r->desc_user, &desc) || !user_to_gpa(s, r->avail_user, &avail) ||
	    !user_to_gpa(s, r->used_user, &used))
		return refuse(s, "ring %u: an address is outside the memory table", q);
	struct virtqueue tmp;
	if (!vq)
		vq = &tmp;
	if (vq_init(vq, &s->mem, r->num, desc, avail, used, s->features_acked) < 0)
		return refuse(s, "ring %u: %s", q, vq->error);
	return 0;
}

static void stop_ring(struct vhu_server *s, unsigned q)
{
	struct vhu_vring *r = &s->vring[q];
	struct virtqueue *vq = &s->dev->vq[q];
	if (r->started || vq->size) {
		/* Resume where the device stopped if the ring is restarted
		 * without a new SET_VRING_BASE. */
		r->base = vq->last_avail;
	}
	memset(vq, 0, sizeof(*vq));
	r->started = false;
}

/* The core's virtqueue q from the ring's settings, continuing at r->base;
 * the used index is what the ring in memory says (a front end may reconnect
 * to rings a previous back end already served). */
static int init_ring(struct vhu_server *s, unsigned q)
{
	struct vhu_vring *r = &s->vring[q];
	struct virtqueue *vq = &s->dev->vq[q];
	if (ring_layout(s, q, vq) < 0) {
		memset(vq, 0, sizeof(*vq));
		return -EINVAL;
	}
	uint16_t used_idx = 0;
	gm_read(&s->mem, vq->used_gpa + 2, &used_idx, 2);
	vq->last_avail = r->base;
	vq->used_idx = used_idx;
	return 0;
}

static bool ring_configured(const struct vhu_server *s, unsigned q)
{
	const struct vhu_vring *r = &s->vring[q];
	return s->mem_set && r->num_set && r->addr_set;
}

/* Start ring q if everything it needs has arrived. The first ring to start
 * activates the device, after every configured ring was initialised (what
 * DRIVER_OK means on virtio-mmio). Returns 0 or -EINVAL. */
static int try_start(struct vhu_server *s, unsigned q)
{
	struct vhu_vring *r = &s->vring[q];
	struct virtio_device *d = s->dev;
	if (r->started || !ring_configured(s, q) || !r->kick_set)
		return 0;
	if (protocol_features_negotiated(s) && !r->enabled)
		return 0;
	if (!d->active) {
		for (unsigned i = 0; i < d->ops->num_queues; i++) {
			if (ring_configured(s, i) && !d->vq[i].size && init_ring(s, i) < 0)
				return -EINVAL;
		}
		d->driver_features = s->features_acked & ~(1ull << VHU_F_PROTOCOL_FEATURES);
		if (d->ops->activate && d->ops->activate(d) != 0)
			return refuse(s, "device refused to activate");
		d->active = true;
	} else if (!d->vq[q].size && init_ring(s, q) < 0) {
		return -EINVAL;
	}
	r->started = true;
	/* Buffers made available before the kick fd arrived get no kick of
	 * their own. Only then: a notify with nothing to do would still
	 * interrupt the driver. */
	uint16_t avail_idx;
	struct virtqueue *vq = &d->vq[q];
	if (d->ops->queue_notify && gm_read(&s->mem, vq->avail_gpa + 2, &avail_idx, 2) == 0 &&
	    avail_idx != vq->last_avail)
		d->ops->queue_notify(d, q);
	return 0;
}

static int set_mem_table(struct vhu_server *s, const struct vhu_msg *m, int *fds, unsigned nfds)
{
	if (m->size < VHU_MEM_REGIONS)
		return refuse(s, "SET_MEM_TABLE: payload of %u bytes", m->size);
	uint32_t n = get32(m, VHU_MEM_NREGIONS);
	if (n == 0 || n > VHU_MAX_REGIONS)
		return refuse(s, "SET_MEM_TABLE: %u regions (1..%u)", n, VHU_MAX_REGIONS);
	/* virtio_uml always sends the full 8-slot table; QEMU sends only n. */
	if (m->size < VHU_MEM_REGIONS + VHU_REGION_LEN * n ||
	    m->size > VHU_MEM_REGIONS + VHU_REGION_LEN * VHU_MAX_REGIONS)
		return refuse(s, "SET_MEM_TABLE: payload of %u bytes for %u regions", m->size, n);
	if (nfds != n)
		return refuse(s, "SET_MEM_TABLE: %u fds for %u regions", nfds, n);
	struct vhu_region reg[VHU_MAX_REGIONS];
	uint64_t total = 0, slot[VHU_MAX_REGIONS], slack[VHU_MAX_REGIONS];
	for (uint32_t i = 0; i < n; i++) {
		struct vhu_region *r = &reg[i];
		size_t at = VHU_MEM_REGIONS + (size_t)VHU_REGION_LEN * i;
		r->gpa = get64(m, at + VHU_REGION_GPA);
		r->size = get64(m, at + VHU_REGION_SIZE);
		r->user_addr = get64(m, at + VHU_REGION_USER_ADDR);
		r->mmap_offset = get64(m, at + VHU_REGION_MMAP_OFFSET);
		if (r->size == 0 || r->size > VHU_MAX_MAP || r->gpa + r->size < r->gpa ||
		    r->user_addr + r->size < r->user_addr || r->mmap_offset > VHU_MAX_MAP)
			return refuse(s, "SET_MEM_TABLE: region %u is empty, too large or wraps", i);
		for (uint32_t j = 0; j < i; j++) {
			if (r->gpa < reg[j].gpa + reg[j].size && reg[j].gpa < r->gpa + r->size)
				return refuse(s, "SET_MEM_TABLE: regions %u and %u overlap", j, i);
			if (r->user_addr < reg[j].user_addr + reg[j].size &&
			    reg[j].user_addr < r->user_addr + r->size)
				return refuse(s, "SET_MEM_TABLE: regions %u and %u overlap in user space", j, i);
		}
		/* Mapping past the end of the file would turn the first access into
		 * SIGBUS: the file must hold the whole region now. */
		struct stat st;
		if (fstat(fds[i], &st) < 0 || !S_ISREG(st.st_mode))
			return refuse(s, "SET_MEM_TABLE: region %u's fd is not a regular file", i);
		if ((uint64_t)st.st_size < r->mmap_offset + r->size)
			return refuse(s, "SET_MEM_TABLE: region %u runs past the end of its file", i);
		slack[i] = r->mmap_offset % PAGE;
		slot[i] = (slack[i] + r->size + PAGE - 1) / PAGE * PAGE;
		total += slot[i];
		if (total > VHU_MAX_MAP)
			return refuse(s, "SET_MEM_TABLE: more than %llu bytes", (unsigned long long)VHU_MAX_MAP);
	}
	/* One reserved range holds every region, so the table is one guest_mem
	 * with per-region offsets. */
	uint8_t *base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	                     -1, 0);
	if (base == MAP_FAILED)
		return refuse(s, "SET_MEM_TABLE: cannot reserve %llu bytes", (unsigned long long)total);
	struct gm_region gr[VHU_MAX_REGIONS];
	uint64_t pos = 0;
	for (uint32_t i = 0; i < n; i++) {
		void *p = mmap(base + pos, slot[i], PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		               fds[i], (off_t)(reg[i].mmap_offset - slack[i]));
		if (p == MAP_FAILED) {
			int e = errno;
			munmap(base, total);
			return refuse(s, "SET_MEM_TABLE: mmap of region %u: %s", i, strerror(e));
		}
		gr[i] = (struct gm_region){ .gpa = reg[i].gpa, .len = reg[i].size,
		                            .offset = pos + slack[i] };
		pos += slot[i];
	}
	struct guest_mem gm;
	if (gm_init_external(&gm, base, total, gr, n) < 0) {
		munmap(base, total);
		return refuse(s, "SET_MEM_TABLE: table refused by guest_mem");
	}
	gm.obs = s->obs; /* a recorder sees what the device reads and writes */
	unmap_table(s);
	s->map = base;
	s->map_len = total;
	s->mem = gm;
	s->mem_set = true;
	s->nregions = n;
	memcpy(s->regions, reg, sizeof(reg[0]) * n);
	/* The table may change under live rings (memory hot-plug): re-derive
	 * each ring's guest-physical addresses, and stop one that no longer fits. */
	for (unsigned q = 0; q < s->dev->ops->num_queues; q++) {
		struct virtqueue *vq = &s->dev->vq[q];
		if (!vq->size)
			continue;
		struct virtqueue fresh;
		if (ring_layout(s, q, &fresh) < 0) {
			stop_ring(s, q);
			continue;
		}
		vq->desc_gpa = fresh.desc_gpa;
		vq->avail_gpa = fresh.avail_gpa;
		vq->used_gpa = fresh.used_gpa;
	}
	return 0;
}

/* ---- the session: everything one front end negotiated ---- */

static void reset_session(struct vhu_server *s)
{
	struct virtio_device *d = s->dev;
	if (d->ops->reset)
		d->ops->reset(d);
	d->active = false;
	d->driver_features = 0;
	memset(d->vq, 0, sizeof(d->vq));
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct vhu_vring *r = &s->vring[q];
		close_fd(&r->kick_fd);
		close_fd(&r->call_fd);
		close_fd(&r->err_fd);
		memset(r, 0, sizeof(*r));
		r->kick_fd = r->call_fd = r->err_fd = -1;
	}
	close_fd(&s->slave_fd);
	unmap_table(s);
	s->features_acked = 0;
	s->features_set = false;
	s->proto_acked = 0;
}

/* ---- device callbacks ---- */

static void cb_signal_used(struct virtio_device *d, unsigned q)
{
	struct vhu_server *s = d->frontend;
	if (q < VIRTIO_MAX_QUEUES && s->vring[q].call_fd >= 0) {
		/* A call is the device level's interrupt: "irq" q. */
		if (s->have_sink && s->sink.irq)
			s->sink.irq(s->sink.ctx, q, 1);
		event_write(s->vring[q].call_fd);
		s->calls++;
	}
}

static void cb_signal_config(struct virtio_device *d)
{
	struct vhu_server *s = d->frontend;
	if (s->slave_fd < 0 || !proto_acked(s, VHU_PROTOCOL_F_SLAVE_REQ)) {
		s->config_dropped++;
		return;
	}
	/* No NEED_REPLY: the back end must not block on a front end that is
	 * itself waiting for us. */
	uint8_t hdr[VHU_HDR_SIZE];
	hdr_put(hdr, VHU_SLAVE_CONFIG_CHANGE_MSG, VHU_VERSION, 0);
	rec_output(s, EVN_VHOST_USER_SLAVE, hdr, sizeof(hdr));
	if (send_all(s->slave_fd, hdr, sizeof(hdr)) < 0)
		s->config_dropped++;
}

static void cb_signal_needs_reset(struct virtio_device *d)
{
	struct vhu_server *s = d->frontend;
	for (unsigned q = 0; q < d->ops->num_queues; q++) {
		if (!d->vq[q].broken)
			continue;
		log_warn("vhost-user %s: queue %u broken: %s", d->ops->name, q, d->vq[q].error);
		if (s->vring[q].err_fd >= 0)
			event_write(s->vring[q].err_fd);
	}
}

/* ---- requests ---- */

static bool has_inherent_reply(uint32_t req)
{
	return req == VHU_GET_FEATURES || req == VHU_GET_PROTOCOL_FEATURES ||
	       req == VHU_GET_VRING_BASE || req == VHU_GET_CONFIG || req == VHU_GET_QUEUE_NUM;
}

static int ring_index(struct vhu_server *s, uint64_t idx, const char *what)
{
	if (idx >= s->dev->ops->num_queues)
		return refuse(s, "%s: ring %llu of %u", what, (unsigned long long)idx,
		              s->dev->ops->num_queues);
	return (int)idx;
}

static int vring_fd(struct vhu_server *s, const struct vhu_msg *m, int *fds, unsigned nfds,
                    const char *what)
{
	uint64_t v = get64(m, 0);
	if (v & ~(VHU_VRING_INDEX_MASK | VHU_VRING_NOFD))
		return refuse(s, "%s: unknown bits in 0x%llx", what, (unsigned long long)v);
	int q = ring_index(s, v & VHU_VRING_INDEX_MASK, what);
	if (q < 0)
		return q;
	bool nofd = v & VHU_VRING_NOFD;
	if (nfds != (nofd ? 0u : 1u))
		return refuse(s, "%s: %u fds with no-fd flag %d", what, nfds, nofd);
	struct vhu_vring *r = &s->vring[q];
	int fd = nofd ? -1 : fds[0];
	if (!nofd)
		fds[0] = -1; /* ours now */
	if (fd >= 0)
		set_nonblock(fd);
	switch (m->request) {
	case VHU_SET_VRING_KICK:
		close_fd(&r->kick_fd);
		r->kick_fd = fd;
		r->kick_set = true;
		return try_start(s, (unsigned)q);
	case VHU_SET_VRING_CALL:
		close_fd(&r->call_fd);
		r->call_fd = fd;
		return 0;
	default:
		close_fd(&r->err_fd);
		r->err_fd = fd;
		return 0;
	}
}

static int vring_state(struct vhu_server *s, const struct vhu_msg *m, const char *what,
                       unsigned *q, uint32_t *num)
{
	int i = ring_index(s, get32(m, VHU_STATE_INDEX), what);
	if (i < 0)
		return i;
	*q = (unsigned)i;
	*num = get32(m, VHU_STATE_NUM);
	return 0;
}

static int get_config(struct vhu_server *s, const struct vhu_msg *m)
{
	const struct virtio_device_ops *ops = s->dev->ops;
	uint32_t off = get32(m, VHU_CONFIG_OFFSET), size = get32(m, VHU_CONFIG_SIZE);
	if (size > VHU_MAX_CONFIG || off > VHU_MAX_CONFIG - size ||
	    m->size != VHU_CONFIG_DATA + size) {
		refuse(s, "GET_CONFIG: offset %u size %u in a %u-byte message", off, size, m->size);
		/* An empty reply keeps the stream in step; the front end sees the
		 * size mismatch as the failure. */
		return reply(s, m, NULL, 0) < 0 ? -EIO : 0;
	}
	/* The reply echoes offset, size and flags, then the bytes. */
	uint8_t out[VHU_CONFIG_DATA + VHU_MAX_CONFIG];
	memcpy(out, m->p.b, VHU_CONFIG_DATA);
	memset(out + VHU_CONFIG_DATA, 0, size);
	/* Bytes beyond the device's config space read as zero, as on virtio-mmio
	 * they are ignored: virtio_uml asks for [0, offset+len) of any field. */
	if (ops->config_read && off < ops->config_size) {
		uint32_t n = ops->config_size - off < size ? ops->config_size - off : size;
		if (n)
			ops->config_read(s->dev, off, out + VHU_CONFIG_DATA, n);
	}
	return reply(s, m, out, VHU_CONFIG_DATA + size) < 0 ? -EIO : 0;
}

static int set_config(struct vhu_server *s, const struct vhu_msg *m)
{
	const struct virtio_device_ops *ops = s->dev->ops;
	if (m->size < VHU_CONFIG_DATA)
		return refuse(s, "SET_CONFIG: payload of %u bytes", m->size);
	uint32_t off = get32(m, VHU_CONFIG_OFFSET), size = get32(m, VHU_CONFIG_SIZE);
	if (size > VHU_MAX_CONFIG || m->size != VHU_CONFIG_DATA + size)
		return refuse(s, "SET_CONFIG: size %u in a %u-byte message", size, m->size);
	if (!ops->config_write || off > ops->config_size || size > ops->config_size - off)
		return refuse(s, "SET_CONFIG: [%u, +%u) is not writable config space", off, size);
	if (size)
		ops->config_write(s->dev, off, m->p.b + VHU_CONFIG_DATA, size);
	return 0;
}

/* Payload size each request must carry (SET_MEM_TABLE and the config
 * messages check their own); -1 for a request we do not serve. */
static long expected_size(uint32_t req)
{
	switch (req) {
	case VHU_GET_FEATURES: case VHU_GET_PROTOCOL_FEATURES: case VHU_SET_OWNER:
	case VHU_RESET_OWNER: case VHU_GET_QUEUE_NUM: case VHU_SET_SLAVE_REQ_FD:
		return 0;
	case VHU_SET_FEATURES: case VHU_SET_PROTOCOL_FEATURES: case VHU_SET_VRING_KICK:
	case VHU_SET_VRING_CALL: case VHU_SET_VRING_ERR: case VHU_SET_VRING_NUM:
	case VHU_SET_VRING_BASE: case VHU_GET_VRING_BASE: case VHU_SET_VRING_ENABLE:
		return VHU_U64_SIZE; /* or a vring state, the same size */
	case VHU_SET_VRING_ADDR:
		return VHU_ADDR_SIZE;
	case VHU_SET_MEM_TABLE: case VHU_GET_CONFIG: case VHU_SET_CONFIG:
		return -2; /* variable */
	default:
		return -1;
	}
}

static unsigned fds_allowed(uint32_t req)
{
	switch (req) {
	case VHU_SET_MEM_TABLE: return VHU_MAX_REGIONS;
	case VHU_SET_VRING_KICK: case VHU_SET_VRING_CALL: case VHU_SET_VRING_ERR:
	case VHU_SET_SLAVE_REQ_FD: return 1;
	default: return 0;
	}
}

/* Handle one request. Returns 0 (done, any reply sent), -EINVAL (refused:
 * the caller acks or closes), -EIO (the connection is unusable). */
static int handle(struct vhu_server *s, struct vhu_msg *m, int *fds, unsigned nfds)
{
	struct virtio_device *d = s->dev;
	long want = expected_size(m->request);
	if (want == -1)
		return refuse(s, "unknown request %u", m->request);
	if (want >= 0 && m->size != (uint32_t)want)
		return refuse(s, "request %u: payload of %u bytes, expected %ld", m->request, m->size,
		              want);
	if ((m->request == VHU_GET_CONFIG || m->request == VHU_SET_CONFIG) &&
	    m->size < VHU_CONFIG_DATA)
		return refuse(s, "request %u: payload of %u bytes", m->request, m->size);
	if (nfds > fds_allowed(m->request))
		return refuse(s, "request %u: %u fds attached", m->request, nfds);
	unsigned q;
	uint32_t num;
	switch (m->request) {
	case VHU_GET_FEATURES:
		return reply_u64(s, m, s->features_offered) < 0 ? -EIO : 0;
	case VHU_SET_FEATURES: {
		uint64_t f = get64(m, 0); /* a u64 payload */
		if (f & ~s->features_offered)
			return refuse(s, "SET_FEATURES: 0x%llx not offered",
			              (unsigned long long)(f & ~s->features_offered));
		if (d->active && f != s->features_acked)
			return refuse(s, "SET_FEATURES: features changed while rings run");
		s->features_acked = f;
		s->features_set = true;
		d->driver_features = f & ~(1ull << VHU_F_PROTOCOL_FEATURES);
		return 0;
	}
	case VHU_GET_PROTOCOL_FEATURES:
		return reply_u64(s, m, s->proto_offered) < 0 ? -EIO : 0;
	case VHU_SET_PROTOCOL_FEATURES: {
		uint64_t f = get64(m, 0);
		if (f & ~s->proto_offered)
			return refuse(s, "SET_PROTOCOL_FEATURES: 0x%llx not offered",
			              (unsigned long long)(f & ~s->proto_offered));
		s->proto_acked = f;
		return 0;
	}
	case VHU_SET_OWNER:
		return 0;
	case VHU_RESET_OWNER:
		/* Deprecated "forget the session"; the connection stays. */
		reset_session(s);
		return 0;
	case VHU_SET_MEM_TABLE:
		return set_mem_table(s, m, fds, nfds);
	case VHU_SET_VRING_NUM:
		if (vring_state(s, m, "SET_VRING_NUM", &q, &num) < 0)
			return -EINVAL;
		if (s->vring[q].started)
			return refuse(s, "SET_VRING_NUM: ring %u is running", q);
		/* Not d->ops->queue_max: vhost-user cannot tell the front end a
		 * maximum, and virtio_uml always asks for 256 (the balloon core
		 * advertises 128 on virtio-mmio). The walker is bounded for any size. */
		if (num == 0 || (num & (num - 1)) || num > VHU_MAX_QUEUE_SIZE)
			return refuse(s, "SET_VRING_NUM: size %u (a power of two up to %u)", num,
			              VHU_MAX_QUEUE_SIZE);
		s->vring[q].num = (uint16_t)num;
		s->vring[q].num_set = true;
		memset(&d->vq[q], 0, sizeof(d->vq[q]));
		return 0;
	case VHU_SET_VRING_BASE:
		if (vring_state(s, m, "SET_VRING_BASE", &q, &num) < 0)
			return -EINVAL;
		if (s->vring[q].started)
			return refuse(s, "SET_VRING_BASE: ring %u is running", q);
		if (num > 0xffff)
			return refuse(s, "SET_VRING_BASE: base %u", num);
		s->vring[q].base = (uint16_t)num;
		memset(&d->vq[q], 0, sizeof(d->vq[q]));
		return 0;
	case VHU_GET_VRING_BASE: {
		if (vring_state(s, m, "GET_VRING_BASE", &q, &num) < 0)
			return -EINVAL;
		/* Stops the ring: a new SET_VRING_KICK starts it again. */
		stop_ring(s, q);
		close_fd(&s->vring[q].kick_fd);
		s->vring[q].kick_set = false;
		uint8_t st[VHU_STATE_SIZE];
		le32_put(st + VHU_STATE_INDEX, q);
		le32_put(st + VHU_STATE_NUM, s->vring[q].base);
		return reply(s, m, st, sizeof(st)) < 0 ? -EIO : 0;
	}
	case VHU_SET_VRING_ADDR: {
		int i = ring_index(s, get32(m, VHU_ADDR_INDEX), "SET_VRING_ADDR");
		if (i < 0)
			return i;
		q = (unsigned)i;
		struct vhu_vring *r = &s->vring[q];
		if (get32(m, VHU_ADDR_FLAGS) != 0)
			return refuse(s, "SET_VRING_ADDR: flags 0x%x (no dirty logging here)",
			              get32(m, VHU_ADDR_FLAGS));
		if (!s->mem_set)
			return refuse(s, "SET_VRING_ADDR before SET_MEM_TABLE");
		if (r->started)
			return refuse(s, "SET_VRING_ADDR: ring %u is running", q);
		struct vhu_vring saved = *r;
		r->desc_user = get64(m, VHU_ADDR_DESC);
		r->used_user = get64(m, VHU_ADDR_USED);
		r->avail_user = get64(m, VHU_ADDR_AVAIL);
		uint64_t gpa;
		bool ok = user_to_gpa(s, r->desc_user, &gpa) && user_to_gpa(s, r->avail_user, &gpa) &&
		          user_to_gpa(s, r->used_user, &gpa);
		if (!ok || (r->num_set && ring_layout(s, q, NULL) < 0)) {
			*r = saved;
			return ok ? -EINVAL : refuse(s, "SET_VRING_ADDR: ring %u outside the memory table", q);
		}
		r->addr_set = true;
		memset(&d->vq[q], 0, sizeof(d->vq[q]));
		return 0;
	}
	case VHU_SET_VRING_KICK:
		return vring_fd(s, m, fds, nfds, "SET_VRING_KICK");
	case VHU_SET_VRING_CALL:
		return vring_fd(s, m, fds, nfds, "SET_VRING_CALL");
	case VHU_SET_VRING_ERR:
		return vring_fd(s, m, fds, nfds, "SET_VRING_ERR");
	case VHU_GET_QUEUE_NUM:
		return reply_u64(s, m, d->ops->num_queues) < 0 ? -EIO : 0;
	case VHU_SET_VRING_ENABLE:
		if (vring_state(s, m, "SET_VRING_ENABLE", &q, &num) < 0)
			return -EINVAL;
		if (!protocol_features_negotiated(s))
			return refuse(s, "SET_VRING_ENABLE without VHOST_USER_F_PROTOCOL_FEATURES");
		if (num > 1)
			return refuse(s, "SET_VRING_ENABLE: %u", num);
		s->vring[q].enabled = num;
		if (!num) {
			if (s->vring[q].started)
				stop_ring(s, q);
			return 0;
		}
		return try_start(s, q);
	case VHU_SET_SLAVE_REQ_FD:
		if (!proto_acked(s, VHU_PROTOCOL_F_SLAVE_REQ))
			return refuse(s, "SET_SLAVE_REQ_FD without VHOST_USER_PROTOCOL_F_SLAVE_REQ");
		if (nfds != 1)
			return refuse(s, "SET_SLAVE_REQ_FD: %u fds", nfds);
		close_fd(&s->slave_fd);
		s->slave_fd = fds[0];
		fds[0] = -1;
		set_nonblock(s->slave_fd);
		return 0;
	case VHU_GET_CONFIG:
		return get_config(s, m);
	case VHU_SET_CONFIG:
		return set_config(s, m);
	default:
		return refuse(s, "unknown request %u", m->request);
	}
}

/* ---- reading one message ---- */

/* Read exactly len bytes, collecting any fds that ride along. The first
 * read may block (poll said readable); later ones wait at most the body
 * timeout. Returns 1, 0 at a clean end of stream before any byte, -1 on a
 * broken or stalled stream. */
static int read_part(struct vhu_server *s, uint8_t *buf, size_t len, int *fds, unsigned *nfds,
                     bool may_eof)
{
	size_t got = 0;
	while (got < len) {
		if (got > 0 || !may_eof) {
			struct pollfd pfd = { s->conn_fd, POLLIN, 0 };
			int r = poll(&pfd, 1, s->body_timeout_ms);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				refuse(s, "front end stalled in the middle of a message");
				return -1;
			}
		}
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * VHU_MAX_FDS)];
		} ctl;
		struct iovec iov = { buf + got, len - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
		                     .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(s->conn_fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (unsigned i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (*nfds < VHU_MAX_FDS)
					fds[(*nfds)++] = fd;
				else
					close(fd);
			}
		}
		if (mh.msg_flags & MSG_CTRUNC) {
			refuse(s, "more than %u fds attached to one message", VHU_MAX_FDS);
			return -1;
		}
		if (n == 0) {
			if (got == 0 && may_eof)
				return 0;
			refuse(s, "front end closed in the middle of a message");
			return -1;
		}
		got += (size_t)n;
	}
	return 1;
}

/* Handle one complete message and send any ack. Returns 1 to go on, 0 when
 * the connection must close. */
static int dispatch(struct vhu_server *s, struct vhu_msg *msg, int *fds, unsigned nfds)
{
	s->messages++;
	int rc = handle(s, msg, fds, nfds);
	if (rc == -EIO)
		return 0;
	bool want_ack = (msg->flags & VHU_FLAG_NEED_REPLY) && proto_acked(s, VHU_PROTOCOL_F_REPLY_ACK) &&
	                !has_inherent_reply(msg->request);
	if (rc < 0 && !want_ack)
		return 0; /* the front end cannot learn of the failure: close */
	if (want_ack && reply_u64(s, msg, rc < 0 ? 1 : 0) < 0)
		return 0;
	return 1;
}

static bool header_ok(struct vhu_server *s, const struct vhu_msg *msg)
{
	if ((msg->flags & VHU_VERSION_MASK) != VHU_VERSION || (msg->flags & VHU_FLAG_REPLY)) {
		refuse(s, "header flags 0x%x: not a version-1 request", msg->flags);
		return false;
	}
	if (msg->size > VHU_MAX_PAYLOAD) {
		refuse(s, "request %u: payload of %u bytes is beyond any request", msg->request,
		       msg->size);
		return false;
	}
	return true;
}

/* A message as a recording holds it: the number of fds that came with it,
 * then the header and payload as sent. */
static void dispatch_recorded(struct vhu_server *s, struct vhu_msg *msg, int *fds,
                              unsigned nfds, int *result)
{
	if (!s->have_sink) {
		*result = dispatch(s, msg, fds, nfds);
		return;
	}
	uint8_t *rec = malloc(1 + VHU_HDR_SIZE + msg->size);
	vhu_event_begin(s);
	*result = dispatch(s, msg, fds, nfds);
	if (rec) {
		rec[0] = (uint8_t)nfds;
		hdr_put(rec + 1, msg->request, msg->flags, msg->size);
		memcpy(rec + 1 + VHU_HDR_SIZE, msg->p.b, msg->size);
		size_t n = 1 + VHU_HDR_SIZE + msg->size;
		vhu_event_end(s, EVN_VHOST_USER, rec, n, n);
		free(rec);
	}
}

/* Read and handle one message. Returns 1 to go on, 0 when the front end left
 * or the connection must close. */
static int serve_one(struct vhu_server *s)
{
	struct vhu_msg m;
	struct vhu_msg *msg = &m;
	int fds[VHU_MAX_FDS];
	unsigned nfds = 0;
	uint8_t hdr[VHU_HDR_SIZE];
	int rc = read_part(s, hdr, sizeof(hdr), fds, &nfds, true);
	int result = 0;
	if (rc <= 0)
		goto out;
	hdr_get(hdr, msg);
	if (!header_ok(s, msg))
		goto out;
	if (msg->size && read_part(s, msg->p.b, msg->size, fds, &nfds, false) <= 0)
		goto out;
	dispatch_recorded(s, msg, fds, nfds, &result);
out:
	for (unsigned i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return result;
}

int vhu_handle_message(struct vhu_server *s, const void *data, size_t len, int *fds,
                       unsigned nfds)
{
	struct vhu_msg *msg = malloc(sizeof(*msg));
	int result = 0;
	if (!msg)
		goto out;
	if (len < VHU_HDR_SIZE || nfds > VHU_MAX_FDS)
		goto out;
	hdr_get(data, msg);
	if (!header_ok(s, msg) || msg->size != len - VHU_HDR_SIZE)
		goto out;
	memcpy(msg->p.b, (const uint8_t *)data + VHU_HDR_SIZE, msg->size);
	result = dispatch(s, msg, fds, nfds);
out:
	for (unsigned i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(msg);
	return result;
}

void vhu_kick(struct vhu_server *s, unsigned q)
{
	struct virtio_device *d = s->dev;
	uint8_t b = (uint8_t)q;
	vhu_event_begin(s);
	s->kicks++;
	if (q < d->ops->num_queues && s->vring[q].started && d->active && d->ops->queue_notify)
		d->ops->queue_notify(d, q);
	vhu_event_end(s, EVN_KICK, &b, 1, 1);
}

void vhu_end_session(struct vhu_server *s)
{
	uint8_t b = 0;
	vhu_event_begin(s);
	reset_session(s);
	vhu_event_end(s, EVN_DISCONNECT, &b, 1, 1);
}

void vhu_set_sink(struct vhu_server *s, const struct ev_sink *sink)
{
	s->have_sink = sink != NULL;
	if (sink)
		s->sink = *sink;
	s->obs = sink ? (struct gm_observer){ sink->ctx, sink->mem_read, sink->mem_write }
	              : (struct gm_observer){ 0 };
	s->mem.obs = s->obs;
}

/* ---- the loop ---- */

static void drain(int fd)
{
	uint64_t v;
	ssize_t n;
	do {
		n = read(fd, &v, sizeof(v));
	} while (n > 0 || (n < 0 && errno == EINTR));
}

int vhu_serve(struct vhu_server *s, int conn_fd)
{
	struct virtio_device *d = s->dev;
	unsigned nq = d->ops->num_queues;
	int result = 0;
	s->conn_fd = conn_fd;
	s->connections++;
	while (!s->stopping) {
		struct pollfd pfd[2 + VIRTIO_MAX_QUEUES + VHU_MAX_WATCHES];
		int who[2 + VIRTIO_MAX_QUEUES + VHU_MAX_WATCHES];
		unsigned n = 0;
		bool polling = false;
		pfd[n] = (struct pollfd){ s->conn_fd, POLLIN, 0 };
		who[n++] = -1;
		pfd[n] = (struct pollfd){ s->wake[0], POLLIN, 0 };
		who[n++] = -2;
		for (unsigned q = 0; q < nq; q++) {
			if (!s->vring[q].started)
				continue;
			if (s->vring[q].kick_fd < 0) {
				polling = true;
				continue;
			}
			pfd[n] = (struct pollfd){ s->vring[q].kick_fd, POLLIN, 0 };
			who[n++] = (int)q;
		}
		for (unsigned w = 0; w < s->nwatch; w++) {
			if (!s->watch[w].enabled)
				continue;
			pfd[n] = (struct pollfd){ s->watch[w].fd, s->watch[w].events, 0 };
			who[n++] = 100 + (int)w;
		}
		int r = poll(pfd, n, polling ? VHU_POLL_MS : -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_err("vhost-user: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents) {
			drain(s->wake[0]);
			continue; /* the loop condition sees stopping */
		}
		/* Kicks first: a message may stop or replace the ring's fd. */
		for (unsigned i = 2; i < n; i++) {
			if (!pfd[i].revents || who[i] >= 100)
				continue;
			unsigned q = (unsigned)who[i];
			if (!s->vring[q].started || s->vring[q].kick_fd != pfd[i].fd)
				continue;
			drain(pfd[i].fd);
			vhu_kick(s, q);
		}
		if (polling && d->active && d->ops->queue_notify) {
			/* A polled ring's look is a kick of its own (recordings too). */
			for (unsigned q = 0; q < nq; q++)
				if (s->vring[q].started && s->vring[q].kick_fd < 0)
					vhu_kick(s, q);
		}
		for (unsigned i = 2; i < n; i++) {
			if (pfd[i].revents && who[i] >= 100) {
				unsigned w = (unsigned)(who[i] - 100);
				if (s->watch[w].enabled && s->watch[w].fd == pfd[i].fd)
					s->watch[w].fn(s->watch[w].ctx, pfd[i].fd, pfd[i].revents);
			}
		}
		if (pfd[0].revents && !serve_one(s))
			break;
	}
	if (s->stopping)
		result = 1;
	vhu_end_session(s);
	close_fd(&s->conn_fd);
	return result;
}

int vhu_run(struct vhu_server *s, bool once)
{
	while (!s->stopping) {
		struct pollfd pfd[2] = { { s->listen_fd, POLLIN, 0 }, { s->wake[0], POLLIN, 0 } };
		int r = poll(pfd, 2, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (pfd[1].revents) {
			drain(s->wake[0]);
			continue;
		}
		int c = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
				continue;
			return -errno;
		}
		log_info("vhost-user %s: front end connected", s->dev->ops->name);
		vhu_serve(s, c);
		log_info("vhost-user %s: front end gone (%llu messages, %llu refused)",
		         s->dev->ops->name, s->messages, s->refused);
		if (once)
			break;
	}
	return 0;
}

void vhu_stop(struct vhu_server *s)
{
	s->stopping = 1;
	ssize_t n = write(s->wake[1], "x", 1);
	(void)n;
}

int vhu_init(struct vhu_server *s, struct virtio_device *dev)
{
	memset(s, 0, sizeof(*s));
	s->dev = dev;
	s->listen_fd = s->conn_fd = s->slave_fd = -1;
	s->mem.fd = -1;
	s->body_timeout_ms = VHU_BODY_TIMEOUT_MS;
	s->wake[0] = s->wake[1] = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		s->vring[q].kick_fd = s->vring[q].call_fd = s->vring[q].err_fd = -1;
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	if (dev->ops->num_queues == 0 || dev->ops->num_queues > VIRTIO_MAX_QUEUES) {
		vhu_destroy(s);
		return -EINVAL;
	}
	s->features_offered = dev->ops->features | (1ull << VIRTIO_F_VERSION_1) |
	                      (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_EVENT_IDX) |
	                      (1ull << VHU_F_PROTOCOL_FEATURES);
	/* MQ only answers GET_QUEUE_NUM; SLAVE_REQ carries config-change
	 * notifications; CONFIG lets front ends read config space at all. */
	s->proto_offered = (1ull << VHU_PROTOCOL_F_MQ) | (1ull << VHU_PROTOCOL_F_REPLY_ACK) |
	                   (1ull << VHU_PROTOCOL_F_SLAVE_REQ) | (1ull << VHU_PROTOCOL_F_CONFIG);
	dev->mem = &s->mem;
	dev->frontend = s;
	dev->signal_used = cb_signal_used;
	dev->signal_config = cb_signal_config;
	dev->signal_needs_reset = cb_signal_needs_reset;
	return 0;
}

int vhu_listen(struct vhu_server *s, const char *path)
{
	int fd = unix_listen(path, 1, 0);
	if (fd < 0)
		return fd;
	close_fd(&s->listen_fd);
	s->listen_fd = fd;
	return 0;
}

void vhu_destroy(struct vhu_server *s)
{
	if (s->dev)
		reset_session(s);
	close_fd(&s->conn_fd);
	close_fd(&s->listen_fd);
	close_fd(&s->wake[0]);
	close_fd(&s->wake[1]);
}

int vhu_add_watch(struct vhu_server *s, int fd, short events, vhu_watch_fn fn, void *ctx)
{
	if (s->nwatch >= VHU_MAX_WATCHES)
		return -ENOSPC;
	unsigned w = s->nwatch++;
	s->watch[w].fd = fd;
	s->watch[w].events = events;
	s->watch[w].enabled = true;
	s->watch[w].fn = fn;
	s->watch[w].ctx = ctx;
	return (int)w;
}

void vhu_watch_enable(struct vhu_server *s, int id, bool enabled)
{
	if (id >= 0 && (unsigned)id < s->nwatch)
		s->watch[id].enabled = enabled;
}
