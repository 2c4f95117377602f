/* api/guest_config.c - see guest_config.h: the table itself, its defaults and
 * its command line; validation is the vmm's (vmm/guest_config_check.c). */
#include "api/guest_config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096ull

void gc_init(struct guest_config *c)
{
	memset(c, 0, sizeof(*c));
	c->kernel_fd = c->ramdisk_fd = c->dtb_overlay_fd = -1;
	c->wayland_device.dispatcher_fd = -1;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void gc_free(struct guest_config *c)
{
	close_fd(&c->kernel_fd);
	close_fd(&c->ramdisk_fd);
	close_fd(&c->dtb_overlay_fd);
	close_fd(&c->wayland_device.dispatcher_fd);
	free(c->cmdline);
	for (size_t i = 0; c->cmdline_add && i < c->n_cmdline_add; i++)
		free(c->cmdline_add[i]);
	free(c->cmdline_add);
	for (size_t i = 0; c->block_devices && i < c->n_block_devices; i++)
		close_fd(&c->block_devices[i].fd);
	free(c->block_devices);
	free(c->net_devices);
	for (size_t i = 0; c->vsock_listeners && i < c->n_vsock_listeners; i++)
		close_fd(&c->vsock_listeners[i].acceptor_fd);
	free(c->vsock_listeners);
	gc_init(c);
}

uint8_t gc_cpus(const struct guest_config *c)
{
	return c->has_cpus ? c->cpus : GC_DEFAULT_CPUS;
}

uint64_t gc_memory(const struct guest_config *c)
{
	if (!c->has_guest_memory)
		return GC_DEFAULT_GUEST_MEMORY;
	if (c->guest_memory > UINT64_MAX - (PAGE - 1))
		return c->guest_memory; /* gc_validate refuses it as too large */
	return (c->guest_memory + PAGE - 1) & ~(PAGE - 1);
}

size_t gc_cmdline_len(const struct guest_config *c)
{
	size_t n = c->cmdline ? strlen(c->cmdline) : 0;
	for (size_t i = 0; c->cmdline_add && i < c->n_cmdline_add; i++) {
		size_t k = c->cmdline_add[i] ? strlen(c->cmdline_add[i]) : 0;
		if (k)
			n += (n ? 1 : 0) + k;
	}
	return n;
}

char *gc_full_cmdline(const struct guest_config *c)
{
	size_t n = gc_cmdline_len(c);
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	size_t at = 0;
	if (c->cmdline) {
		at = strlen(c->cmdline);
		memcpy(s, c->cmdline, at);
	}
	for (size_t i = 0; c->cmdline_add && i < c->n_cmdline_add; i++) {
		size_t k = c->cmdline_add[i] ? strlen(c->cmdline_add[i]) : 0;
		if (!k)
			continue;
		if (at)
			s[at++] = ' ';
		memcpy(s + at, c->cmdline_add[i], k);
		at += k;
	}
	s[at] = '\0';
	return s;
}
