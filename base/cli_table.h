/* base/cli_table.h - command lines parsed from a table of options.
 *
 * Owns: turning a program's option table into getopt_long's arrays, walking
 * argv against it, and printing each option's --help entry from the same
 * table, so that what a program accepts and what its --help says cannot
 * drift apart. A program's own option entry begins with a struct cli_opt
 * (what getopt and --help need) and adds what it does with the option.
 */
#ifndef BASE_CLI_TABLE_H
#define BASE_CLI_TABLE_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct cli_opt {
	const char *name;  /* the long option, without "--" */
	char short_name;   /* also -x; 0: none */
	const char *arg;   /* the argument's name in --help; NULL: takes no argument */
	const char *help;  /* --help text, lines split by '\n'; NULL: not listed */
};

#define CLI_MAX_OPTIONS 64

struct cli_parser {
	const unsigned char *table;
	size_t n, stride;
	struct option longopts[CLI_MAX_OPTIONS + 1];
	char shortopts[2 * CLI_MAX_OPTIONS + 2];
};

enum {
	CLI_DONE = -1,        /* no more options (operands may follow at optind) */
	CLI_NEEDS_VALUE = -2, /* an option that takes a value came without one */
	CLI_UNKNOWN = -3,     /* not an option of the table */
};

/* Prepare to walk argv (from argv[1]) against table: n entries, stride bytes
 * apart, each beginning with a struct cli_opt (n <= CLI_MAX_OPTIONS). With
 * own_errors getopt prints nothing and a missing value is CLI_NEEDS_VALUE;
 * without, getopt's own message comes first and both are CLI_UNKNOWN. */
void cli_parser_init(struct cli_parser *p, const void *table, size_t n, size_t stride,
                     bool own_errors);
/* The next option's index in the table, with its value in *arg (NULL for
 * none), or CLI_DONE / CLI_NEEDS_VALUE / CLI_UNKNOWN. */
int cli_parser_next(struct cli_parser *p, int argc, char **argv, char **arg);

/* The option's --help entry (cli_help_entry) in a field of width columns:
 * "[-x, ]--name[ ARG]"; nothing when it has no help text. */
void cli_help_option(FILE *f, int width, const struct cli_opt *o);

#endif
