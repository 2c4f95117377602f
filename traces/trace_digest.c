/* traces/trace_digest.c - the digest of an event stream; see trace.h.
 *
 * Owns: the canonical encoding that script_digest hashes. Equal digests mean
 * equal streams, however a recording split its output bytes, so a trace
 * written again (trace_write_script) or replayed has the digest of the
 * original. Every bundled trace's digest depends on this encoding: it does
 * not change without re-recording them.
 */
#include "traces/trace.h"

#include <stdio.h>
#include <string.h>

#include "base/byteorder.h"
#include "base/sha256.h"

static void hash_u64(struct sha256_ctx *c, uint64_t v)
{
	uint8_t b[8];
	le64_put(b, v);
	sha256_update(c, b, 8);
}

void script_digest(const struct script *s, uint8_t out[32])
{
	struct sha256_ctx c;
	sha256_init(&c);
	const struct script_event *prev = NULL;
	for (size_t i = 0; s && i < s->n; i++) {
		const struct script_event *e = &s->ev[i];
		/* Output is a stream per device: a run of out records hashes the
		 * same however a recording split it. */
		bool cont = e->type == SCRIPT_OUT && prev && prev->type == SCRIPT_OUT &&
		            strcmp(prev->device, e->device) == 0;
		prev = e;
		if (cont) {
			sha256_update(&c, e->data, e->len);
			continue;
		}
		uint8_t t = (uint8_t)e->type;
		sha256_update(&c, &t, 1);
		switch (e->type) {
		case SCRIPT_EXIT:
			hash_u64(&c, e->vcpu);
			hash_u64(&c, (uint64_t)e->exit.kind);
			hash_u64(&c, e->exit.addr);
			hash_u64(&c, e->exit.size);
			hash_u64(&c, e->exit.data);
			hash_u64(&c, e->exit.reason);
			hash_u64(&c, e->read_value);
			break;
		case SCRIPT_IRQ:
			hash_u64(&c, e->gsi);
			hash_u64(&c, (uint64_t)e->level);
			break;
		default:
			sha256_update(&c, e->device, strlen(e->device) + 1);
			hash_u64(&c, e->gpa);
			if (e->type == SCRIPT_HOST)
				hash_u64(&c, e->read_value);
			if (e->type != SCRIPT_OUT)
				hash_u64(&c, e->len);
			sha256_update(&c, e->data, e->len);
			break;
		}
	}
	sha256_final(&c, out);
}

void trace_hex_digest(const uint8_t d[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}
