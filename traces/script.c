/* traces/script.c - parse and write the text exit script; see script.h.
 *
 * The parser trusts nothing: every field is checked for form and range, every
 * line and the event count are bounded, and a failure names the line and the
 * reason. The recorder half is in script_recorder.c.
 */
#include "script.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "traces/trace_internal.h"

#define HEADER "vmm-script 1"
#define MAX_TOKENS 8

bool script_exit_kind_valid(enum hv_exit_kind k)
{
	switch (k) {
	case HV_EXIT_MEM_READ:
	case HV_EXIT_MEM_WRITE:
	case HV_EXIT_IO_IN:
	case HV_EXIT_IO_OUT:
	case HV_EXIT_BELL:
	case HV_EXIT_HALT:
	case HV_EXIT_SHUTDOWN:
	case HV_EXIT_FAILURE:
		return true;
	case HV_EXIT_KICK: /* the backend's business, not the guest's */
	case HV_EXIT_END:
		break;
	}
	return false;
}

bool script_exit_is_read(enum hv_exit_kind k)
{
	return k == HV_EXIT_MEM_READ || k == HV_EXIT_IO_IN;
}

bool script_exit_is_access(enum hv_exit_kind k)
{
	return k == HV_EXIT_MEM_READ || k == HV_EXIT_MEM_WRITE || k == HV_EXIT_IO_IN ||
	       k == HV_EXIT_IO_OUT || k == HV_EXIT_BELL;
}

static bool device_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.';
}

bool script_device_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > SCRIPT_MAX_DEVICE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!device_char(name[i]))
			return false;
	return true;
}

void script_free(struct script *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->ev[i].data);
	free(s->ev);
	s->ev = NULL;
	s->n = 0;
}

/* ---- parsing ---- */

struct parser {
	const char *name;
	unsigned line;
	size_t max_events;
	char *err;
	size_t errlen;
};

