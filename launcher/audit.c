/* launcher/audit.c - see audit.h. */
#include "audit.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_INSTANCES 256

struct fd_obj {
	pid_t pid;
	int fd;
	char target[PATH_MAX];
	dev_t dev;
	ino_t ino;
	mode_t mode;
	dev_t rdev;
	int accmode;   /* O_RDONLY / O_WRONLY / O_RDWR from fdinfo flags */
	bool anon;     /* anon_inode:... */
	bool done;     /* already reported as part of a group */
};

struct fd_list {
	struct fd_obj *v;
	size_t n, cap;
};

static bool is_pid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static int fdinfo_accmode(pid_t pid, int fd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char line[256];
	int mode = -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long flags;
		if (sscanf(line, "flags: %lo", &flags) == 1) {
			mode = (int)(flags & O_ACCMODE);
			break;
		}
	}
	fclose(f);
	return mode;
}

/* Every fd of pid. Returns 0, or -errno if /proc/PID/fd cannot be read. */
static int read_fds(pid_t pid, struct fd_list *out)
{
	char dpath[64];
	snprintf(dpath, sizeof(dpath), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dpath);
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!is_pid_name(de->d_name))
			continue;
		int fd = atoi(de->d_name);
		char lpath[96];
		snprintf(lpath, sizeof(lpath), "/proc/%d/fd/%d", (int)pid, fd);
		struct fd_obj o = { .pid = pid, .fd = fd };
		ssize_t n = readlink(lpath, o.target, sizeof(o.target) - 1);
		if (n < 0)
			continue; /* closed meanwhile */
		o.target[n] = '\0';
		struct stat st;
		if (stat(lpath, &st) < 0)
			continue;
		o.dev = st.st_dev;
		o.ino = st.st_ino;
		o.mode = st.st_mode;
		o.rdev = st.st_rdev;
		o.anon = !strncmp(o.target, "anon_inode:", 11);
		o.accmode = fdinfo_accmode(pid, fd);
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 64;
			struct fd_obj *v = realloc(out->v, cap * sizeof(*v));
			if (!v) {
				closedir(d);
				return -ENOMEM;
			}
			out->v = v;
			out->cap = cap;
		}
		out->v[out->n++] = o;
	}
	closedir(d);
	return 0;
}

static const char *kind(mode_t m)
{
	if (S_ISREG(m)) return "regular file";
	if (S_ISDIR(m)) return "directory";
	if (S_ISSOCK(m)) return "socket";
	if (S_ISFIFO(m)) return "pipe";
	if (S_ISCHR(m)) return "character device";
	if (S_ISBLK(m)) return "block device";
	return "file";
}

static const char *accname(int a)
{
	return a == O_RDONLY ? "read-only" : a == O_WRONLY ? "write-only" : a == O_RDWR ? "read-write"
	                                                                                 : "mode unknown";
}

static bool writable(int a)
{
	/* An unreadable mode counts as writable: the audit fails closed. */
	return a != O_RDONLY;
}

static pid_t ppid_of(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	int pp = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "PPid: %d", &pp) == 1)
			break;
	fclose(f);
	return (pid_t)pp;
}

