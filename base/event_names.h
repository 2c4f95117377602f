/* base/event_names.h - the names and payloads of host-side events.
 *
 * Owns: the device names that key every announcement to an ev_sink (and so
 * every trace record: `outputs.device` and host events), and the byte
 * encodings of the payloads that are not plain streams. The recorder, the
 * sim's checker, the host adapters, the vmm and vmm-device all use these,
 * so a name or an encoding exists once. They are part of the trace format
 * (traces/README.md): changing one breaks every recorded trace.
 */
#ifndef BASE_EVENT_NAMES_H
#define BASE_EVENT_NAMES_H

#include <stdint.h>
#include <stdio.h>

#include "base/byteorder.h"

/* Byte streams to and from the host side of a device. */
#define EVN_SERIAL "serial"   /* UART bytes out; bytes typed in (host event) */
#define EVN_CONSOLE "console" /* virtio-console bytes out and in */
#define EVN_VSOCK "vsock"     /* virtio-vsock bridge bytes out and in */
/* Net: full-stack traces name each device "net0".."netN" (evn_net_name);
 * a device-level trace has one device, "net". One frame per record. */
#define EVN_NET "net"
#define EVN_NET_NAME_MAX 8
static inline void evn_net_name(char out[EVN_NET_NAME_MAX], unsigned index)
{
	snprintf(out, EVN_NET_NAME_MAX, EVN_NET "%u", index % 1000u);
}

/* Host inputs consumed while an event is handled. */
#define EVN_RNG "rng"               /* entropy handed to virtio-rng */
#define EVN_BLOCK_READ "block"      /* block read data */
#define EVN_BLOCK_WRITE "block-write" /* evn_result: bytes written or -errno */
#define EVN_BLOCK_SYNC "block-sync"   /* evn_result: 0 or -errno */

/* Balloon: memory given back (output, evn_range), and host requests. */
#define EVN_BALLOON "balloon"             /* output: evn_range; host event: le32 target pages */
#define EVN_BALLOON_STATS "balloon-stats" /* host event: one byte, ask for statistics */

/* Device-level (vhost-user) events and outputs. */
#define EVN_VHOST_USER "vhost-user"             /* a message in (fd count, header, payload); a reply out */
#define EVN_VHOST_USER_SLAVE "vhost-user-slave" /* a config-change notice out */
#define EVN_KICK "kick"                         /* one byte: the ring index */
#define EVN_DISCONNECT "disconnect"             /* the front end left */

/* A write or flush result: a little-endian signed 64-bit count, or -errno. */
#define EVN_RESULT_SIZE 8
static inline void evn_result_put(uint8_t b[EVN_RESULT_SIZE], int64_t r)
{
	le64_put(b, (uint64_t)r);
}
static inline int64_t evn_result_get(const uint8_t b[EVN_RESULT_SIZE])
{
	return (int64_t)le64_get(b);
}

/* Memory the balloon gave back: le64 guest-physical address, le64 length. */
#define EVN_RANGE_SIZE 16
static inline void evn_range_put(uint8_t b[EVN_RANGE_SIZE], uint64_t gpa, uint64_t len)
{
	le64_put(b, gpa);
	le64_put(b + 8, len);
}

/* A balloon target: le32 pages. */
#define EVN_BALLOON_TARGET_SIZE 4

#endif
