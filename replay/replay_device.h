/* replay/replay_device.h - replay of device-level traces (vmm-device
 * --record): one virtio device core behind devices/vhost_user.c, fed the
 * recorded vhost-user messages, kicks and host inputs with no front end, no
 * socket and no host, and checked by the sim (sim-hypervisor) record for
 * record.
 *
 * Owns: the device-level `config` meta and the replayer. It is the one file
 * of traces/ that includes devices/: a device-level trace describes the
 * boundary between a device core and its front end.
 *
 * Config text, one `key=value` per line:
 *   device=block|rng|console|net|balloon
 *   block_mode=rw|ro|volatile  block_id=ID  block_bytes=N    (block)
 *   balloon_pages=N                                          (balloon: the
 *                                                            target at start)
 */
#ifndef TRACES_REPLAY_DEVICE_H
#define TRACES_REPLAY_DEVICE_H

#include <stdbool.h>

#include "replay/replay.h"

/* True when config text is a device-level one (its first line is device=). */
bool trace_config_is_device(const char *config);

/* Replay s (a device-level trace) with config text `config`. Returns 0 when
 * the replay ran (see res->matched), or -errno with err set. */
int trace_replay_device(const struct script *s, const char *config, struct replay_result *res,
                        char *err, size_t errlen);

#endif
