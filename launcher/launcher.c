/* launcher/launcher.c - see launcher.h. */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fidl/channel.h"
#include "fidl/ordinal.h"
#include "fidl/virtualization.h"
#include "launcher/chan_list.h"
#include "base/log.h"

struct guest_entry {
	pid_t pid;
	unsigned id;
};

struct launcher {
	struct launcher_options o;
	int listen_fd, signal_fd, wake_fd;
	int clients[LAUNCHER_MAX_CLIENTS]; /* explicit mode: VmmLauncher channels */
	unsigned nclients;
	struct guest_entry guests[LAUNCHER_MAX_GUESTS];
	unsigned nguests, next_id;
	uint64_t launch_ordinal;
	sigset_t old_mask;
};

static void publish(struct launcher *l)
{
	if (!l->o.collection_path)
		return;
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", l->o.collection_path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	for (unsigned i = 0; i < l->nguests; i++)
		fprintf(f, "%d\n", (int)l->guests[i].pid);
	fclose(f);
	/* Readers see the old or the new list, never half of one. */
	rename(tmp, l->o.collection_path);
}

int launcher_open(struct launcher **out, const struct launcher_options *o, char *err,
                  size_t errlen)
{
	*out = NULL;
	struct launcher *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->o = *o;
	if (!l->o.max_guests || l->o.max_guests > LAUNCHER_MAX_GUESTS)
		l->o.max_guests = LAUNCHER_MAX_GUESTS;
	l->listen_fd = l->signal_fd = l->wake_fd = -1;
	l->launch_ordinal = fidl_method_ordinal("fuchsia.virtualization/VmmLauncher.Launch");

	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(o->socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long (%zu bytes, at most %zu)",
		         strlen(o->socket_path), sizeof(sa.sun_path) - 1);
		free(l);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, o->socket_path);
	int r;
	l->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (l->listen_fd < 0)
		goto fail_errno;
	/* A stale socket file from a dead launcher is replaced; a live one is not
	 * (connect succeeds), so two launchers never share a path. */
	int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		snprintf(err, errlen, "another launcher is listening on %s", o->socket_path);
		close(l->listen_fd);
		free(l);
		return -EADDRINUSE;
	}
	if (probe >= 0)
		close(probe);
	unlink(o->socket_path);
	if (bind(l->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l->listen_fd, 64) < 0)
		goto fail_errno;

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, &l->old_mask);
	l->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->signal_fd < 0 || l->wake_fd < 0)
		goto fail_errno;
	publish(l);
	*out = l;
	return 0;
fail_errno:
	r = -errno;
	snprintf(err, errlen, "%s: %s", o->socket_path, strerror(errno));
	launcher_close(l);
	return r;
}

static void spawn_for(struct launcher *l, int channel_fd, const char *how)
{
	if (l->nguests >= l->o.max_guests) {
		log_warn("refusing a guest: the collection is full (%u vmm instances)", l->nguests);
		fidl_chan_close_with_epitaph(channel_fd, ZX_ERR_NO_RESOURCES);
		return;
	}
	pid_t pid;
	int r = l->o.spawner.spawn(l->o.spawner.ctx, channel_fd, l->o.hv_fd, &pid);
	if (r < 0) {
		log_err("cannot start a vmm: %s", strerror(-r));
		fidl_chan_close_with_epitaph(channel_fd, ZX_ERR_INTERNAL);
		return;
	}
	/* The vmm alone holds the channel now. */
	close(channel_fd);
	struct guest_entry *g = &l->guests[l->nguests++];
	g->pid = pid;
	g->id = ++l->next_id;
	log_info("guest %u: vmm pid %d started (%s)", g->id, (int)pid, how);
	publish(l);
}

static void reap(struct launcher *l)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		for (unsigned i = 0; i < l->nguests; i++) {
			if (l->guests[i].pid != pid)
				continue;
			if (WIFEXITED(status))
				log_info("guest %u: vmm pid %d exited with status %d", l->guests[i].id,
				         (int)pid, WEXITSTATUS(status));
			else
				log_info("guest %u: vmm pid %d killed by signal %d", l->guests[i].id,
				         (int)pid, WTERMSIG(status));
			l->guests[i] = l->guests[--l->nguests];
			break;
		}
		publish(l);
	}
}

static void drop_client(struct launcher *l, unsigned i, int32_t epitaph)
{
	chan_list_drop(l->clients, &l->nclients, i, epitaph);
}

