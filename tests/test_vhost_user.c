/* devices/vhost_user: this test is the front end. It speaks the protocol over
 * a Unix socket to servers running in threads (one serving virtio-blk, one
 * virtio-rng): memfd guest memory, split rings it fills itself, kick and call
 * eventfds. Block and rng end to end, then hostile and malformed messages,
 * each answered with a non-zero REPLY_ACK or a closed socket, and the server
 * still serving the next front end afterwards. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/block.h"
#include "devices/rng.h"
#include "devices/vhost_user.h"

#define MEM_SIZE (1u << 20)
#define MEM_GPA 0x100000ull
/* Deliberately unlike the gpa: ring addresses must be translated. */
#define MEM_UA 0x7f1200000000ull
#define QSZ 16
#define RING(q) (MEM_GPA + (uint64_t)(q) * 0x4000)
#define HEAP (MEM_GPA + 0x40000)
#define DISK_SECTORS 64

struct server {
	struct vhu_server s;
	pthread_t thread;
	char path[108];
};

static struct server blk_srv, rng_srv;
static struct virtio_block blk;
static struct virtio_rng rng;
static char dir[64], disk_path[128];
static int disk_fd = -1;

struct fe {
	int sock;
	int memfd;
	uint8_t *mem;
	int kick[2], call[2];
	uint16_t avail_idx[2], used_seen[2];
	uint64_t heap;
	uint64_t features;
};

static void *serve(void *arg)
{
	struct server *sv = arg;
	vhu_run(&sv->s, false);
	return NULL;
}

static int counting_entropy(void *ctx, void *buf, size_t len)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(0xa5 ^ i);
	return 0;
}

static void start_server(struct server *sv, struct virtio_device *dev, const char *name)
{
	assert_int_equal(vhu_init(&sv->s, dev), 0);
	sv->s.body_timeout_ms = 200; /* the stalled-message test waits this long */
	snprintf(sv->path, sizeof(sv->path), "%s/%s.sock", dir, name);
	assert_int_equal(vhu_listen(&sv->s, sv->path), 0);
	assert_int_equal(pthread_create(&sv->thread, NULL, serve, sv), 0);
}

static int group_setup(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	strcpy(dir, "/tmp/vmm-vhu-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(disk_path, sizeof(disk_path), "%s/disk.img", dir);
	disk_fd = open(disk_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(disk_fd >= 0);
	assert_int_equal(ftruncate(disk_fd, DISK_SECTORS * 512), 0);
	assert_int_equal(virtio_block_init(&blk, disk_fd, BLOCK_DEV_READ_WRITE, "vhu-disk", NULL), 0);
	struct rng_host h = { NULL, counting_entropy };
	virtio_rng_init(&rng, &h);
	start_server(&blk_srv, &blk.dev, "blk");
	start_server(&rng_srv, &rng.dev, "rng");
	return 0;
}

static int group_teardown(void **state)
{
	struct server *all[] = { &blk_srv, &rng_srv };
	for (unsigned i = 0; i < 2; i++) {
		vhu_stop(&all[i]->s);
		pthread_join(all[i]->thread, NULL);
		vhu_destroy(&all[i]->s);
		unlink(all[i]->path);
	}
	virtio_block_destroy(&blk);
	close(disk_fd);
	unlink(disk_path);
	rmdir(dir);
	return 0;
}

/* ---- the wire ---- */

static int fe_connect(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void raw_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int) * 16)];
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds) {
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	/* A server that already closed may refuse the rest: that is an outcome
	 * the callers check, not an error here. */
	ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	(void)n;
}

static void msg_send(int sock, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
                     const int *fds, unsigned nfds)
{
	uint8_t buf[VHU_HDR_SIZE + 512];
	uint32_t hdr[3] = { req, VHU_VERSION | flags, size };
	memcpy(buf, hdr, sizeof(hdr));
	if (size)
		memcpy(buf + VHU_HDR_SIZE, payload, size);
	raw_send(sock, buf, VHU_HDR_SIZE + size, fds, nfds);
}

/* One reply: 0 and its payload, or -1 if the server closed the connection
 * (or said nothing within 2 s). */
