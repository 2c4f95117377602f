/* virtio-net: frames both ways, header handling, dropped (not truncated)
 * frames, buffer scarcity with rx_space retry, link status, hostile chains,
 * and a TAP round trip (ARP to the kernel) in a private network namespace. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/net.h"
#include "host/net_tap.h"
#include "lib/vdriver.h"

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static struct vdriver drv;
static struct virtio_net net;
static uint8_t sent[4][2048];
static size_t sent_len[4];
static int nsent, rx_space_calls;
static const uint8_t *held_frame; /* what the "vmm" keeps for a retry */
static size_t held_len;
static int tap_fd = -1;

static void send_frame(void *ctx, const void *frame, size_t len)
{
	if (tap_fd >= 0) {
		if (write(tap_fd, frame, len) != (ssize_t)len)
			fprintf(stderr, "tap write: %s\n", strerror(errno));
		return;
	}
	if (nsent < 4) {
		size_t n = len < sizeof(sent[0]) ? len : sizeof(sent[0]);
		memcpy(sent[nsent], frame, n);
		sent_len[nsent] = len;
	}
	nsent++;
}

static void rx_space(void *ctx)
{
	rx_space_calls++;
	if (held_frame && virtio_net_host_frame(&net, held_frame, held_len) == 0)
		held_frame = NULL;
}

static uint32_t start(void)
{
	struct net_host h = { .send_frame = send_frame, .rx_space = rx_space };
	virtio_net_init(&net, MAC, &h);
	nsent = rx_space_calls = 0;
	held_frame = NULL;
	return vd_start(&drv, &net.dev, (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS), 2);
}

static int setup(void **s)
{
	assert_int_equal(start(), 15);
	return 0;
}

static int teardown(void **s)
{
	vd_stop(&drv);
	return 0;
}

static void fill_frame(uint8_t *f, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)(seed + i * 13);
}

