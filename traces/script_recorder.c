/* traces/script_recorder.c - an ev_sink that appends to a script; see script.h.
 *
 * The vmm announces a device's outputs (irq, host bytes) while it handles an
 * exit and the exit itself only afterwards. The script lists an exit first
 * and its consequences after it, because that is the order the replayer
 * needs: hand out the exit, then check what the vmm did with it. So outputs
 * wait in `held` until the next exit_handled, then follow its line.
 */
#include "script.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Bound on held-back outputs between two exits: a device that produces more
 * while handling one access is broken; the recorder says so instead of
 * growing without limit. */
#define MAX_HELD 4096

struct script_writer {
	FILE *f;
	bool own;
	pthread_mutex_t lock;
	int err; /* first error; later writes are skipped */
	struct script_event held[MAX_HELD];
	size_t nheld;
};

static struct script_writer *writer_new(FILE *f, bool own)
{
	struct script_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->f = f;
	w->own = own;
	pthread_mutex_init(&w->lock, NULL);
	w->err = script_write_header(f);
	return w;
}

struct script_writer *script_writer_open(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct script_writer *w = writer_new(f, true);
	if (!w) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
	}
	return w;
}

struct script_writer *script_writer_stream(FILE *f)
{
	return f ? writer_new(f, false) : NULL;
}

static void put(struct script_writer *w, const struct script_event *e)
{
	if (!w->err)
		w->err = script_write_event(w->f, e);
}

static void flush_held(struct script_writer *w)
{
	for (size_t i = 0; i < w->nheld; i++) {
		put(w, &w->held[i]);
		free(w->held[i].data);
	}
	w->nheld = 0;
}

/* Room for one more held output, or NULL after recording the overflow. */
static struct script_event *hold(struct script_writer *w)
{
	if (w->nheld == MAX_HELD) {
		if (!w->err)
			w->err = -E2BIG;
		return NULL;
	}
	struct script_event *e = &w->held[w->nheld];
	memset(e, 0, sizeof(*e));
	return e;
}

static void rec_exit(void *ctx, unsigned vcpu, const struct hv_exit *x, uint64_t read_value)
{
	struct script_writer *w = ctx;
	struct script_event e = { .type = SCRIPT_EXIT, .vcpu = vcpu, .exit = *x };
	if (script_exit_is_read(x->kind))
		e.read_value = read_value;
	pthread_mutex_lock(&w->lock);
	/* A kick or an end is the backend's business, not the guest's. */
	if (script_exit_kind_valid(x->kind))
		put(w, &e);
	flush_held(w);
	pthread_mutex_unlock(&w->lock);
}

static void rec_irq(void *ctx, uint32_t gsi, int level)
{
	struct script_writer *w = ctx;
	pthread_mutex_lock(&w->lock);
	struct script_event *e = hold(w);
	if (e) {
		e->type = SCRIPT_IRQ;
		e->gsi = gsi;
		e->level = level ? 1 : 0;
		w->nheld++;
	}
	pthread_mutex_unlock(&w->lock);
}

static void rec_output(void *ctx, const char *device, const void *data, uint64_t len)
{
	struct script_writer *w = ctx;
	if (!len || !data || !device)
		return;
	pthread_mutex_lock(&w->lock);
	struct script_event *last = w->nheld ? &w->held[w->nheld - 1] : NULL;
	/* Consecutive bytes to one device become one line: the UART sends one
	 * byte per call and a line per byte would bury the exits. */
	if (last && last->type == SCRIPT_OUT && strcmp(last->device, device) == 0 &&
	    len <= SIZE_MAX - last->len) {
		uint8_t *nd = realloc(last->data, last->len + len);
		if (nd) {
			memcpy(nd + last->len, data, len);
			last->data = nd;
			last->len += len;
		} else if (!w->err) {
			w->err = -ENOMEM;
		}
		pthread_mutex_unlock(&w->lock);
		return;
	}
	struct script_event *e = hold(w);
	if (e) {
		e->type = SCRIPT_OUT;
		snprintf(e->device, sizeof(e->device), "%s", device);
		e->data = malloc(len);
		if (e->data) {
			memcpy(e->data, data, len);
			e->len = len;
			w->nheld++;
		} else if (!w->err) {
			w->err = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&w->lock);
}

int script_writer_close(struct script_writer *w)
{
	if (!w)
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	flush_held(w); /* outputs after the last exit still belong in the file */
	if (!w->err && fflush(w->f) != 0)
		w->err = -EIO;
	int r = w->err;
	pthread_mutex_unlock(&w->lock);
	if (w->own && fclose(w->f) != 0 && !r)
		r = -EIO;
	pthread_mutex_destroy(&w->lock);
	free(w);
	return r;
}

struct ev_sink script_recorder_sink(struct script_writer *w)
{
	struct ev_sink s = { .ctx = w, .exit_handled = rec_exit, .irq = rec_irq,
	                     .host_output = rec_output };
	return s;
}
