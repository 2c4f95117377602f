/* base/cli_args.h - strict parsing of command-line numbers and sizes.
 *
 * Owns: turning "256M", "2G", "1048576" and "4" into integers with a precise
 * error for anything else (empty, sign, junk, overflow), shared by every
 * command-line program; and the layout of one entry in a --help listing.
 */
#ifndef BASE_CLI_ARGS_H
#define BASE_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Bytes, with an optional K/M/G/T suffix (powers of 1024, optional "iB"/"B"). */
int parse_size(const char *s, uint64_t *out, char *err, size_t errlen);
/* Decimal unsigned integer in [min, max]. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
               size_t errlen);

/* One --help entry: two spaces, name in a field of width columns (followed
 * by two spaces instead when it fills the field), then text; each further
 * line of text (lines split by '\n') indented to the text's column. */
void cli_help_entry(FILE *f, int width, const char *name, const char *text);

/* A bad command line, said the one way every program says it on stderr:
 * "WHO: WHAT" and "Try 'WHO --help'."; returns 2, the usage exit status. */
int cli_usage_error(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