static void test_config_and_link(void **s)
{
	vd_write32(&drv, 0x14, 0);
	uint32_t feat = vd_read32(&drv, 0x10);
	assert_true(feat & (1u << VIRTIO_NET_F_MAC));
	assert_true(feat & (1u << VIRTIO_NET_F_STATUS));
	assert_false(feat & (1u << VIRTIO_NET_F_MRG_RXBUF));
	for (int i = 0; i < 6; i++)
		assert_int_equal(vd_cfg_read(&drv, (uint32_t)i, 1), MAC[i]);
	assert_int_equal(vd_cfg_read(&drv, 6, 2), VIRTIO_NET_S_LINK_UP);
	uint32_t gen = vd_read32(&drv, 0xfc);
	virtio_net_set_link(&net, false);
	assert_int_equal(vd_cfg_read(&drv, 6, 2), 0);
	assert_int_not_equal(vd_read32(&drv, 0xfc), gen);
	assert_int_equal(vd_ack(&drv), VIRTIO_MMIO_INT_CONFIG);
	/* Link down: frames from the host are refused, the vmm drops them. */
	vd_rx_buffer(&drv, NET_RXQ, 2048);
	uint8_t f[60] = { 0 };
	assert_int_equal(virtio_net_host_frame(&net, f, sizeof(f)), -ENETDOWN);
	virtio_net_set_link(&net, true);
	assert_int_equal(vd_cfg_read(&drv, 6, 2), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(virtio_net_host_frame(&net, f, sizeof(f)), 0);
}

static void test_tx_strips_header(void **s)
{
	/* Header in its own descriptor, the frame split over two more. */
	uint64_t hdr = vd_alloc(&drv, VIRTIO_NET_HDR_LEN), a = vd_alloc(&drv, 40),
	         b = vd_alloc(&drv, 60);
	memset(vd_ptr(&drv, hdr, VIRTIO_NET_HDR_LEN), 0, VIRTIO_NET_HDR_LEN);
	uint8_t frame[100];
	fill_frame(frame, sizeof(frame), 1);
	memcpy(vd_ptr(&drv, a, 40), frame, 40);
	memcpy(vd_ptr(&drv, b, 60), frame + 40, 60);
	struct vd_seg segs[3] = { { hdr, VIRTIO_NET_HDR_LEN, false }, { a, 40, false },
	                          { b, 60, false } };
	uint16_t head = vd_submit(&drv, NET_TXQ, segs, 3);
	uint32_t id, len;
	assert_true(vd_used(&drv, NET_TXQ, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent_len[0], 100);
	assert_memory_equal(sent[0], frame, 100);
	/* Header and frame in one buffer, as Linux sends them. */
	uint64_t one = vd_alloc(&drv, VIRTIO_NET_HDR_LEN + 64);
	memcpy(vd_ptr(&drv, one, VIRTIO_NET_HDR_LEN + 64) + VIRTIO_NET_HDR_LEN, frame, 64);
	struct vd_seg seg = { one, VIRTIO_NET_HDR_LEN + 64, false };
	vd_submit(&drv, NET_TXQ, &seg, 1);
	assert_int_equal(nsent, 2);
	assert_int_equal(sent_len[1], 64);
	assert_memory_equal(sent[1], frame, 64);
	assert_int_equal(net.tx_frames, 2);
	assert_int_equal(net.tx_bytes, 164);
	assert_int_equal(drv.line, 1);
}

static void test_tx_malformed_dropped(void **s)
{
	uint64_t a = vd_alloc(&drv, 8);
	struct vd_seg seg = { a, 8, false }; /* shorter than the header */
	vd_submit(&drv, NET_TXQ, &seg, 1);
	seg.len = VIRTIO_NET_HDR_LEN + 10; /* header, but no Ethernet header */
	seg.gpa = vd_alloc(&drv, seg.len);
	vd_submit(&drv, NET_TXQ, &seg, 1);
	/* Larger than any frame: dropped, counted, the chain still completes. */
	uint64_t big = vd_alloc(&drv, 40000);
	struct vd_seg segs[2] = { { big, 40000, false }, { big, 40000, false } };
	vd_submit(&drv, NET_TXQ, segs, 2);
	uint32_t id, len;
	for (int i = 0; i < 3; i++)
		assert_true(vd_used(&drv, NET_TXQ, &id, &len));
	assert_int_equal(nsent, 0);
	assert_int_equal(net.tx_errors, 2);
	assert_int_equal(net.tx_dropped_oversize, 1);
}

static void test_rx_frame(void **s)
{
	uint64_t buf = vd_rx_buffer(&drv, NET_RXQ, VIRTIO_NET_HDR_LEN + 1518);
	assert_int_equal(rx_space_calls, 1);
	vd_ack(&drv);
	uint8_t f[1514];
	fill_frame(f, sizeof(f), 9);
	memset(vd_ptr(&drv, buf, 12), 0xee, 12);
	assert_int_equal(virtio_net_host_frame(&net, f, sizeof(f)), 0);
	uint32_t id, len;
	assert_true(vd_used(&drv, NET_RXQ, &id, &len));
	assert_int_equal(len, VIRTIO_NET_HDR_LEN + 1514);
	const uint8_t *p = vd_ptr(&drv, buf, VIRTIO_NET_HDR_LEN + 1514);
	static const uint8_t want_hdr[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	assert_memory_equal(p, want_hdr, 12); /* zeroed, num_buffers = 1 */
	assert_memory_equal(p + 12, f, 1514);
	assert_int_equal(drv.line, 1);
	/* Header and data in separate descriptors work as well. */
	uint64_t h = vd_alloc(&drv, 12), d = vd_alloc(&drv, 100);
	struct vd_seg segs[2] = { { h, 12, true }, { d, 100, true } };
	vd_submit(&drv, NET_RXQ, segs, 2);
	assert_int_equal(virtio_net_host_frame(&net, f, 60), 0);
	assert_true(vd_used(&drv, NET_RXQ, &id, &len));
	assert_int_equal(len, 72);
	assert_memory_equal(vd_ptr(&drv, d, 60), f, 60);
	assert_int_equal(net.rx_frames, 2);
}

static void test_rx_no_buffer_then_retry(void **s)
{
	static uint8_t f[200];
	fill_frame(f, sizeof(f), 3);
	assert_int_equal(virtio_net_host_frame(&net, f, sizeof(f)), -EAGAIN);
	assert_int_equal(drv.line, 0);
	held_frame = f;
	held_len = sizeof(f);
	uint64_t buf = vd_rx_buffer(&drv, NET_RXQ, 2048); /* notify -> rx_space -> retry */
	assert_null(held_frame);
	uint32_t id, len;
	assert_true(vd_used(&drv, NET_RXQ, &id, &len));
	assert_int_equal(len, 212);
	assert_memory_equal(vd_ptr(&drv, buf + 12, 200), f, 200);
}

static void test_rx_too_big_dropped_not_truncated(void **s)
{
	uint64_t buf = vd_rx_buffer(&drv, NET_RXQ, VIRTIO_NET_HDR_LEN + 100);
	uint8_t f[300];
	fill_frame(f, sizeof(f), 5);
	assert_int_equal(virtio_net_host_frame(&net, f, 300), -EMSGSIZE);
	assert_int_equal(net.rx_dropped_too_big, 1);
	uint32_t id, len;
	assert_false(vd_used(&drv, NET_RXQ, &id, &len)); /* nothing half-written was returned */
	/* The same buffer takes the next frame that fits. */
	assert_int_equal(virtio_net_host_frame(&net, f, 100), 0);
	assert_true(vd_used(&drv, NET_RXQ, &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, 112);
	assert_memory_equal(vd_ptr(&drv, buf + 12, 100), f, 100);
	/* Larger than any frame, or empty: refused before a buffer is looked at. */
	static uint8_t huge[NET_MAX_FRAME + 1];
	assert_int_equal(virtio_net_host_frame(&net, huge, sizeof(huge)), -EMSGSIZE);
	assert_int_equal(virtio_net_host_frame(&net, huge, 0), -EINVAL);
	assert_int_equal(net.rx_dropped_too_big, 2);
}

static void test_rx_useless_chains(void **s)
{
	/* Too small for any frame, then read-only: both returned empty. */
	vd_rx_buffer(&drv, NET_RXQ, 8);
	uint64_t ro = vd_alloc(&drv, 2048);
	struct vd_seg seg = { ro, 2048, false };
	vd_submit(&drv, NET_RXQ, &seg, 1);
	uint64_t good = vd_rx_buffer(&drv, NET_RXQ, 2048);
	uint8_t f[64];
	fill_frame(f, sizeof(f), 7);
	assert_int_equal(virtio_net_host_frame(&net, f, sizeof(f)), 0);
	uint32_t id, len;
	assert_true(vd_used(&drv, NET_RXQ, &id, &len));
	assert_int_equal(len, 0);
	assert_true(vd_used(&drv, NET_RXQ, &id, &len));
	assert_int_equal(len, 0);
	assert_true(vd_used(&drv, NET_RXQ, &id, &len));
	assert_int_equal(len, 76);
	assert_memory_equal(vd_ptr(&drv, good + 12, 64), f, 64);
	assert_int_equal(net.rx_bad_chains, 2);
}

static void test_hostile_and_reset(void **s)
{
	vd_rx_buffer(&drv, NET_RXQ, VIRTIO_NET_HDR_LEN + 20);
	uint8_t f[100] = { 0 };
	assert_int_equal(virtio_net_host_frame(&net, f, 100), -EMSGSIZE);
	assert_true(net.rx_held);
	struct vd_seg seg = { VD_RAM - 8, 64, false };
	vd_submit(&drv, NET_TXQ, &seg, 1);
	assert_true(vd_read32(&drv, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(nsent, 0);
	vd_write32(&drv, 0x70, 0);
	assert_false(net.rx_held); /* the held chain belonged to the old ring */
	assert_int_equal(virtio_net_host_frame(&net, f, 100), -ENETDOWN);
}

/* ---- TAP: the guest ARPs for the kernel's address on a TAP interface in a
 * private network namespace, and gets the kernel's reply. ---- */

static int if_ioctl(int sock, const char *name, unsigned long req, struct ifreq *ifr)
{
	snprintf(ifr->ifr_name, IFNAMSIZ, "%s", name);
	return ioctl(sock, req, ifr);
}

static int set_addr(int sock, const char *name, unsigned long req, const char *a)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, a, &sin->sin_addr);
	return if_ioctl(sock, name, req, &ifr);
}

static int tap_child(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return errno == EPERM ? 77 : 10;
	char name[IFNAMSIZ];
	tap_fd = net_tap_open("vmmtest0", true, name, sizeof(name));
	if (tap_fd < 0) {
		fprintf(stderr, "net_tap_open: %s\n", strerror(-tap_fd));
		return tap_fd == -ENOENT || tap_fd == -ENODEV || tap_fd == -EPERM ? 78 : 11;
	}
	if (strcmp(name, "vmmtest0") != 0)
		return 12;
	int sock = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (sock < 0 || set_addr(sock, name, SIOCSIFADDR, "10.99.0.1") < 0 ||
	    set_addr(sock, name, SIOCSIFNETMASK, "255.255.255.0") < 0 ||
	    if_ioctl(sock, name, SIOCGIFFLAGS, &ifr) < 0)
		return 13;
	ifr.ifr_flags |= IFF_UP;
	if (if_ioctl(sock, name, SIOCSIFFLAGS, &ifr) < 0)
		return 14;
	if (start() != 15)
		return 15;
	uint64_t bufs[8];
	for (int i = 0; i < 8; i++)
		bufs[i] = vd_rx_buffer(&drv, NET_RXQ, VIRTIO_NET_HDR_LEN + 1518);
	/* ARP request: who has 10.99.0.1? tell 10.99.0.2 (the guest). */
	uint8_t arp[12 + 60] = { 0 };
	uint8_t *e = arp + 12;
	memset(e, 0xff, 6);
	memcpy(e + 6, MAC, 6);
	e[12] = 0x08, e[13] = 0x06;
	static const uint8_t fixed[8] = { 0, 1, 8, 0, 6, 4, 0, 1 };
	memcpy(e + 14, fixed, 8);
	memcpy(e + 22, MAC, 6);
	inet_pton(AF_INET, "10.99.0.2", e + 28);
	inet_pton(AF_INET, "10.99.0.1", e + 38);
	uint64_t tx = vd_alloc(&drv, sizeof(arp));
	memcpy(vd_ptr(&drv, tx, sizeof(arp)), arp, sizeof(arp));
	struct vd_seg seg = { tx, sizeof(arp), false };
	vd_submit(&drv, NET_TXQ, &seg, 1);
	if (net.tx_frames != 1)
		return 16;
	/* The vmm's side: frames read from the TAP go to the device. IPv6 chatter
	 * may come first; the guest side recycles its buffers. */
	for (int rounds = 0; rounds < 50; rounds++) {
		struct pollfd pfd = { tap_fd, POLLIN, 0 };
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		uint8_t frame[2048];
		ssize_t n = read(tap_fd, frame, sizeof(frame));
		if (n <= 0)
			continue;
		if (virtio_net_host_frame(&net, frame, (size_t)n) != 0)
			return 17;
		uint32_t id, len;
		while (vd_used(&drv, NET_RXQ, &id, &len)) {
			const uint8_t *p = vd_ptr(&drv, bufs[id % 8], len) + VIRTIO_NET_HDR_LEN;
			uint8_t ip[4];
			inet_pton(AF_INET, "10.99.0.1", ip);
			if (len >= 12 + 42 && p[12] == 0x08 && p[13] == 0x06 && p[21] == 2 &&
			    memcmp(p, MAC, 6) == 0 && memcmp(p + 28, ip, 4) == 0 &&
			    memcmp(p + 32, MAC, 6) == 0) {
				printf("TAP: ARP reply from 10.99.0.1 reached the guest in %d frame(s)\n",
				       (int)net.rx_frames);
				return 0;
			}
			struct vd_seg again = { bufs[id % 8], VIRTIO_NET_HDR_LEN + 1518, true };
			vd_submit(&drv, NET_RXQ, &again, 1);
		}
	}
	return 18;
}

static void test_tap_arp_round_trip(void **s)
{
	if (geteuid() != 0)
		SKIP_BECAUSE("TAP test needs root (unshare(CLONE_NEWNET), TUNSETIFF)");
	if (access("/dev/net/tun", R_OK | W_OK) != 0)
		SKIP_BECAUSE("no usable /dev/net/tun");
	fflush(stdout);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int r = tap_child();
		fflush(stdout);
		_exit(r);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		SKIP_BECAUSE("unshare(CLONE_NEWNET) refused: no private network namespace");
	if (WEXITSTATUS(st) == 78)
		SKIP_BECAUSE("the kernel has no TUN/TAP support here");
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_tap_open_errors(void **s)
{
	assert_int_equal(net_tap_open("a-name-that-is-far-too-long", false, NULL, 0), -EINVAL);
	assert_int_equal(net_tap_open(NULL, false, NULL, 0), -EINVAL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_config_and_link), T(test_tx_strips_header), T(test_tx_malformed_dropped),
		T(test_rx_frame), T(test_rx_no_buffer_then_retry),
		T(test_rx_too_big_dropped_not_truncated), T(test_rx_useless_chains),
		T(test_hostile_and_reset), cmocka_unit_test(test_tap_arp_round_trip),
		cmocka_unit_test(test_tap_open_errors),
	};
	return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
