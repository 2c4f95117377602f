/* tests/lib/vsock_vd.h - the guest's vsock stack, as far as a unit test of
 * the host side needs one: tests/lib/vdriver brings a virtio_vsock device up
 * in a test guest_mem, and this moves packets through its queues and keeps
 * one connection's credit books the way a guest driver does (what it sent,
 * what it took, the host's buf_alloc and fwd_cnt from every packet).
 *
 * Everything is synchronous: a send notifies the device, which runs its host
 * callbacks before vv_send returns. No cmocka here: calls report what they
 * saw and the test asserts.
 */
#ifndef TESTS_LIB_VSOCK_VD_H
#define TESTS_LIB_VSOCK_VD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/vsock.h"
#include "vdriver.h"

#define VV_GUEST_CID 3
/* Receive buffers the guest keeps posted, and the payload room of each. */
#define VV_NRX 8
#define VV_RXBUF 4096

struct vv_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

struct vsock_vd {
	struct vdriver drv;
	uint64_t tx_area;
	uint64_t rx_gpa[VD_QSZ]; /* receive buffer by descriptor head */
};

/* One guest connection's books. */
struct vv_conn {
	uint32_t gport, hport;
	uint32_t buf_alloc;                    /* what the guest advertises */
	uint32_t fwd_cnt;                      /* host bytes the guest took */
	uint32_t tx_cnt;                       /* bytes the guest sent */
	uint32_t peer_buf_alloc, peer_fwd_cnt; /* the host's, from its last packet */
	uint32_t shut;                         /* SHUTDOWN flags the host sent */
	bool rst;                              /* the host reset the connection */
	bool data_after_shut;                  /* an RW came after SHUTDOWN(SEND): a bug */
	unsigned credit_requests, credit_updates, stray; /* stray: packets for another port pair */
	uint8_t *rx;                           /* the host's bytes, in order */
	size_t rx_len, rx_cap;
};

/* Bring dev (virtio_vsock_init done) to DRIVER_OK with VV_NRX receive
 * buffers posted. false if the device refused. */
bool vv_start(struct vsock_vd *g, struct virtio_device *dev);
void vv_stop(struct vsock_vd *g);

/* One packet from the guest (cid VV_GUEST_CID) to the host. */
void vv_send(struct vsock_vd *g, uint32_t gport, uint32_t hport, uint16_t op, uint32_t flags,
             uint32_t buf_alloc, uint32_t fwd_cnt, const void *data, uint32_t len);
/* The next packet from the device, its buffer reposted; data needs room for
 * VV_RXBUF bytes (or NULL). false: nothing pending. */
bool vv_recv(struct vsock_vd *g, struct vv_hdr *h, void *data);

/* A connection's books: rx_cap bytes of room for what the host sends. */
void vv_conn_init(struct vv_conn *c, uint32_t gport, uint32_t hport, uint32_t buf_alloc,
                  size_t rx_cap);
void vv_conn_free(struct vv_conn *c);
/* REQUEST, then the host's answer: true on RESPONSE, false on RST or none. */
bool vv_connect(struct vsock_vd *g, struct vv_conn *c);
/* Bytes the host's credit lets the guest send now. */
uint32_t vv_credit(const struct vv_conn *c);
/* One RW packet of len bytes (the caller keeps within vv_credit). */
void vv_write(struct vsock_vd *g, struct vv_conn *c, const void *data, uint32_t len);
/* A control packet (SHUTDOWN, CREDIT_UPDATE, CREDIT_REQUEST, RST, RESPONSE)
 * with the connection's current books. */
void vv_ctl(struct vsock_vd *g, const struct vv_conn *c, uint16_t op, uint32_t flags);
/* Take every pending packet into the books; returns how many. */
unsigned vv_drain(struct vsock_vd *g, struct vv_conn *c);

#endif