static int perr(struct parser *p, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int perr(struct parser *p, int rc, const char *fmt, ...)
{
	char where[PATH_MAX + 16];
	snprintf(where, sizeof(where), "%s:%u", p->name, p->line);
	va_list ap;
	va_start(ap, fmt);
	trace_verrf_at(p->err, p->errlen, rc, where, fmt, ap);
	va_end(ap);
	return rc;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 1-16 hex digits, no prefix: one canonical spelling per value keeps
 * scripts diffable. */
static bool parse_hex(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	if (n == 0 || n > 16)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		int d = hexval(s[i]);
		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return true;
}

/* Decimal, no sign, at most max. */
static bool parse_dec(const char *s, uint64_t max, uint64_t *out)
{
	size_t n = strlen(s);
	if (n == 0 || n > 10)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static int parse_exit(struct parser *p, char **t, int nt, struct script_event *e)
{
	uint64_t vcpu, addr, size, data, value = 0;
	if (nt != 6 && nt != 8)
		return perr(p, -EINVAL, "exit needs <vcpu> <kind> <addr> <size> <data> [= <value>], got %d fields", nt - 1);
	if (!parse_dec(t[1], HV_MAX_VCPUS - 1, &vcpu))
		return perr(p, -EINVAL, "bad vcpu '%s' (decimal, below %d)", t[1], HV_MAX_VCPUS);
	enum hv_exit_kind kind = hv_exit_kind_from_name(t[2]);
	if (!script_exit_kind_valid(kind))
		return perr(p, -EINVAL, "unknown exit kind '%s'", t[2]);
	if (!parse_hex(t[3], &addr))
		return perr(p, -EINVAL, "bad address '%s' (hex, no 0x)", t[3]);
	if (!parse_dec(t[4], 8, &size))
		return perr(p, -EINVAL, "bad size '%s'", t[4]);
	if (!parse_hex(t[5], &data))
		return perr(p, -EINVAL, "bad data '%s' (hex, no 0x)", t[5]);
	bool has_value = nt == 8;
	if (has_value && strcmp(t[6], "=") != 0)
		return perr(p, -EINVAL, "expected '=' before the read value, got '%s'", t[6]);
	if (has_value && !parse_hex(t[7], &value))
		return perr(p, -EINVAL, "bad read value '%s' (hex, no 0x)", t[7]);
	if (script_exit_is_read(kind) != has_value)
		return perr(p, -EINVAL, "%s %s a read value", t[2],
		            has_value ? "must not have" : "needs");
	if (script_exit_is_access(kind)) {
		if (size != 1 && size != 2 && size != 4 && size != 8)
			return perr(p, -EINVAL, "size %" PRIu64 " is not 1, 2, 4 or 8", size);
		if (script_exit_is_read(kind) && data != 0)
			return perr(p, -EINVAL, "a read's data field must be 0");
		if (data & ~script_size_mask((unsigned)size))
			return perr(p, -EINVAL, "data %" PRIx64 " wider than %" PRIu64 " bytes", data, size);
		if (value & ~script_size_mask((unsigned)size))
			return perr(p, -EINVAL, "read value %" PRIx64 " wider than %" PRIu64 " bytes", value, size);
		if ((kind == HV_EXIT_IO_IN || kind == HV_EXIT_IO_OUT) && addr > 0xffff)
			return perr(p, -EINVAL, "port %" PRIx64 " above ffff", addr);
		if (addr + size - 1 < addr)
			return perr(p, -EINVAL, "access wraps past the top of the address space");
	} else {
		if (addr != 0 || size != 0)
			return perr(p, -EINVAL, "%s takes address 0 and size 0", t[2]);
		if (data > UINT32_MAX || (kind == HV_EXIT_HALT && data != 0))
			return perr(p, -EINVAL, "bad %s reason '%s'", t[2], t[5]);
	}
	e->type = SCRIPT_EXIT;
	e->vcpu = (unsigned)vcpu;
	e->exit.kind = kind;
	e->exit.addr = addr;
	e->exit.size = (uint8_t)size;
	if (script_exit_is_access(kind))
		e->exit.data = data;
	else
		e->exit.reason = (uint32_t)data;
	e->read_value = value;
	return 0;
}

static int parse_irq(struct parser *p, char **t, int nt, struct script_event *e)
{
	uint64_t gsi, level;
	if (nt != 3)
		return perr(p, -EINVAL, "irq needs <gsi> <level>, got %d fields", nt - 1);
	if (!parse_dec(t[1], SCRIPT_MAX_GSI, &gsi))
		return perr(p, -EINVAL, "bad gsi '%s' (decimal, at most %d)", t[1], SCRIPT_MAX_GSI);
	if (!parse_dec(t[2], 1, &level))
		return perr(p, -EINVAL, "bad level '%s' (0 or 1)", t[2]);
	e->type = SCRIPT_IRQ;
	e->gsi = (uint32_t)gsi;
	e->level = (int)level;
	return 0;
}

/* out <device> <bytes>, in <device> <bytes>, memr|memw <gpa> <bytes> */
static int parse_out(struct parser *p, char **t, int nt, struct script_event *e,
                     enum script_event_type type)
{
	bool mem = type == SCRIPT_MEMR || type == SCRIPT_MEMW;
	if (nt != 3)
		return perr(p, -EINVAL, "%s needs <%s> <hex-bytes>, got %d fields", t[0],
		            mem ? "gpa" : "device", nt - 1);
	size_t dl = strlen(t[1]);
	if (mem) {
		if (!parse_hex(t[1], &e->gpa))
			return perr(p, -EINVAL, "bad address '%s' (hex, no 0x)", t[1]);
	} else {
		if (dl > SCRIPT_MAX_DEVICE)
			return perr(p, -EINVAL, "device name longer than %d", SCRIPT_MAX_DEVICE);
		if (!script_device_name_ok(t[1]))
			return perr(p, -EINVAL, "bad device name '%s' ([a-z0-9._-])", t[1]);
	}
	size_t hl = strlen(t[2]);
	if (mem && e->gpa + hl / 2 - 1 < e->gpa)
		return perr(p, -EINVAL, "memory range wraps past the top of the address space");
	if (hl % 2)
		return perr(p, -EINVAL, "odd number of hex digits in output bytes");
	for (size_t i = 0; i < hl; i++)
		if (hexval(t[2][i]) < 0)
			return perr(p, -EINVAL, "bad hex digit '%c' in output bytes", t[2][i]);
	e->data = malloc(hl / 2);
	if (!e->data)
		return perr(p, -ENOMEM, "out of memory");
	for (size_t i = 0; i < hl / 2; i++)
		e->data[i] = (uint8_t)(hexval(t[2][2 * i]) << 4 | hexval(t[2][2 * i + 1]));
	e->len = hl / 2;
	e->type = type;
	if (!mem)
		memcpy(e->device, t[1], dl + 1);
	return 0;
}

/* Split line (modified in place) on spaces and tabs. Returns the count, or
 * MAX_TOKENS + 1 when there are too many. */
static int tokenize(char *line, char **t)
{
	int n = 0;
	char *s = line;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			return n;
		if (n == MAX_TOKENS)
			return MAX_TOKENS + 1;
		t[n++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
		if (*s)
			*s++ = 0;
	}
}

static int parse_line(struct parser *p, char *line, struct script *s, size_t *cap)
{
	char *t[MAX_TOKENS];
	int nt = tokenize(line, t);
	if (nt == 0 || t[0][0] == '#')
		return 0;
	if (nt > MAX_TOKENS)
		return perr(p, -EINVAL, "too many fields");
	if (s->n >= p->max_events)
		return perr(p, -E2BIG, "more than %zu events", p->max_events);
	if (s->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct script_event *ev = realloc(s->ev, nc * sizeof(*ev));
		if (!ev)
			return perr(p, -ENOMEM, "out of memory");
		s->ev = ev;
		*cap = nc;
	}
	struct script_event *e = &s->ev[s->n];
	memset(e, 0, sizeof(*e));
	e->line = p->line;
	int r;
	if (strcmp(t[0], "exit") == 0)
		r = parse_exit(p, t, nt, e);
	else if (strcmp(t[0], "irq") == 0)
		r = parse_irq(p, t, nt, e);
	else if (strcmp(t[0], "out") == 0)
		r = parse_out(p, t, nt, e, SCRIPT_OUT);
	else if (strcmp(t[0], "in") == 0)
		r = parse_out(p, t, nt, e, SCRIPT_IN);
	else if (strcmp(t[0], "host") == 0) {
		/* host <device> <bytes> [= <taken>]: taken defaults to all. */
		bool with_taken = nt == 5 && strcmp(t[3], "=") == 0;
		r = parse_out(p, t, with_taken ? 3 : nt, e, SCRIPT_HOST);
		if (r == 0) {
			e->read_value = e->len;
			if (with_taken && (!parse_hex(t[4], &e->read_value) || e->read_value > e->len)) {
				free(e->data);
				e->data = NULL;
				r = perr(p, -EINVAL, "bad taken count '%s' (hex, at most the bytes offered)",
				         t[4]);
			}
		}
	}
	else if (strcmp(t[0], "memr") == 0)
		r = parse_out(p, t, nt, e, SCRIPT_MEMR);
	else if (strcmp(t[0], "memw") == 0)
		r = parse_out(p, t, nt, e, SCRIPT_MEMW);
	else
		r = perr(p, -EINVAL, "unknown event '%.32s'", t[0]);
	if (r == 0)
		s->n++;
	return r;
}

int script_parse_string(const char *name, const char *text, size_t len,
                        struct script *out, char *err, size_t errlen)
{
	return script_parse_string_max(name, text, len, SCRIPT_MAX_EVENTS, out, err, errlen);
}

int script_parse_string_max(const char *name, const char *text, size_t len,
                            size_t max_events, struct script *out, char *err,
                            size_t errlen)
{
	if (max_events > SCRIPT_MAX_EVENTS)
		max_events = SCRIPT_MAX_EVENTS;
	struct parser p = { name ? name : "<script>", 0, max_events, err, errlen };
	struct script s = { NULL, 0, false };
	size_t cap = 0;
	int r = 0;
	if (err && errlen)
		err[0] = 0;
	out->ev = NULL;
	out->n = 0;
	if (!text)
		len = 0;
	char *buf = malloc(SCRIPT_MAX_LINE + 2);
	if (!buf)
		return -ENOMEM;
	size_t pos = 0;
	while (pos < len) {
		p.line++;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		if (ll && text[pos + ll - 1] == '\r')
			ll--; /* tolerate files edited on other systems */
		if (ll > SCRIPT_MAX_LINE) {
			r = perr(&p, -E2BIG, "line longer than %d bytes", SCRIPT_MAX_LINE);
			break;
		}
		if (memchr(text + pos, 0, ll)) {
			r = perr(&p, -EINVAL, "NUL byte in line");
			break;
		}
		memcpy(buf, text + pos, ll);
		buf[ll] = 0;
		pos += nl ? (size_t)(nl - (text + pos)) + 1 : len - pos;
		if (p.line == 1) {
			if (strcmp(buf, HEADER) != 0) {
				r = perr(&p, -EINVAL, "first line must be '" HEADER "'");
				break;
			}
			continue;
		}
		r = parse_line(&p, buf, &s, &cap);
		if (r)
			break;
	}
	if (!r && p.line == 0) {
		p.line = 1;
		r = perr(&p, -EINVAL, "empty script: first line must be '" HEADER "'");
	}
	free(buf);
	if (r) {
		script_free(&s);
		return r;
	}
	*out = s;
	return 0;
}

int script_parse_file(const char *path, struct script *out, char *err, size_t errlen)
{
	out->ev = NULL;
	out->n = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	/* Bounded read: a script can never need more than its limits allow. */
	const size_t max = (size_t)SCRIPT_MAX_EVENTS * 64;
	size_t cap = 4096, len = 0;
	char *text = malloc(cap);
	int r = 0;
	while (text) {
		if (len == cap) {
			if (cap >= max) {
				snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
				r = -E2BIG;
				break;
			}
			char *nt = realloc(text, cap * 2);
			if (!nt)
				break;
			text = nt;
			cap *= 2;
		}
		size_t got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				snprintf(err, errlen, "%s: read error", path);
				r = -EIO;
			}
			break;
		}
	}
	fclose(f);
	if (!text && !r) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	if (!r)
		r = script_parse_string(path, text, len, out, err, errlen);
	free(text);
	return r;
}

/* ---- writing ---- */

int script_format_event(const struct script_event *e, char *buf, size_t len)
{
	int n = 0;
	switch (e->type) {
	case SCRIPT_EXIT: {
		if (!script_exit_kind_valid(e->exit.kind))
			return -EINVAL;
		const char *k = hv_exit_kind_name(e->exit.kind);
		if (!script_exit_is_access(e->exit.kind))
			return snprintf(buf, len, "exit %u %s 0 0 %" PRIx32, e->vcpu, k,
			                e->exit.reason);
		n = snprintf(buf, len, "exit %u %s %" PRIx64 " %u %" PRIx64, e->vcpu, k,
		             e->exit.addr, e->exit.size, e->exit.data);
		if (n >= 0 && script_exit_is_read(e->exit.kind)) {
			size_t used = (size_t)n < len ? (size_t)n : len;
			int m = snprintf(buf + used, len - used, " = %" PRIx64, e->read_value);
			n = m < 0 ? m : n + m;
		}
		return n;
	}
	case SCRIPT_IRQ:
		return snprintf(buf, len, "irq %" PRIu32 " %d", e->gsi, e->level);
	case SCRIPT_OUT:
	case SCRIPT_IN:
	case SCRIPT_HOST:
	case SCRIPT_MEMR:
	case SCRIPT_MEMW: {
		if (!e->len || !e->data)
			return -EINVAL;
		if (e->type == SCRIPT_OUT || e->type == SCRIPT_IN || e->type == SCRIPT_HOST)
			n = snprintf(buf, len, "%s %s ", e->type == SCRIPT_OUT ? "out"
			                               : e->type == SCRIPT_IN ? "in" : "host",
			             e->device);
		else
			n = snprintf(buf, len, "%s %" PRIx64 " ", e->type == SCRIPT_MEMR ? "memr" : "memw",
			             e->gpa);
		if (n < 0)
			return n;
		for (size_t i = 0; i < e->len; i++) {
			size_t used = (size_t)n < len ? (size_t)n : len;
			int m = snprintf(buf + used, len - used, "%02x", e->data[i]);
			if (m < 0)
				return m;
			n += m;
		}
		if (e->type == SCRIPT_HOST && e->read_value != e->len) {
			size_t used = (size_t)n < len ? (size_t)n : len;
			int m = snprintf(buf + used, len - used, " = %" PRIx64, e->read_value);
			n = m < 0 ? m : n + m;
		}
		return n;
	}
	}
	return -EINVAL;
}

/* One event and its newline; an output too long for one line becomes
 * several (replay matches output as a byte stream per device). */
static int write_event(FILE *f, const struct script_event *e)
{
	/* Only output is a stream that may be split; memory and input records
	 * must stay whole. */
	if (e->type != SCRIPT_OUT && e->type != SCRIPT_EXIT && e->type != SCRIPT_IRQ &&
	    e->len > SCRIPT_OUT_MAX_BYTES)
		return -E2BIG;
	if (e->type == SCRIPT_OUT && e->len > SCRIPT_OUT_MAX_BYTES) {
		struct script_event part = *e;
		for (size_t off = 0; off < e->len; off += part.len) {
			part.data = e->data + off;
			part.len = e->len - off < SCRIPT_OUT_MAX_BYTES ? e->len - off
			                                               : SCRIPT_OUT_MAX_BYTES;
			int r = write_event(f, &part);
			if (r)
				return r;
		}
		return 0;
	}
	char small[160];
	int n = script_format_event(e, small, sizeof(small));
	if (n < 0)
		return n;
	char *buf = small;
	if ((size_t)n >= sizeof(small)) {
		buf = malloc((size_t)n + 1);
		if (!buf)
			return -ENOMEM;
		script_format_event(e, buf, (size_t)n + 1);
	}
	int r = fprintf(f, "%s\n", buf) < 0 ? -EIO : 0;
	if (buf != small)
		free(buf);
	return r;
}

int script_write_header(FILE *f)
{
	return fprintf(f, HEADER "\n") < 0 ? -EIO : 0;
}

int script_write_event(FILE *f, const struct script_event *e)
{
	return write_event(f, e);
}

int script_write(FILE *f, const struct script *s)
{
	int r = script_write_header(f);
	for (size_t i = 0; !r && i < s->n; i++)
		r = write_event(f, &s->ev[i]);
	if (!r && fflush(f) != 0)
		r = -EIO;
	return r;
}