static void comm_of(pid_t pid, char *out, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	out[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* The process whose command line has "--collection PATH" for our path. */
static pid_t find_launcher(const char *collection)
{
	char want[PATH_MAX];
	if (!realpath(collection, want))
		snprintf(want, sizeof(want), "%s", collection);
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	struct dirent *de;
	pid_t found = 0;
	while (!found && (de = readdir(d))) {
		if (!is_pid_name(de->d_name))
			continue;
		char path[300], buf[8192];
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		bool prev = false;
		for (char *a = buf; a < buf + n; a += strlen(a) + 1) {
			char real[PATH_MAX];
			if (prev && (!strcmp(a, collection) ||
			             (realpath(a, real) && !strcmp(real, want)))) {
				found = (pid_t)atoi(de->d_name);
				break;
			}
			prev = !strcmp(a, "--collection");
		}
	}
	closedir(d);
	return found;
}

static bool same_description(pid_t p1, int fd1, pid_t p2, int fd2, bool *known)
{
	long r = syscall(SYS_kcmp, p1, p2, KCMP_FILE, fd1, fd2);
	*known = r >= 0;
	return r == 0;
}

static bool is_hv(const struct fd_obj *o, dev_t hv_rdev, const char *hv_path)
{
	if (S_ISCHR(o->mode) && hv_rdev && o->rdev == hv_rdev)
		return true;
	return !strcmp(o->target, hv_path);
}

static bool is_kvm_handle(const struct fd_obj *o)
{
	return !strncmp(o->target, "anon_inode:kvm-", 15);
}

int audit_run(const struct audit_options *o)
{
	FILE *out = o->out ? o->out : stdout;
	const char *hv_path = o->hv_device ? o->hv_device : "/dev/kvm";
	struct stat hst;
	dev_t hv_rdev = stat(hv_path, &hst) == 0 && S_ISCHR(hst.st_mode) ? hst.st_rdev : 0;

	FILE *f = fopen(o->collection_path, "re");
	if (!f) {
		fprintf(out, "audit: cannot read the collection %s: %s (is vmm_launcher running "
		             "with --collection?)\n", o->collection_path, strerror(errno));
		return -1;
	}
	pid_t pids[MAX_INSTANCES];
	size_t np = 0;
	int pid;
	while (np < MAX_INSTANCES && fscanf(f, "%d", &pid) == 1)
		if (pid > 0)
			pids[np++] = (pid_t)pid;
	fclose(f);

	pid_t launcher = o->launcher_pid;
	if (!launcher && np)
		launcher = ppid_of(pids[0]);
	if (!launcher)
		launcher = find_launcher(o->collection_path);
	int violations = 0;
	fprintf(out, "audit: %zu vmm instance(s) in %s; launcher pid %d\n", np,
	        o->collection_path, (int)launcher);

	struct fd_list fds = { 0 };
	for (size_t i = 0; i < np; i++) {
		int r = read_fds(pids[i], &fds);
		if (r < 0) {
			/* It may have just exited; if it still exists we cannot vouch for it. */
			if (kill(pids[i], 0) == 0 || errno == EPERM) {
				fprintf(out, "VIOLATION uninspectable: instance pid %d: /proc/%d/fd: %s\n",
				        (int)pids[i], (int)pids[i], strerror(-r));
				violations++;
			}
			continue;
		}
		if (launcher && ppid_of(pids[i]) != launcher) {
			fprintf(out, "VIOLATION not-launched: instance pid %d is not a child of the "
			             "launcher (pid %d)\n", (int)pids[i], (int)launcher);
			violations++;
		}
	}
	struct fd_list lfds = { 0 };
	if (launcher)
		read_fds(launcher, &lfds);

	/* The hypervisor handle: shared by design, reported on its own. */
	size_t hv_holders = 0;
	for (size_t i = 0; i < fds.n; i++)
		if (is_hv(&fds.v[i], hv_rdev, hv_path)) {
			fds.v[i].done = true;
			hv_holders++;
			if (o->verbose)
				fprintf(out, "  hypervisor: pid %d fd %d %s (%s)\n", (int)fds.v[i].pid,
				        fds.v[i].fd, fds.v[i].target, accname(fds.v[i].accmode));
		}
	if (hv_holders)
		fprintf(out, "shared by design: the hypervisor device %s (rdev %u:%u) is held by %zu "
		             "instance fd(s) and the launcher: the launcher's one handle, passed to "
		             "each vmm; never to a client\n",
		        hv_path, major(hv_rdev), minor(hv_rdev), hv_holders);

	/* Stdio the launcher's children inherit from it (its log sink). */
	size_t stdio = 0;
	for (size_t i = 0; i < fds.n; i++) {
		struct fd_obj *a = &fds.v[i];
		if (a->done || a->fd > 2)
			continue;
		for (size_t j = 0; j < lfds.n; j++) {
			if (lfds.v[j].fd <= 2 && lfds.v[j].dev == a->dev && lfds.v[j].ino == a->ino) {
				a->done = true;
				stdio++;
				break;
			}
		}
	}
	if (stdio)
		fprintf(out, "shared by design: %zu stdio fd(s) of instances are the launcher's own "
		             "stdin/stdout/stderr (its log), inherited at spawn\n", stdio);

	/* Objects held by two instances. */
	size_t shared_ro = 0;
	for (size_t i = 0; i < fds.n; i++) {
		struct fd_obj *a = &fds.v[i];
		if (a->done || a->anon)
			continue;
		bool other = false, any_w = writable(a->accmode), ofd_unknown = false, same_ofd = false;
		for (size_t j = i + 1; j < fds.n; j++) {
			struct fd_obj *b = &fds.v[j];
			if (b->done || b->anon || b->dev != a->dev || b->ino != a->ino)
				continue;
			if (b->pid != a->pid)
				other = true;
			any_w |= writable(b->accmode);
			if (b->pid != a->pid && (S_ISCHR(a->mode) || S_ISBLK(a->mode))) {
				bool known;
				same_ofd |= same_description(a->pid, a->fd, b->pid, b->fd, &known);
				ofd_unknown |= !known;
			}
		}
		if (!other)
			continue;
		bool stateful = S_ISDIR(a->mode) || S_ISSOCK(a->mode) || S_ISFIFO(a->mode) || any_w;
		/* Two separate opens of a device node (/dev/null, /dev/urandom) share
		 * no state; the same open file description does. */
		if ((S_ISCHR(a->mode) || S_ISBLK(a->mode)) && !same_ofd && !ofd_unknown)
			stateful = false;
		if (!stateful) {
			shared_ro++;
			if (o->verbose)
				fprintf(out, "  shared read-only (allowed): %s %s\n", kind(a->mode), a->target);
			for (size_t j = i; j < fds.n; j++)
				if (fds.v[j].dev == a->dev && fds.v[j].ino == a->ino)
					fds.v[j].done = true;
			continue;
		}
		violations++;
		fprintf(out, "VIOLATION shared-writable: %s %s (dev %u:%u inode %llu) held by",
		        kind(a->mode), a->target, major(a->dev), minor(a->dev),
		        (unsigned long long)a->ino);
		const char *sep = " ";
		for (size_t j = i; j < fds.n; j++) {
			struct fd_obj *b = &fds.v[j];
			if (b->done || b->dev != a->dev || b->ino != a->ino)
				continue;
			fprintf(out, "%spid %d fd %d (%s)", sep, (int)b->pid, b->fd, accname(b->accmode));
			sep = ", ";
			b->done = true;
		}
		fprintf(out, "\n");
	}
	if (o->verbose || shared_ro)
		fprintf(out, "note: %zu read-only object(s) shared between instances (allowed)\n",
		        shared_ro);

	/* The hypervisor anywhere else on the machine. */
	DIR *d = opendir("/proc");
	size_t unreadable = 0;
	pid_t self = getpid();
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (!is_pid_name(de->d_name))
			continue;
		pid_t p = (pid_t)atoi(de->d_name);
		bool member = p == launcher || p == self;
		for (size_t i = 0; !member && i < np; i++)
			member = pids[i] == p;
		if (member)
			continue;
		struct fd_list pf = { 0 };
		int r = read_fds(p, &pf);
		if (r == -EACCES || r == -EPERM)
			unreadable++;
		for (size_t i = 0; i < pf.n; i++) {
			if (!is_hv(&pf.v[i], hv_rdev, hv_path) && !is_kvm_handle(&pf.v[i]))
				continue;
			char comm[64];
			comm_of(p, comm, sizeof(comm));
			fprintf(out, "VIOLATION hypervisor-outside-collection: pid %d (%s) fd %d -> %s\n",
			        (int)p, comm, pf.v[i].fd, pf.v[i].target);
			violations++;
		}
		free(pf.v);
	}
	if (d)
		closedir(d);
	if (unreadable)
		fprintf(out, "note: %zu process(es) could not be inspected (permission denied): run "
		             "the audit as root to cover them\n", unreadable);
	free(fds.v);
	free(lfds.v);
	if (violations)
		fprintf(out, "audit: %d violation(s)\n", violations);
	else
		fprintf(out, "audit: OK: no writable file, directory or socket is shared between "
		             "instances; the hypervisor is held only by the launcher and its "
		             "instances\n");
	return violations;
}
