/* tests/lib/model_glue.c - see model_glue.h. */
#include "model_glue.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/loader.h"

enum mg_file glue_file(int fd)
{
	if (fd < 0)
		return MG_FILE_ABSENT;
	int fl = fcntl(fd, F_GETFL);
	if (fl == -1)
		return MG_FILE_CLOSED;
	switch (fl & O_ACCMODE) {
	case O_RDONLY: return MG_FILE_RO;
	case O_WRONLY: return MG_FILE_WO;
	default: return MG_FILE_RW;
	}
}

static enum mg_kernel_format kfmt(int fd)
{
	if (glue_file(fd) == MG_FILE_ABSENT || glue_file(fd) == MG_FILE_CLOSED)
		return MG_KFMT_UNKNOWN;
	switch (loader_detect(fd)) {
	case KFMT_BZIMAGE: return MG_KFMT_BZIMAGE;
	case KFMT_ELF_PVH: return MG_KFMT_ELF_PVH;
	case KFMT_ELF: return MG_KFMT_ELF;
	case KFMT_ZBI: return MG_KFMT_ZBI;
	default: return MG_KFMT_UNKNOWN;
	}
}

static bool on(bool has, bool v) { return has && v; }

void glue_config(struct mg_glue *g, const struct guest_config *c)
{
	memset(g, 0, sizeof(*g));
	struct mg_config *m = &g->cfg;
	m->has_kernel_type = c->has_kernel_type;
	m->kernel_type = (int)c->kernel_type;
	m->kernel = glue_file(c->kernel_fd);
	m->kernel_format = kfmt(c->kernel_fd);
	m->ramdisk = glue_file(c->ramdisk_fd);
	m->dtb_overlay = glue_file(c->dtb_overlay_fd);
	m->cmdline = (struct mg_string){ c->cmdline != NULL, c->cmdline };
	m->n_cmdline_add = c->cmdline_add ? c->n_cmdline_add : 0;
	g->adds = calloc(m->n_cmdline_add + 1, sizeof(*g->adds));
	for (size_t i = 0; i < m->n_cmdline_add; i++)
		g->adds[i] = (struct mg_string){ c->cmdline_add[i] != NULL, c->cmdline_add[i] };
	m->cmdline_add = g->adds;
	m->has_cpus = c->has_cpus;
	m->cpus = c->cpus;
	m->has_memory = c->has_guest_memory;
	m->memory = c->guest_memory;
	m->n_blocks = c->block_devices ? c->n_block_devices : 0;
	g->blocks = calloc(m->n_blocks + 1, sizeof(*g->blocks));
	for (size_t i = 0; i < m->n_blocks; i++) {
		const struct block_spec *b = &c->block_devices[i];
		struct mg_block *mb = &g->blocks[i];
		/* A C string: the id ends at its first NUL. */
		mb->id_len = strnlen(b->id, sizeof(b->id));
		memcpy(mb->id, b->id, mb->id_len);
		mb->mode = (int)b->mode;
		mb->format = (int)b->format;
		mb->file = glue_file(b->fd);
	}
	m->blocks = g->blocks;
	m->n_nets = c->net_devices ? c->n_net_devices : 0;
	g->macs = calloc(m->n_nets + 1, sizeof(*g->macs));
	for (size_t i = 0; i < m->n_nets; i++)
		memcpy(g->macs[i], c->net_devices[i].mac, 6);
	m->macs = (const uint8_t(*)[6])g->macs;
	m->has_wayland = c->has_wayland_device;
	m->has_magma = c->has_magma_device;
	m->default_net = on(c->has_default_net, c->default_net);
	m->virtio_balloon = on(c->has_virtio_balloon, c->virtio_balloon);
	m->virtio_console = on(c->has_virtio_console, c->virtio_console);
	m->virtio_gpu = on(c->has_virtio_gpu, c->virtio_gpu);
	m->virtio_rng = on(c->has_virtio_rng, c->virtio_rng);
	m->virtio_vsock = on(c->has_virtio_vsock, c->virtio_vsock);
	m->virtio_sound = on(c->has_virtio_sound, c->virtio_sound);
	m->virtio_sound_input = on(c->has_virtio_sound_input, c->virtio_sound_input);
	m->n_vsock = c->vsock_listeners ? c->n_vsock_listeners : 0;
	g->ports = calloc(m->n_vsock + 1, sizeof(*g->ports));
	g->acceptors = calloc(m->n_vsock + 1, sizeof(*g->acceptors));
	for (size_t i = 0; i < m->n_vsock; i++) {
		g->ports[i] = c->vsock_listeners[i].port;
		g->acceptors[i] = glue_file(c->vsock_listeners[i].acceptor_fd);
	}
	m->vsock_ports = g->ports;
	m->vsock_acceptors = g->acceptors;
}

void glue_free(struct mg_glue *g)
{
	free(g->adds);
	free(g->blocks);
	free(g->macs);
	free(g->ports);
	free(g->acceptors);
	memset(g, 0, sizeof(*g));
}

struct mg_vmm glue_vmm(int max_vcpus)
{
	/* vmm/vm.c builds virtio-console, -balloon, -net and -vsock devices. */
	return (struct mg_vmm){ .max_vcpus = max_vcpus, .has_console = true, .has_net = true,
	                        .has_vsock = true, .has_balloon = true };
}

void glue_err_field(const char *err, char *field, size_t len)
{
	size_t n = 0;
	while (err[n] && (islower((unsigned char)err[n]) || err[n] == '_') && n + 1 < len) {
		field[n] = err[n];
		n++;
	}
	field[n] = '\0';
}

bool glue_known_divergence(enum mg_rule r)
{
	switch (r) {
	case MG_R_CONSOLE_UNSUPPORTED:
	case MG_R_NET_UNSUPPORTED:
	case MG_R_VSOCK_UNSUPPORTED:
	case MG_R_BALLOON_UNSUPPORTED:
	case MG_R_BLOCK_FILE_NOT_READABLE:
		return true;
	default:
		return false;
	}
}

enum glue_cmp glue_compare(bool real_ok, const char *err, const struct mg_verdict *v)
{
	if (real_ok && v->accept)
		return GLUE_AGREE;
	if (real_ok) {
		/* Real accepts: fine only if every rule the model saw broken is a
		 * known divergence. */
		for (int r = 0; r < MG_R_COUNT; r++)
			if (v->broken[r] && !glue_known_divergence((enum mg_rule)r))
				return GLUE_DISAGREE;
		return GLUE_KNOWN_DIVERGENCE;
	}
	if (v->accept)
		return GLUE_DISAGREE;
	/* Both refuse: the real code must name a field the model found broken. */
	char field[64];
	glue_err_field(err, field, sizeof(field));
	for (int r = 0; r < MG_R_COUNT; r++)
		if (v->broken[r] && strcmp(mg_rule_field((enum mg_rule)r), field) == 0)
			return GLUE_AGREE;
	return GLUE_DISAGREE;
}