/* Explicit mode: one VmmLauncher message. Returns false if the client must go. */
static bool serve_client(struct launcher *l, unsigned i)
{
	static struct fidl_msg m;
	int r = fidl_chan_recv(l->clients[i], &m);
	if (r == ZX_ERR_PEER_CLOSED) {
		drop_client(l, i, 0);
		return false;
	}
	if (r != ZX_OK) {
		log_warn("VmmLauncher client: bad message (%d): closing", r);
		drop_client(l, i, r);
		return false;
	}
	struct fidl_dec d;
	if (fidl_dec_init(&d, &m) != ZX_OK || d.hdr.ordinal != l->launch_ordinal) {
		int32_t why = d.status != ZX_OK ? d.status : ZX_ERR_NOT_SUPPORTED;
		log_warn("VmmLauncher client: %s: closing",
		         d.status != ZX_OK ? d.err : "unknown method ordinal");
		fidl_msg_close_handles(&m);
		drop_client(l, i, why);
		return false;
	}
	int lifecycle = -1;
	if (fv_dec_handle_body(&d, &lifecycle) != ZX_OK) {
		log_warn("VmmLauncher.Launch: %s: closing", d.err ? d.err : "malformed");
		drop_client(l, i, ZX_ERR_INVALID_ARGS);
		return false;
	}
	spawn_for(l, lifecycle, "VmmLauncher.Launch");
	return true;
}

static void stop_all(struct launcher *l)
{
	if (l->nguests == 0)
		return;
	log_info("stopping %u vmm instance(s)", l->nguests);
	for (unsigned i = 0; i < l->nguests; i++)
		l->o.spawner.kill(l->o.spawner.ctx, l->guests[i].pid, SIGTERM);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (l->nguests) {
		reap(l);
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms > LAUNCHER_GRACE_MS) {
			for (unsigned i = 0; i < l->nguests; i++) {
				log_warn("guest %u: vmm pid %d ignored SIGTERM: killing", l->guests[i].id,
				         (int)l->guests[i].pid);
				l->o.spawner.kill(l->o.spawner.ctx, l->guests[i].pid, SIGKILL);
			}
			while (l->nguests) {
				pid_t pid = waitpid(-1, NULL, 0);
				if (pid < 0)
					break;
				for (unsigned i = 0; i < l->nguests; i++)
					if (l->guests[i].pid == pid)
						l->guests[i] = l->guests[--l->nguests];
			}
			break;
		}
		struct pollfd p = { .fd = l->signal_fd, .events = POLLIN };
		poll(&p, 1, 20);
		struct signalfd_siginfo si;
		while (read(l->signal_fd, &si, sizeof(si)) == sizeof(si))
			;
	}
	publish(l);
}

int launcher_run(struct launcher *l)
{
	log_info("listening on %s (%s mode)", l->o.socket_path,
	         l->o.explicit_mode ? "explicit VmmLauncher" : "implicit GuestLifecycle");
	for (;;) {
		struct pollfd p[3 + LAUNCHER_MAX_CLIENTS];
		p[0] = (struct pollfd){ .fd = l->listen_fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = l->signal_fd, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = l->wake_fd, .events = POLLIN };
		for (unsigned i = 0; i < l->nclients; i++)
			p[3 + i] = (struct pollfd){ .fd = l->clients[i], .events = POLLIN };
		unsigned n = 3 + l->nclients;
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;
			bool quit = false;
			while (read(l->signal_fd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					reap(l);
				else {
					log_info("%s: shutting down", strsignal((int)si.ssi_signo));
					quit = true;
				}
			}
			if (quit)
				break;
		}
		if (p[2].revents)
			break;
		if (p[0].revents & POLLIN) {
			int c = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) {
				if (!l->o.explicit_mode)
					spawn_for(l, c, "GuestLifecycle connection");
				else if (l->nclients == LAUNCHER_MAX_CLIENTS)
					fidl_chan_close_with_epitaph(c, ZX_ERR_NO_RESOURCES);
				else
					l->clients[l->nclients++] = c;
			}
		}
		/* Clients, newest first, so dropping one (swap with last) is safe. */
		for (unsigned i = n - 1; i >= 3; i--) {
			unsigned ci = i - 3;
			if (ci < l->nclients && p[i].revents && p[i].fd == l->clients[ci])
				serve_client(l, ci);
		}
	}
	stop_all(l);
	return 0;
}

void launcher_request_exit(struct launcher *l)
{
	uint64_t one = 1;
	ssize_t w = write(l->wake_fd, &one, sizeof(one));
	(void)w;
}

void launcher_close(struct launcher *l)
{
	if (!l)
		return;
	for (unsigned i = 0; i < l->nclients; i++)
		close(l->clients[i]);
	if (l->listen_fd >= 0) {
		close(l->listen_fd);
		unlink(l->o.socket_path);
	}
	if (l->signal_fd >= 0) {
		close(l->signal_fd);
		pthread_sigmask(SIG_SETMASK, &l->old_mask, NULL);
	}
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	if (l->o.hv_fd >= 0)
		close(l->o.hv_fd);
	if (l->o.collection_path)
		unlink(l->o.collection_path);
	free(l);
}

size_t launcher_collection(struct launcher *l, pid_t *pids, size_t max)
{
	size_t n = 0;
	for (unsigned i = 0; i < l->nguests && n < max; i++)
		pids[n++] = l->guests[i].pid;
	return n;
}
