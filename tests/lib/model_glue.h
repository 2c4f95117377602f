/* tests/lib/model_glue.h - the bridge from the real code's types to the
 * model's plain descriptions (model/ sees no fds, no vmm headers).
 *
 * Used by the differential tests (tests/test_model_*.c) and the fuzz
 * harnesses (fuzz/), so both compare the real code with the model the same
 * way. */
#ifndef TESTS_LIB_MODEL_GLUE_H
#define TESTS_LIB_MODEL_GLUE_H

#include <stdbool.h>
#include <stddef.h>

#include "model/guest_config_model.h"
#include "api/guest_config.h"

/* The model's description of a struct guest_config, with its own storage. */
struct mg_glue {
	struct mg_config cfg;
	struct mg_string *adds;
	struct mg_block *blocks;
	uint8_t (*macs)[6];
	uint32_t *ports;
	enum mg_file *acceptors;
};

enum mg_file glue_file(int fd);
void glue_config(struct mg_glue *g, const struct guest_config *c);
void glue_free(struct mg_glue *g);

/* What this vmm can provide (block, rng, console, balloon, net, vsock; not
 * gpu, sound, wayland, magma), with the backend's vCPU limit. */
struct mg_vmm glue_vmm(int max_vcpus);

/* The GuestConfig field a gc_validate message is about: its leading
 * [a-z_] word ("block_devices[3]: ..." -> "block_devices"). */
void glue_err_field(const char *err, char *field, size_t len);

/* Rules where this vmm knowingly differs from the model (it accepts what the
 * model refuses); see model/README.md "Known divergences". */
bool glue_known_divergence(enum mg_rule r);

enum glue_cmp { GLUE_AGREE, GLUE_KNOWN_DIVERGENCE, GLUE_DISAGREE };
/* Compare gc_validate's answer (real_ok, err) with the model's verdict. */
enum glue_cmp glue_compare(bool real_ok, const char *err, const struct mg_verdict *v);

#endif
