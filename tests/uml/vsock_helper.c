/* tests/uml/vsock_helper.c - the AF_VSOCK tool busybox lacks, for the UML
 * vsock check (tests/uml/README.md), and its host-side counterparts.
 *
 * Built static (no libc in the initramfs) by `make` as $(B)/vsock_helper.
 *
 *   vsock_helper echo PORT                       guest: listen on vsock PORT,
 *                                                echo one connection, exit
 *   vsock_helper call CID PORT TEXT [BYTES]      guest: connect to CID:PORT
 *   vsock_helper unix-echo PATH                  host: listen on PATH, echo
 *                                                every connection (until killed)
 *   vsock_helper unix-call PATH GUEST_PORT TEXT [BYTES]
 *                                                host: through vmm_device's
 *                                                --vsock-connect-socket PATH
 *
 * A call sends "TEXT\n" and BYTES more bytes of a pattern, shuts down its
 * sending side and reads until EOF, sending and receiving at once (poll), so
 * a stream larger than every buffer on the way works. It checks that what
 * came back is what it sent and prints
 *   ECHO OK <bytes> bytes <ms> ms <MB/s> MB/s     or    ECHO FAIL <why>
 * and exits 0 only for OK. unix-call first writes "CONNECT GUEST_PORT\n" and
 * expects "OK <host port>\n"; while the socket is closed instead (nothing
 * listens in the guest yet) it retries every 50 ms. Every mode gives up
 * after 20 s (SIGALRM).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#define TIMEOUT_S 20
#define CHUNK 65536

static uint8_t pattern_byte(uint64_t i)
{
	return (uint8_t)(i * 131 + (i >> 9));
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int die(const char *what)
{
	printf("ECHO FAIL %s: %s\n", what, strerror(errno));
	return 1;
}

/* Byte i of the stream a call sends: "TEXT\n", then the pattern. */
static uint8_t stream_byte(const char *line, size_t line_len, uint64_t i)
{
	return i < line_len ? (uint8_t)line[i] : pattern_byte(i - line_len);
}

static int exchange(int fd, const char *text, uint64_t extra)
{
	char line[256];
	int ll = snprintf(line, sizeof(line), "%s\n", text);
	if (ll < 0 || (size_t)ll >= sizeof(line)) {
		printf("ECHO FAIL text too long\n");
		return 1;
	}
	uint64_t total = (uint64_t)ll + extra, sent = 0, got = 0;
	static uint8_t buf[CHUNK];
	bool shut = false;
	double t0 = now_ms();
	for (;;) {
		if (sent == total && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		struct pollfd p = { fd, (short)(POLLIN | (shut ? 0 : POLLOUT)), 0 };
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return die("poll");
		}
		if (p.revents & POLLOUT && !shut) {
			size_t n = 0;
			while (n < sizeof(buf) && sent + n < total) {
				buf[n] = stream_byte(line, (size_t)ll, sent + n);
				n++;
			}
			ssize_t w = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				return die("send");
			if (w > 0)
				sent += (uint64_t)w;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r < 0)
				return die("recv");
			if (r == 0)
				break;
			for (ssize_t i = 0; i < r; i++, got++) {
				if (got >= total || buf[i] != stream_byte(line, (size_t)ll, got)) {
					printf("ECHO FAIL byte %llu differs (or is extra)\n",
					       (unsigned long long)got);
					return 1;
				}
			}
		}
	}
	double ms = now_ms() - t0;
	if (got != total || sent != total) {
		printf("ECHO FAIL sent %llu, got back %llu of %llu bytes\n", (unsigned long long)sent,
		       (unsigned long long)got, (unsigned long long)total);
		return 1;
	}
	printf("ECHO OK %llu bytes %.1f ms %.1f MB/s\n", (unsigned long long)total, ms,
	       ms > 0 ? (double)total / 1e3 / ms : 0.0);
	return 0;
}

/* Echo one connection until EOF. */
static void echo(int c)
{
	static uint8_t buf[CHUNK];
	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(c, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return;
			off += w;
		}
	}
}

static uint64_t number(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end) {
		fprintf(stderr, "vsock_helper: '%s' is not a number\n", s);
		exit(2);
	}
	return v;
}

static int vsock_echo(uint32_t port)
{
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0)
		return die("vsock listen");
	int c = accept(s, NULL, NULL);
	if (c < 0)
		return die("vsock accept");
	echo(c);
	close(c);
	close(s);
	return 0;
}

static int vsock_call(uint32_t cid, uint32_t port, const char *text, uint64_t extra)
{
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		return die("vsock connect");
	int r = exchange(s, text, extra);
	close(s);
	return r;
}

static int unix_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path)) {
		fprintf(stderr, "vsock_helper: path too long\n");
		exit(2);
	}
	strcpy(a->sun_path, path);
	return 0;
}

static int unix_echo(const char *path)
{
	struct sockaddr_un a;
	unix_addr(path, &a);
	unlink(path);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4) < 0)
		return die("unix listen");
	alarm(0); /* serves until killed */
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0 && errno == EINTR)
			continue;
		if (c < 0)
			return die("unix accept");
		echo(c);
		close(c);
	}
}

/* One CONNECT attempt: the socket once "OK <port>" came, -1 if refused. */
static int unix_connect_guest(const struct sockaddr_un *a, uint32_t port)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	char req[32], line[32];
	int n = snprintf(req, sizeof(req), "CONNECT %u\n", port);
	if (write(s, req, (size_t)n) != n) {
		close(s);
		return -1;
	}
	size_t len = 0;
	while (len < sizeof(line) - 1) {
		ssize_t r = read(s, line + len, 1);
		if (r <= 0)
			break;
		if (line[len] == '\n') {
			line[len] = 0;
			if (strncmp(line, "OK ", 3) == 0)
				return s;
			break;
		}
		len++;
	}
	close(s);
	return -1;
}

static int unix_call(const char *path, uint32_t port, const char *text, uint64_t extra)
{
	struct sockaddr_un a;
	unix_addr(path, &a);
	int s;
	while ((s = unix_connect_guest(&a, port)) < 0)
		usleep(50 * 1000); /* SIGALRM ends this if the guest never listens */
	int r = exchange(s, text, extra);
	close(s);
	return r;
}

static void on_alarm(int sig)
{
	static const char msg[] = "ECHO FAIL timed out\n";
	ssize_t n = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(1);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm(TIMEOUT_S);
	const char *m = argc > 1 ? argv[1] : "";
	if (strcmp(m, "echo") == 0 && argc == 3)
		return vsock_echo((uint32_t)number(argv[2]));
	if (strcmp(m, "call") == 0 && (argc == 5 || argc == 6))
		return vsock_call((uint32_t)number(argv[2]), (uint32_t)number(argv[3]), argv[4],
		                  argc == 6 ? number(argv[5]) : 0);
	if (strcmp(m, "unix-echo") == 0 && argc == 3)
		return unix_echo(argv[2]);
	if (strcmp(m, "unix-call") == 0 && (argc == 5 || argc == 6))
		return unix_call(argv[2], (uint32_t)number(argv[3]), argv[4],
		                 argc == 6 ? number(argv[5]) : 0);
	fprintf(stderr, "usage: vsock_helper echo PORT | call CID PORT TEXT [BYTES] |\n"
	                "       unix-echo PATH | unix-call PATH GUEST_PORT TEXT [BYTES]\n");
	return 2;
}
