/* base/cli_args.c - see cli_args.h. */
#include "base/cli_args.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int digits(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	const char *p = s;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	*end = p;
	return 0;
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
               size_t errlen)
{
	uint64_t v;
	const char *end;
	int r = s ? digits(s, &v, &end) : -EINVAL;
	if (r == -ERANGE || (r == 0 && *end == '\0' && (v < min || v > max))) {
		snprintf(err, errlen, "'%s' is out of range (%llu to %llu)", s,
		         (unsigned long long)min, (unsigned long long)max);
		return -ERANGE;
	}
	if (r < 0 || *end != '\0') {
		snprintf(err, errlen, "'%s' is not a whole number", s ? s : "");
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out, char *err, size_t errlen)
{
	uint64_t v;
	const char *end;
	int r = s ? digits(s, &v, &end) : -EINVAL;
	if (r == -ERANGE) {
		snprintf(err, errlen, "'%s' is too large", s);
		return r;
	}
	if (r < 0) {
		snprintf(err, errlen, "'%s' is not a size (examples: 256M, 2G, 1048576)", s ? s : "");
		return r;
	}
	unsigned shift = 0;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K': shift = 10; break;
		case 'M': shift = 20; break;
		case 'G': shift = 30; break;
		case 'T': shift = 40; break;
		default:
			snprintf(err, errlen, "'%s': unknown size suffix '%s' (use K, M, G or T)", s, end);
			return -EINVAL;
		}
		end++;
		if (strcasecmp(end, "") != 0 && strcasecmp(end, "B") != 0 && strcasecmp(end, "iB") != 0) {
			snprintf(err, errlen, "'%s': junk after the size suffix", s);
			return -EINVAL;
		}
	}
	if (shift && v > (UINT64_MAX >> shift)) {
		snprintf(err, errlen, "'%s' is too large", s);
		return -ERANGE;
	}
	*out = v << shift;
	return 0;
}

void cli_help_entry(FILE *f, int width, const char *name, const char *text)
{
	fprintf(f, "  %-*s%s", width, name, strlen(name) >= (size_t)width ? "  " : "");
	for (const char *line = text; *line;) {
		size_t n = strcspn(line, "\n");
		if (line != text)
			fprintf(f, "%*s", width + 2, "");
		fprintf(f, "%.*s\n", (int)n, line);
		line += n + (line[n] == '\n');
	}
}

int cli_usage_error(const char *who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", who);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", who);
	return 2;
}
