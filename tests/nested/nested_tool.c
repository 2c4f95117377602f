/* tests/nested/nested_tool.c - the few things busybox cannot do for the
 * nested harness, as one static binary in both initramfs images.
 *
 *   nested_tool run [options] -- CMD ARGS...
 *       Runs CMD with its stdout and stderr on one pipe and prints each line
 *       it writes as "PREFIX line". Times, from just before the fork, the
 *       first line containing the marker (FIGURE PREFIX boot-to-marker N ms),
 *       optionally sends SIGTERM once a line contains another marker, kills
 *       it after a timeout, and ends with "EXIT PREFIX status N" (or
 *       "signal N", or "timeout"). Its own exit status is CMD's.
 *       options: --prefix P  --marker M  --term-on M  --timeout SECONDS
 *                --answer FILE,MATCH,REPLY,FIFO (see below)
 *   nested_tool vsock-client PORT LINE
 *       Connects to the host (CID 2) at PORT, sends LINE, prints the line
 *       that comes back.
 *   nested_tool vsock-cid
 *       Prints this machine's vsock CID.
 *   nested_tool unix-echo PATH COUNT
 *       Listens on the Unix stream socket PATH, answers COUNT connections:
 *       each line read is sent back with "-vsock" appended.
 *   nested_tool console-peer PATH MATCH REPLY LOG SECONDS
 *       Listens on the Unix stream socket PATH for one connection (the
 *       vmm's --console unix:PATH), appends all it receives to LOG, and once
 *       that holds MATCH sends REPLY and a newline, like a person answering
 *       a prompt. Ends when the peer closes or after SECONDS.
 *
 * Built statically by tests/nested/run.sh; runs in L1 and L2.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int usage(void)
{
	fprintf(stderr, "usage: nested_tool run [--prefix P] [--marker M] [--term-on M] "
	                "[--timeout S] -- CMD...\n"
	                "       nested_tool vsock-client PORT LINE | vsock-cid | "
	                "unix-echo PATH COUNT\n"
	                "       nested_tool console-peer PATH MATCH REPLY LOG SECONDS\n");
	return 2;
}

static int cmd_run(int argc, char **argv)
{
	const char *prefix = "", *marker = NULL, *term_on = NULL;
	double timeout_s = 120;
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (i + 1 >= argc)
			return usage();
		if (strcmp(argv[i], "--prefix") == 0)
			prefix = argv[++i];
		else if (strcmp(argv[i], "--marker") == 0)
			marker = argv[++i];
		else if (strcmp(argv[i], "--term-on") == 0)
			term_on = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0)
			timeout_s = atof(argv[++i]);
		else
			return usage();
	}
	if (i >= argc)
		return usage();
	int p[2];
	if (pipe(p) < 0) {
		perror("pipe");
		return 1;
	}
	double t0 = now_ms();
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[1]);
		execvp(argv[i], argv + i);
		fprintf(stderr, "exec %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	char line[8192];
	size_t len = 0;
	int marked = 0, termed = 0, timed_out = 0, open_ = 1;
	while (open_) {
		double left = t0 + timeout_s * 1e3 - now_ms();
		if (left <= 0) {
			timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		int r = poll(&pf, 1, (int)(left < 1000 ? left + 1 : 1000));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		char buf[4096];
		ssize_t n = read(p[0], buf, sizeof(buf));
		if (n <= 0)
			open_ = 0;
		for (ssize_t k = 0; k < n || (!open_ && len && k == 0); k++) {
			char c = open_ ? buf[k] : '\n';
			if (c != '\n' && c != '\r' && len < sizeof(line) - 1) {
				line[len++] = c;
				continue;
			}
			if (c == '\r' || (len == 0 && c == '\n'))
				continue;
			line[len] = '\0';
			len = 0;
			double t = now_ms();
			if (marker && !marked && strstr(line, marker)) {
				marked = 1;
				printf("FIGURE %s boot-to-marker %.0f ms\n", prefix, t - t0);
			}
			printf("%s %s\n", prefix, line);
			fflush(stdout);
			if (term_on && !termed && strstr(line, term_on)) {
				termed = 1;
				printf("TERM %s sending SIGTERM at %.0f ms\n", prefix, t - t0);
				fflush(stdout);
				kill(pid, SIGTERM);
			}
			if (!open_)
				break;
		}
	}
	int st = 0;
	if (timed_out) {
		/* The pipe may still be held open by a grandchild: do not wait on it. */
		waitpid(pid, &st, 0);
		printf("EXIT %s timeout after %.0f s\n", prefix, timeout_s);
		fflush(stdout);
		return 124;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	double t = now_ms();
	if (WIFEXITED(st)) {
		printf("EXIT %s status %d after %.0f ms\n", prefix, WEXITSTATUS(st), t - t0);
		fflush(stdout);
		return WEXITSTATUS(st);
	}
	printf("EXIT %s signal %d after %.0f ms\n", prefix, WTERMSIG(st), t - t0);
	fflush(stdout);
	return 128 + WTERMSIG(st);
}

