/* fuzz/driver.c - see harness.h. Under afl-clang-fast, AFL++'s persistent
 * mode with shared-memory test cases (no fork or file per input); otherwise
 * a replayer: every argument is a file or a folder of files, each run once,
 * in name order. */
#include "harness.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fuzz oracle failed: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

#ifdef __AFL_FUZZ_TESTCASE_LEN

__AFL_FUZZ_INIT();

int main(void)
{
	fuzz_init();
#ifdef __AFL_HAVE_MANUAL_CONTROL
	__AFL_INIT();
#endif
	unsigned char *buf = __AFL_FUZZ_TESTCASE_BUF;
	while (__AFL_LOOP(10000)) {
		size_t len = __AFL_FUZZ_TESTCASE_LEN;
		if (len > FUZZ_MAX_INPUT)
			len = FUZZ_MAX_INPUT;
		/* A private copy: harnesses may keep pointers past the call. */
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, buf, len);
		fuzz_one(copy, len);
		free(copy);
	}
	return 0;
}

#else

static unsigned ran;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	uint8_t *buf = malloc(FUZZ_MAX_INPUT);
	size_t len = fread(buf, 1, FUZZ_MAX_INPUT, f);
	fclose(f);
	/* Exactly len bytes, so a sanitizer sees any read past the input. */
	uint8_t *exact = malloc(len ? len : 1);
	memcpy(exact, buf, len);
	free(buf);
	fuzz_one(exact, len);
	free(exact);
	ran++;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		/* Skip dot files and the README that describes a corpus. */
		if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0)
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", path, names[i]);
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "%s\n", p);
		rc |= run_path(p);
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...  (replays each input once)\n", argv[0]);
		return 2;
	}
	fuzz_init();
	int rc = 0;
	for (int i = 1; i < argc; i++)
		rc |= run_path(argv[i]);
	printf("%s: %u inputs replayed, oracle held\n", argv[0], ran);
	return rc ? 1 : 0;
}

#endif