static int msg_recv(int sock, uint32_t req, void *payload, uint32_t *size)
{
	uint8_t buf[VHU_HDR_SIZE + 512];
	size_t got = 0, want = VHU_HDR_SIZE;
	while (got < want) {
		struct pollfd p = { sock, POLLIN, 0 };
		if (poll(&p, 1, 2000) <= 0)
			return -1;
		ssize_t n = recv(sock, buf + got, want - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		if (got == VHU_HDR_SIZE) {
			uint32_t hdr[3];
			memcpy(hdr, buf, sizeof(hdr));
			assert_int_equal(hdr[0], req);
			assert_int_equal(hdr[1], VHU_VERSION | VHU_FLAG_REPLY);
			assert_true(hdr[2] <= 512);
			want += hdr[2];
		}
	}
	*size = (uint32_t)(want - VHU_HDR_SIZE);
	memcpy(payload, buf + VHU_HDR_SIZE, *size);
	return 0;
}

/* Send with NEED_REPLY and return the ack (0 success), or -1 if closed. */
static long long acked(int sock, uint32_t req, const void *payload, uint32_t size, const int *fds,
                       unsigned nfds)
{
	msg_send(sock, req, VHU_FLAG_NEED_REPLY, payload, size, fds, nfds);
	uint64_t v;
	uint32_t n;
	if (msg_recv(sock, req, &v, &n) < 0)
		return -1;
	assert_int_equal(n, 8);
	return (long long)v;
}

static uint64_t get_u64(int sock, uint32_t req)
{
	msg_send(sock, req, 0, NULL, 0, NULL, 0);
	uint64_t v = 0;
	uint32_t n = 0;
	assert_int_equal(msg_recv(sock, req, &v, &n), 0);
	assert_int_equal(n, 8);
	return v;
}

/* The server closed the connection: recv sees end of stream within 2 s, or
 * ECONNRESET when the server closed with our bytes still unread. */
static bool closed(int sock)
{
	char c;
	struct pollfd p = { sock, POLLIN, 0 };
	if (poll(&p, 1, 2000) <= 0)
		return false;
	ssize_t n = recv(sock, &c, 1, 0);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void assert_server_alive(const char *path)
{
	int s = fe_connect(path);
	uint64_t f = get_u64(s, VHU_GET_FEATURES);
	assert_true(f & (1ull << VIRTIO_F_VERSION_1));
	close(s);
}

/* ---- a front end with memory and rings ---- */

static void fe_open(struct fe *f, const char *path)
{
	memset(f, 0, sizeof(*f));
	f->sock = fe_connect(path);
	f->memfd = memfd_create("fe-mem", MFD_CLOEXEC);
	assert_true(f->memfd >= 0);
	assert_int_equal(ftruncate(f->memfd, MEM_SIZE), 0);
	f->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	assert_true(f->mem != MAP_FAILED);
	f->heap = HEAP;
	for (int q = 0; q < 2; q++) {
		f->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		f->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	}
}

static void fe_close(struct fe *f)
{
	close(f->sock);
	munmap(f->mem, MEM_SIZE);
	close(f->memfd);
	for (int q = 0; q < 2; q++) {
		close(f->kick[q]);
		close(f->call[q]);
	}
}

static void *gpa_ptr(struct fe *f, uint64_t gpa) { return f->mem + (gpa - MEM_GPA); }

static void negotiate(struct fe *f)
{
	msg_send(f->sock, VHU_SET_OWNER, 0, NULL, 0, NULL, 0);
	uint64_t feat = get_u64(f->sock, VHU_GET_FEATURES);
	assert_true(feat & (1ull << VHU_F_PROTOCOL_FEATURES));
	uint64_t proto = get_u64(f->sock, VHU_GET_PROTOCOL_FEATURES);
	assert_true(proto & (1ull << VHU_PROTOCOL_F_REPLY_ACK));
	uint64_t want = (1ull << VHU_PROTOCOL_F_REPLY_ACK) | (1ull << VHU_PROTOCOL_F_CONFIG);
	msg_send(f->sock, VHU_SET_PROTOCOL_FEATURES, 0, &want, 8, NULL, 0);
	f->features = feat & ~(1ull << VIRTIO_F_EVENT_IDX);
	assert_int_equal(acked(f->sock, VHU_SET_FEATURES, &f->features, 8, NULL, 0), 0);
}

static void mem_table_payload(uint8_t *p, uint32_t n, uint64_t gpa, uint64_t size, uint64_t ua,
                              uint64_t off)
{
	memset(p, 0, 8 + 32 * n);
	memcpy(p, &n, 4);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t r[4] = { gpa + i * size, size, ua + i * size, off };
		memcpy(p + 8 + 32 * i, r, 32);
	}
}

static long long set_mem(struct fe *f)
{
	uint8_t p[8 + 32];
	mem_table_payload(p, 1, MEM_GPA, MEM_SIZE, MEM_UA, 0);
	return acked(f->sock, VHU_SET_MEM_TABLE, p, sizeof(p), &f->memfd, 1);
}

static long long set_addr(struct fe *f, unsigned q, uint64_t desc_gpa)
{
	uint64_t ua = MEM_UA - MEM_GPA;
	uint8_t p[40] = { 0 };
	uint32_t idx = q;
	uint64_t a[4] = { ua + desc_gpa, ua + RING(q) + 0x2000, ua + RING(q) + 0x1000, 0 };
	memcpy(p, &idx, 4);
	memcpy(p + 8, a, 32);
	return acked(f->sock, VHU_SET_VRING_ADDR, p, sizeof(p), NULL, 0);
}

static long long vring_state(struct fe *f, uint32_t req, uint32_t q, uint32_t num)
{
	uint32_t p[2] = { q, num };
	return acked(f->sock, req, p, sizeof(p), NULL, 0);
}

static void setup_rings(struct fe *f, unsigned nq)
{
	assert_int_equal(set_mem(f), 0);
	for (unsigned q = 0; q < nq; q++) {
		assert_int_equal(vring_state(f, VHU_SET_VRING_NUM, q, QSZ), 0);
		assert_int_equal(vring_state(f, VHU_SET_VRING_BASE, q, 0), 0);
		assert_int_equal(set_addr(f, q, RING(q)), 0);
		uint64_t idx = q;
		assert_int_equal(acked(f->sock, VHU_SET_VRING_CALL, &idx, 8, &f->call[q], 1), 0);
		assert_int_equal(acked(f->sock, VHU_SET_VRING_KICK, &idx, 8, &f->kick[q], 1), 0);
		assert_int_equal(vring_state(f, VHU_SET_VRING_ENABLE, q, 1), 0);
	}
}

static uint64_t alloc(struct fe *f, uint32_t len)
{
	uint64_t g = f->heap;
	f->heap += (len + 15) & ~15u;
	assert_true(f->heap <= MEM_GPA + MEM_SIZE);
	memset(gpa_ptr(f, g), 0, len);
	return g;
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* Put a chain on ring q, kick, wait for the call, return the used length. */
static uint32_t submit(struct fe *f, unsigned q, const struct seg *s, unsigned n)
{
	uint8_t *desc = gpa_ptr(f, RING(q)), *avail = gpa_ptr(f, RING(q) + 0x1000),
	        *used = gpa_ptr(f, RING(q) + 0x2000);
	uint16_t head = (uint16_t)(f->avail_idx[q] * 4 % QSZ);
	for (unsigned i = 0; i < n; i++) {
		uint16_t d = (uint16_t)(head + i), flags = (uint16_t)(s[i].writable ? VIRTQ_DESC_F_WRITE : 0);
		uint16_t next = (uint16_t)(d + 1);
		if (i + 1 < n)
			flags |= VIRTQ_DESC_F_NEXT;
		memcpy(desc + 16 * d, &s[i].gpa, 8);
		memcpy(desc + 16 * d + 8, &s[i].len, 4);
		memcpy(desc + 16 * d + 12, &flags, 2);
		memcpy(desc + 16 * d + 14, &next, 2);
	}
	memcpy(avail + 4 + 2 * (f->avail_idx[q] % QSZ), &head, 2);
	f->avail_idx[q]++;
	__atomic_store_n((uint16_t *)(avail + 2), f->avail_idx[q], __ATOMIC_RELEASE);
	uint64_t one = 1;
	assert_int_equal(write(f->kick[q], &one, 8), 8);
	/* The used entry is published before the call is written. */
	struct pollfd p = { f->call[q], POLLIN, 0 };
	assert_int_equal(poll(&p, 1, 2000), 1);
	uint64_t v;
	assert_int_equal(read(f->call[q], &v, 8), 8);
	uint16_t uidx = __atomic_load_n((uint16_t *)(used + 2), __ATOMIC_ACQUIRE);
	assert_int_equal(uidx, (uint16_t)(f->used_seen[q] + 1));
	uint32_t id, len;
	memcpy(&id, used + 4 + 8 * (f->used_seen[q] % QSZ), 4);
	memcpy(&len, used + 8 + 8 * (f->used_seen[q] % QSZ), 4);
	f->used_seen[q]++;
	assert_int_equal(id, head);
	return len;
}

static uint8_t blk_request(struct fe *f, uint32_t type, uint64_t sector, uint64_t data,
                           uint32_t len, bool writable)
{
	uint64_t hdr = alloc(f, 16), st = alloc(f, 1);
	uint32_t h[4] = { type, 0, (uint32_t)sector, (uint32_t)(sector >> 32) };
	memcpy(gpa_ptr(f, hdr), h, 16);
	*(uint8_t *)gpa_ptr(f, st) = 0xee;
	struct seg s[3] = { { hdr, 16, false } };
	unsigned n = 1;
	if (len)
		s[n++] = (struct seg){ data, len, writable };
	s[n++] = (struct seg){ st, 1, true };
	submit(f, 0, s, n);
	return *(uint8_t *)gpa_ptr(f, st);
}

/* ---- end to end ---- */

static void test_block_end_to_end(void **state)
{
	struct fe f;
	fe_open(&f, blk_srv.path);
	negotiate(&f);
	setup_rings(&f, 1);
	/* Config space through GET_CONFIG: capacity in sectors. */
	uint8_t cfg[12 + 8] = { 0 };
	uint32_t csz = 8;
	memcpy(cfg + 4, &csz, 4);
	msg_send(f.sock, VHU_GET_CONFIG, 0, cfg, sizeof(cfg), NULL, 0);
	uint8_t back[512];
	uint32_t n;
	assert_int_equal(msg_recv(f.sock, VHU_GET_CONFIG, back, &n), 0);
	assert_int_equal(n, 20);
	uint64_t cap;
	memcpy(&cap, back + 12, 8);
	assert_int_equal(cap, DISK_SECTORS);

	uint64_t w = alloc(&f, 512), r = alloc(&f, 512);
	memset(gpa_ptr(&f, w), 'Q', 512);
	assert_int_equal(blk_request(&f, VIRTIO_BLK_T_OUT, 5, w, 512, false), VIRTIO_BLK_S_OK);
	uint8_t host[512];
	assert_int_equal(pread(disk_fd, host, 512, 5 * 512), 512);
	assert_memory_equal(host, gpa_ptr(&f, w), 512);
	assert_int_equal(blk_request(&f, VIRTIO_BLK_T_IN, 5, r, 512, true), VIRTIO_BLK_S_OK);
	assert_memory_equal(gpa_ptr(&f, r), gpa_ptr(&f, w), 512);
	unsigned long long flushes = blk.flushes;
	assert_int_equal(blk_request(&f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false), VIRTIO_BLK_S_OK);
	assert_int_equal(blk.flushes, flushes + 1);
	uint64_t id = alloc(&f, 20);
	assert_int_equal(blk_request(&f, VIRTIO_BLK_T_GET_ID, 0, id, 20, true), VIRTIO_BLK_S_OK);
	assert_string_equal((char *)gpa_ptr(&f, id), "vhu-disk");
	/* Beyond the disk: an error status, not a crash. */
	assert_int_equal(blk_request(&f, VIRTIO_BLK_T_IN, DISK_SECTORS, r, 512, true),
	                 VIRTIO_BLK_S_IOERR);

	/* GET_VRING_BASE stops the ring and says where it stopped. */
	uint32_t st[2] = { 0, 0 };
	msg_send(f.sock, VHU_GET_VRING_BASE, 0, st, 8, NULL, 0);
	assert_int_equal(msg_recv(f.sock, VHU_GET_VRING_BASE, st, &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(st[1], 5);
	fe_close(&f);

	/* A second front end after the first left: the device was reset and
	 * serves again; the data is still on the disk. */
	fe_open(&f, blk_srv.path);
	negotiate(&f);
	setup_rings(&f, 1);
	r = alloc(&f, 512);
	assert_int_equal(blk_request(&f, VIRTIO_BLK_T_IN, 5, r, 512, true), VIRTIO_BLK_S_OK);
	assert_int_equal(((uint8_t *)gpa_ptr(&f, r))[511], 'Q');
	fe_close(&f);
}

static void test_rng_end_to_end(void **state)
{
	struct fe f;
	fe_open(&f, rng_srv.path);
	negotiate(&f);
	setup_rings(&f, 1);
	uint64_t b = alloc(&f, 64);
	struct seg s = { b, 64, true };
	assert_int_equal(submit(&f, 0, &s, 1), 64);
	uint8_t *p = gpa_ptr(&f, b);
	assert_int_equal(p[0], 0xa5);
	assert_int_equal(p[63], 0xa5 ^ 63);
	/* Config space is empty; reading it answers zeros of the size asked. */
	uint8_t cfg[12 + 4] = { 0 };
	uint32_t csz = 4, n;
	memcpy(cfg + 4, &csz, 4);
	msg_send(f.sock, VHU_GET_CONFIG, 0, cfg, sizeof(cfg), NULL, 0);
	uint8_t back[512];
	assert_int_equal(msg_recv(f.sock, VHU_GET_CONFIG, back, &n), 0);
	assert_int_equal(n, 16);
	fe_close(&f);
}

/* A front end that declares no PROTOCOL_FEATURES: rings start enabled, and
 * virtio_uml's full 8-slot SET_MEM_TABLE payload is accepted. */
static void test_without_protocol_features(void **state)
{
	struct fe f;
	fe_open(&f, rng_srv.path);
	uint64_t feat = get_u64(f.sock, VHU_GET_FEATURES) & ~(1ull << VHU_F_PROTOCOL_FEATURES);
	msg_send(f.sock, VHU_SET_FEATURES, 0, &feat, 8, NULL, 0);
	uint8_t p[8 + 32 * 8];
	mem_table_payload(p, 1, MEM_GPA, MEM_SIZE, MEM_UA, 0);
	memset(p + 40, 0, sizeof(p) - 40);
	msg_send(f.sock, VHU_SET_MEM_TABLE, 0, p, sizeof(p), &f.memfd, 1);
	uint32_t st[2] = { 0, QSZ };
	msg_send(f.sock, VHU_SET_VRING_NUM, 0, st, 8, NULL, 0);
	uint64_t ua = MEM_UA - MEM_GPA;
	uint8_t a[40] = { 0 };
	uint64_t addrs[4] = { ua + RING(0), ua + RING(0) + 0x2000, ua + RING(0) + 0x1000, ~0ull };
	memcpy(a + 8, addrs, 32);
	msg_send(f.sock, VHU_SET_VRING_ADDR, 0, a, 40, NULL, 0);
	uint64_t idx = 0;
	msg_send(f.sock, VHU_SET_VRING_CALL, 0, &idx, 8, &f.call[0], 1);
	msg_send(f.sock, VHU_SET_VRING_KICK, 0, &idx, 8, &f.kick[0], 1);
	uint64_t b = alloc(&f, 32);
	struct seg s = { b, 32, true };
	assert_int_equal(submit(&f, 0, &s, 1), 32);
	fe_close(&f);
}

/* ---- hostile front ends ---- */

/* Connected and negotiated with REPLY_ACK, nothing else. */
static void hostile_open(struct fe *f)
{
	fe_open(f, blk_srv.path);
	negotiate(f);
}

static void hostile_done(struct fe *f)
{
	fe_close(f);
	assert_server_alive(blk_srv.path);
}

static void test_short_message_closes(void **state)
{
	struct fe f;
	hostile_open(&f);
	raw_send(f.sock, "\x02\0\0\0\x01\0", 6, NULL, 0); /* half a header, then silence */
	assert_true(closed(f.sock));
	hostile_done(&f);

	hostile_open(&f);
	uint32_t hdr[3] = { VHU_SET_FEATURES, VHU_VERSION, 8 };
	raw_send(f.sock, hdr, sizeof(hdr), NULL, 0); /* header, no body */
	assert_true(closed(f.sock));
	hostile_done(&f);
}

static void test_bad_sizes(void **state)
{
	struct fe f;
	hostile_open(&f);
	uint64_t v = 0;
	assert_int_not_equal(acked(f.sock, VHU_SET_FEATURES, &v, 4, NULL, 0), 0);
	assert_int_not_equal(acked(f.sock, VHU_SET_VRING_NUM, &v, 8 - 1, NULL, 0), 0);
	assert_int_not_equal(acked(f.sock, VHU_SET_OWNER, &v, 8, NULL, 0), 0);
	/* GET_CONFIG whose declared config size disagrees with the payload:
	 * an empty reply. */
	uint8_t cfg[12 + 8] = { 0 };
	uint32_t csz = 200, n = 99;
	memcpy(cfg + 4, &csz, 4);
	msg_send(f.sock, VHU_GET_CONFIG, 0, cfg, sizeof(cfg), NULL, 0);
	uint8_t back[512];
	assert_int_equal(msg_recv(f.sock, VHU_GET_CONFIG, back, &n), 0);
	assert_int_equal(n, 0);
	/* Still talking after all that. */
	assert_true(get_u64(f.sock, VHU_GET_FEATURES) != 0);
	/* A payload bigger than any request: the stream cannot be trusted. */
	uint32_t hdr[3] = { VHU_SET_FEATURES, VHU_VERSION, 1u << 20 };
	raw_send(f.sock, hdr, sizeof(hdr), NULL, 0);
	assert_true(closed(f.sock));
	hostile_done(&f);

	/* Without NEED_REPLY a refused message closes the connection. */
	hostile_open(&f);
	msg_send(f.sock, VHU_SET_FEATURES, 0, &v, 4, NULL, 0);
	assert_true(closed(f.sock));
	hostile_done(&f);
}

static void test_bad_header(void **state)
{
	struct fe f;
	hostile_open(&f);
	uint32_t hdr[3] = { VHU_GET_FEATURES, 2 /* version 2 */, 0 };
	raw_send(f.sock, hdr, sizeof(hdr), NULL, 0);
	assert_true(closed(f.sock));
	hostile_done(&f);

	hostile_open(&f);
	uint32_t rep[3] = { VHU_GET_FEATURES, VHU_VERSION | VHU_FLAG_REPLY, 0 };
	raw_send(f.sock, rep, sizeof(rep), NULL, 0);
	assert_true(closed(f.sock));
	hostile_done(&f);
}

static void test_bad_memory_tables(void **state)
{
	struct fe f;
	hostile_open(&f);
	uint8_t p[8 + 32 * 9];
	int fds[9];
	for (int i = 0; i < 9; i++)
		fds[i] = f.memfd;
	/* Nine regions. */
	mem_table_payload(p, 9, MEM_GPA, 4096, MEM_UA, 0);
	assert_int_not_equal(acked(f.sock, VHU_SET_MEM_TABLE, p, 8 + 32 * 8, fds, 8), 0);
	/* Zero regions. */
	mem_table_payload(p, 0, MEM_GPA, 4096, MEM_UA, 0);
	assert_int_not_equal(acked(f.sock, VHU_SET_MEM_TABLE, p, 8, NULL, 0), 0);
	/* Two regions declared, payload for one. */
	mem_table_payload(p, 2, MEM_GPA, 4096, MEM_UA, 0);
	assert_int_not_equal(acked(f.sock, VHU_SET_MEM_TABLE, p, 8 + 32, fds, 2), 0);
	/* An fd missing, and one too many. */
	mem_table_payload(p, 2, MEM_GPA, 4096, MEM_UA, 0);
	assert_int_not_equal(acked(f.sock, VHU_SET_MEM_TABLE, p, 8 + 64, fds, 1), 0);
	mem_table_payload(p, 1, MEM_GPA, 4096, MEM_UA, 0);
	assert_int_not_equal(acked(f.sock, VHU_SET_MEM_TABLE, p, 8 + 32, fds, 2), 0);
	/* A region bigger than its file (would SIGBUS on first touch). */
	mem_table_payload(p, 1, MEM_GPA, 2 * MEM_SIZE, MEM_UA, 0);
	assert_int_not_equal(acked(f.sock, VHU_SET_MEM_TABLE, p, 8 + 32, fds, 1), 0);
	mem_table_payload(p, 1, MEM_GPA, MEM_SIZE, MEM_UA, 4096);
	assert_int_not_equal(acked(f.sock, VHU_SET_MEM_TABLE, p, 8 + 32, fds, 1), 0);
	/* Overlapping regions, and one whose end wraps. */
	mem_table_payload(p, 2, MEM_GPA, 8192, MEM_UA, 0);
	uint64_t gpa1 = MEM_GPA + 4096;
	memcpy(p + 8 + 32, &gpa1, 8);
	assert_int_not_equal(acked(f.sock, VHU_SET_MEM_TABLE, p, 8 + 64, fds, 2), 0);
	mem_table_payload(p, 1, ~0ull - 4095, 8192, MEM_UA, 0);
	assert_int_not_equal(acked(f.sock, VHU_SET_MEM_TABLE, p, 8 + 32, fds, 1), 0);
	/* A region fd that is not a file. */
	int efd = eventfd(0, EFD_CLOEXEC);
	mem_table_payload(p, 1, MEM_GPA, 4096, MEM_UA, 0);
	assert_int_not_equal(acked(f.sock, VHU_SET_MEM_TABLE, p, 8 + 32, &efd, 1), 0);
	close(efd);
	/* Fine after all that, with a page-unaligned mmap_offset too. */
	mem_table_payload(p, 1, MEM_GPA, MEM_SIZE - 4096, MEM_UA, 100);
	assert_int_equal(acked(f.sock, VHU_SET_MEM_TABLE, p, 8 + 32, fds, 1), 0);
	assert_int_equal(set_mem(&f), 0);
	hostile_done(&f);

	/* More fds than any message may carry: the connection closes. */
	hostile_open(&f);
	int many[12];
	for (int i = 0; i < 12; i++)
		many[i] = f.memfd;
	mem_table_payload(p, 1, MEM_GPA, MEM_SIZE, MEM_UA, 0);
	msg_send(f.sock, VHU_SET_MEM_TABLE, VHU_FLAG_NEED_REPLY, p, 8 + 32, many, 12);
	assert_true(closed(f.sock));
	hostile_done(&f);
}

static void test_bad_rings(void **state)
{
	struct fe f;
	hostile_open(&f);
	/* Ring set-up before SET_MEM_TABLE. */
	assert_int_equal(vring_state(&f, VHU_SET_VRING_NUM, 0, QSZ), 0);
	assert_int_not_equal(set_addr(&f, 0, RING(0)), 0);
	assert_int_equal(set_mem(&f), 0);
	/* Outside the table, straddling its end, misaligned. */
	assert_int_not_equal(set_addr(&f, 0, MEM_GPA + MEM_SIZE + 0x1000), 0);
	assert_int_not_equal(set_addr(&f, 0, MEM_GPA + MEM_SIZE - 16), 0);
	assert_int_not_equal(set_addr(&f, 0, RING(0) + 8), 0);
	/* Ring index out of range, sizes not a power of two or too large. */
	assert_int_not_equal(vring_state(&f, VHU_SET_VRING_NUM, 1, QSZ), 0);
	assert_int_not_equal(vring_state(&f, VHU_SET_VRING_NUM, 0, 3), 0);
	assert_int_not_equal(vring_state(&f, VHU_SET_VRING_NUM, 0, 0), 0);
	assert_int_not_equal(vring_state(&f, VHU_SET_VRING_NUM, 0, 4096), 0);
	assert_int_not_equal(vring_state(&f, VHU_SET_VRING_BASE, 0, 0x10000), 0);
	assert_int_not_equal(vring_state(&f, VHU_SET_VRING_ENABLE, 0, 2), 0);
	/* Kick without its fd; with an fd and the no-fd flag; unknown bits. */
	uint64_t idx = 0;
	assert_int_not_equal(acked(f.sock, VHU_SET_VRING_KICK, &idx, 8, NULL, 0), 0);
	idx = VHU_VRING_NOFD;
	assert_int_not_equal(acked(f.sock, VHU_SET_VRING_CALL, &idx, 8, &f.call[0], 1), 0);
	idx = 1ull << 20;
	assert_int_not_equal(acked(f.sock, VHU_SET_VRING_CALL, &idx, 8, &f.call[0], 1), 0);
	/* An fd on a message that takes none. */
	uint64_t feat = f.features;
	assert_int_not_equal(acked(f.sock, VHU_SET_FEATURES, &feat, 8, &f.call[0], 1), 0);
	/* Features never offered. */
	feat = 1ull << 60;
	assert_int_not_equal(acked(f.sock, VHU_SET_FEATURES, &feat, 8, NULL, 0), 0);
	/* The slave channel without negotiating it. */
	assert_int_not_equal(acked(f.sock, VHU_SET_SLAVE_REQ_FD, NULL, 0, &f.call[0], 1), 0);
	/* Unknown request: refused with NEED_REPLY... */
	assert_int_not_equal(acked(f.sock, 99, NULL, 0, NULL, 0), 0);
	/* ...and after all of it the rings still come up and work. */
	assert_int_equal(set_addr(&f, 0, RING(0)), 0);
	idx = 0;
	assert_int_equal(acked(f.sock, VHU_SET_VRING_CALL, &idx, 8, &f.call[0], 1), 0);
	assert_int_equal(acked(f.sock, VHU_SET_VRING_KICK, &idx, 8, &f.kick[0], 1), 0);
	assert_int_equal(vring_state(&f, VHU_SET_VRING_ENABLE, 0, 1), 0);
	/* A live ring cannot be moved or resized. */
	assert_int_not_equal(set_addr(&f, 0, RING(0)), 0);
	assert_int_not_equal(vring_state(&f, VHU_SET_VRING_NUM, 0, QSZ), 0);
	uint64_t d = alloc(&f, 512);
	assert_int_equal(blk_request(&f, VIRTIO_BLK_T_IN, 0, d, 512, true), VIRTIO_BLK_S_OK);
	/* ...and without NEED_REPLY, an unknown request closes. */
	msg_send(f.sock, 99, 0, NULL, 0, NULL, 0);
	assert_true(closed(f.sock));
	hostile_done(&f);
}

/* A memory table replaced under a live ring that no longer fits stops the
 * ring instead of letting the device touch unmapped memory. */
static void test_mem_table_replaced_under_live_ring(void **state)
{
	struct fe f;
	hostile_open(&f);
	setup_rings(&f, 1);
	uint8_t p[8 + 32];
	mem_table_payload(p, 1, MEM_GPA + MEM_SIZE, MEM_SIZE, MEM_UA + MEM_SIZE, 0);
	assert_int_equal(acked(f.sock, VHU_SET_MEM_TABLE, p, sizeof(p), &f.memfd, 1), 0);
	assert_int_equal(blk.dev.vq[0].size, 0);
	/* A kick now finds no live ring: nothing happens, nothing breaks. */
	uint64_t one = 1;
	assert_int_equal(write(f.kick[0], &one, 8), 8);
	assert_true(get_u64(f.sock, VHU_GET_FEATURES) != 0);
	hostile_done(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_end_to_end),
		cmocka_unit_test(test_rng_end_to_end),
		cmocka_unit_test(test_without_protocol_features),
		cmocka_unit_test(test_short_message_closes),
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_bad_memory_tables),
		cmocka_unit_test(test_bad_rings),
		cmocka_unit_test(test_mem_table_replaced_under_live_ring),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
