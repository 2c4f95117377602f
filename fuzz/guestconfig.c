/* fuzz/guestconfig.c - GuestLifecycle.Create bytes -> fv_dec_create_req ->
 * gc_validate, with the model (model/guest_config_model.c) as oracle.
 *
 * Input: byte 0's low 3 bits = number of handles n (at most 6), bytes 1..n =
 * the kind of each handle (a PVH kernel, a ZBI, read-only, write-only and
 * read-write files, a socket), then the message (16-byte header + body).
 * Oracle: no crash; no fd leaked whether decoding succeeds or fails; for a
 * decodable config, gc_validate and the model agree (tests/lib/model_glue.h:
 * accept/reject and the field named; known divergences are allowed). */
#include "vmm/guest_config_check.h"
#include "harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fidl/virtualization.h"
#include "tests/lib/mini_kernel.h"
#include "tests/lib/model_glue.h"
#include "base/log.h"

#define MAX_VCPUS 8

static int pvh, zbi;
static struct fidl_msg msg;

void fuzz_init(void)
{
	log_set_level(LOG_ERROR);
	pvh = mini_pvh_kernel();
	uint32_t w[8] = { 0x544f4f42u, 0, 0x868cf7e6u, 0, 0, 0, 0xb5781729u, 0 };
	zbi = memfd_with(w, sizeof(w));
	if (pvh < 0 || zbi < 0)
		abort();
}

/* A fresh fd of the given kind; the message owns it. */
static int make_handle(uint8_t kind)
{
	switch (kind % 6) {
	case 0: return dup(pvh);
	case 1: return dup(zbi);
	case 2: return open("/dev/null", O_RDONLY | O_CLOEXEC);
	case 3: return open("/dev/null", O_WRONLY | O_CLOEXEC);
	case 4: return memfd_create("rw", MFD_CLOEXEC);
	default: {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
			return -1;
		close(sv[1]);
		return sv[0];
	}
	}
}

/* The lowest free fd number: equal before and after means nothing leaked. */
static int lowest_free_fd(void)
{
	int fd = dup(0);
	close(fd);
	return fd;
}

void fuzz_one(const uint8_t *data, size_t len)
{
	if (len < 1)
		return;
	unsigned nh = data[0] & 7;
	if (nh > 6)
		nh = 6;
	if (len < 1 + nh)
		return;
	const uint8_t *body = data + 1 + nh;
	size_t blen = len - 1 - nh;
	if (blen > FIDL_MAX_MSG_BYTES)
		blen = FIDL_MAX_MSG_BYTES;
	int before = lowest_free_fd();
	fidl_msg_reset(&msg);
	memcpy(msg.bytes, body, blen);
	msg.num_bytes = (uint32_t)blen;
	msg.num_handles = nh;
	for (unsigned i = 0; i < nh; i++)
		msg.handles[i] = make_handle(data[1 + i]);

	struct fidl_dec d;
	struct guest_config c;
	gc_init(&c);
	if (fidl_dec_init(&d, &msg) == ZX_OK && fv_dec_create_req(&d, &c) == ZX_OK) {
		char err[512];
		struct mg_glue g;
		glue_config(&g, &c);
		struct mg_vmm vmm = glue_vmm(MAX_VCPUS);
		struct mg_verdict v;
		mg_check(&g.cfg, &vmm, &v);
		glue_free(&g);
		bool ok = gc_validate(&c, MAX_VCPUS, err, sizeof(err)) == GUEST_OK;
		if (glue_compare(ok, err, &v) == GLUE_DISAGREE) {
			char rules[512] = "";
			for (int r = 0; r < MG_R_COUNT; r++)
				if (v.broken[r]) {
					strncat(rules, " ", sizeof(rules) - strlen(rules) - 1);
					strncat(rules, mg_rule_name((enum mg_rule)r), sizeof(rules) - strlen(rules) - 1);
				}
			fuzz_fail("gc_validate %s (\"%s\"); model %s:%s", ok ? "accepts" : "refuses", err,
			          v.accept ? "accepts" : "refuses", rules);
		}
		gc_free(&c);
	} else {
		/* Whatever the decoder did not take, it closed; what it took is in c. */
		gc_free(&c);
	}
	fidl_msg_close_handles(&msg);
	int after = lowest_free_fd();
	if (after != before)
		fuzz_fail("fd leak: lowest free fd %d before, %d after", before, after);
}