static int cmd_vsock_client(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (s < 0) {
		printf("socket: %s\n", strerror(errno));
		return 1;
	}
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST,
	                         .svm_port = (unsigned)atoi(argv[1]) };
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		printf("connect: %s\n", strerror(errno));
		return 1;
	}
	char msg[1024];
	int n = snprintf(msg, sizeof(msg), "%s\n", argv[2]);
	if (write(s, msg, (size_t)n) != n) {
		printf("write: %s\n", strerror(errno));
		return 1;
	}
	char buf[1024];
	size_t got = 0;
	struct pollfd pf = { .fd = s, .events = POLLIN };
	while (got < sizeof(buf) - 1 && poll(&pf, 1, 5000) > 0) {
		ssize_t r = read(s, buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(buf, '\n', got))
			break;
	}
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	printf("%s\n", buf);
	close(s);
	return 0;
}

static int cmd_vsock_cid(void)
{
	int fd = open("/dev/vsock", O_RDONLY);
	unsigned cid = 0;
	if (fd < 0 || ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0) {
		printf("?: %s\n", strerror(errno));
		return 1;
	}
	printf("%u\n", cid);
	return 0;
}

static int cmd_unix_echo(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[1]);
	unlink(a.sun_path);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4) < 0) {
		fprintf(stderr, "unix-echo %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (int k = atoi(argv[2]); k > 0; k--) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			return 1;
		char buf[1024];
		size_t got = 0;
		while (got < sizeof(buf) - 8) {
			ssize_t r = read(c, buf + got, sizeof(buf) - 8 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
			if (memchr(buf, '\n', got))
				break;
		}
		buf[got] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		char out[1100];
		int n = snprintf(out, sizeof(out), "%s-vsock\n", buf);
		if (write(c, out, (size_t)n) != n)
			fprintf(stderr, "unix-echo: write: %s\n", strerror(errno));
		close(c);
	}
	return 0;
}

static int cmd_console_peer(int argc, char **argv)
{
	if (argc != 6)
		return usage();
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[1]);
	unlink(a.sun_path);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0) {
		fprintf(stderr, "console-peer %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	double end = now_ms() + atof(argv[5]) * 1e3;
	struct pollfd pf = { .fd = s, .events = POLLIN };
	if (poll(&pf, 1, (int)(end - now_ms())) <= 0)
		return 1;
	int c = accept(s, NULL, NULL);
	int log = open(argv[4], O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (c < 0 || log < 0)
		return 1;
	static char seen[65536];
	size_t nseen = 0;
	int answered = 0;
	while (now_ms() < end) {
		pf.fd = c;
		if (poll(&pf, 1, 200) <= 0)
			continue;
		char buf[4096];
		ssize_t n = read(c, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (write(log, buf, (size_t)n) != n)
			return 1;
		for (ssize_t k = 0; k < n && nseen < sizeof(seen) - 1; k++)
			seen[nseen++] = buf[k] ? buf[k] : ' ';
		seen[nseen] = '\0';
		if (!answered && strstr(seen, argv[2])) {
			char msg[1024];
			int m = snprintf(msg, sizeof(msg), "%s\n", argv[3]);
			answered = write(c, msg, (size_t)m) == m;
		}
	}
	close(log);
	close(c);
	return answered ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *c = argv[1];
	if (strcmp(c, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(c, "vsock-client") == 0)
		return cmd_vsock_client(argc - 1, argv + 1);
	if (strcmp(c, "vsock-cid") == 0)
		return cmd_vsock_cid();
	if (strcmp(c, "unix-echo") == 0)
		return cmd_unix_echo(argc - 1, argv + 1);
	if (strcmp(c, "console-peer") == 0)
		return cmd_console_peer(argc - 1, argv + 1);
	return usage();
}
