/* base/cli_table.c - see cli_table.h. */
#include "base/cli_table.h"

#include <assert.h>

#include "base/cli_args.h"

/* getopt_long returns OPT_BASE + an option's index in the table. */
#define OPT_BASE 256

static const struct cli_opt *entry(const struct cli_parser *p, size_t i)
{
	return (const struct cli_opt *)(const void *)(p->table + i * p->stride);
}

void cli_parser_init(struct cli_parser *p, const void *table, size_t n, size_t stride,
                     bool own_errors)
{
	assert(n <= CLI_MAX_OPTIONS && stride >= sizeof(struct cli_opt));
	p->table = table;
	p->n = n;
	p->stride = stride;
	size_t ns = 0;
	/* ':' first: a missing value is told apart from an unknown option. */
	if (own_errors)
		p->shortopts[ns++] = ':';
	for (size_t i = 0; i < n; i++) {
		const struct cli_opt *o = entry(p, i);
		p->longopts[i] = (struct option){ o->name, o->arg ? required_argument : no_argument,
			                          NULL, OPT_BASE + (int)i };
		if (o->short_name) {
			p->shortopts[ns++] = o->short_name;
			if (o->arg)
				p->shortopts[ns++] = ':';
		}
	}
	p->longopts[n] = (struct option){ 0, 0, 0, 0 };
	p->shortopts[ns] = '\0';
	opterr = own_errors ? 0 : 1;
	optind = 1;
}

int cli_parser_next(struct cli_parser *p, int argc, char **argv, char **arg)
{
	*arg = NULL;
	int c = getopt_long(argc, argv, p->shortopts, p->longopts, NULL);
	if (c == -1)
		return CLI_DONE;
	if (c == ':')
		return CLI_NEEDS_VALUE;
	if (c >= OPT_BASE && (size_t)(c - OPT_BASE) < p->n) {
		*arg = optarg;
		return c - OPT_BASE;
	}
	for (size_t k = 0; k < p->n && c != '?'; k++)
		if (entry(p, k)->short_name == c) {
			*arg = optarg;
			return (int)k;
		}
	return CLI_UNKNOWN;
}

void cli_help_option(FILE *f, int width, const struct cli_opt *o)
{
	if (!o->help)
		return;
	char left[64], s[8] = "";
	if (o->short_name)
		snprintf(s, sizeof(s), "-%c, ", o->short_name);
	snprintf(left, sizeof(left), "%s--%s%s%s", s, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	cli_help_entry(f, width, left, o->help);
}
