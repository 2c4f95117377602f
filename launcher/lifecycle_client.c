/* launcher/lifecycle_client.c - see lifecycle_client.h. */
#include "lifecycle_client.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fidl/channel.h"
#include "fidl/virtualization.h"


int lcc_connect(struct lc_client *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	lcc_attach(c, fd);
	return 0;
}

void lcc_attach(struct lc_client *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->next_txid = 1;
}

void lcc_close(struct lc_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

uint32_t lcc_txid(struct lc_client *c)
{
	uint32_t t = c->next_txid++;
	if (c->next_txid == 0)
		c->next_txid = 1; /* txid 0 is for one-way messages and epitaphs */
	return t;
}

/* Read one message; a Run answer is absorbed into c. Returns ZX_OK and m
 * (not Run's) or an error. */
static int read_one(struct lc_client *c, struct fidl_msg *m, int timeout_ms, bool *was_run)
{
	*was_run = false;
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int pr = poll(&p, 1, timeout_ms);
	if (pr == 0)
		return ZX_ERR_TIMED_OUT;
	if (pr < 0)
		return ZX_ERR_IO;
	int r = fidl_chan_recv(c->fd, m);
	if (r != ZX_OK)
		return r;
	struct fidl_dec d;
	if (fidl_dec_init(&d, m) != ZX_OK)
		return d.status;
	if (d.hdr.ordinal == FIDL_EPITAPH_ORDINAL) {
		c->epitaph = (int32_t)fidl_dec_u32(&d, fidl_dec_primary(&d, 8));
		fidl_msg_close_handles(m);
		return ZX_ERR_PEER_CLOSED;
	}
	if (c->run_pending && d.hdr.txid == c->run_txid && d.hdr.ordinal == FV_ORD_LIFECYCLE_RUN) {
		struct fv_result res;
		if (fv_dec_result(&d, FV_ERR_GUEST_ERROR, false, &res) != ZX_OK)
			return d.status;
		c->run_pending = false;
		c->run_done = true;
		c->run_result = res.which == FIDL_RESULT_RESPONSE ? GUEST_OK : (enum guest_error)res.err;
		*was_run = true;
	}
	return ZX_OK;
}

/* Send m and wait for the reply with the same txid into m. */
int lcc_call(struct lc_client *c, struct fidl_msg *m, struct fidl_dec *d)
{
	struct fidl_header h;
	memcpy(&h, m->bytes, sizeof(h));
	int r = fidl_chan_send(c->fd, m);
	if (r != ZX_OK)
		return r;
	for (;;) {
		bool was_run;
		r = read_one(c, m, c->call_timeout_ms > 0 ? c->call_timeout_ms : -1, &was_run);
		if (r != ZX_OK)
			return r;
		if (was_run)
			continue;
		if (fidl_dec_init(d, m) != ZX_OK)
			return d->status;
		if (d->hdr.txid == h.txid)
			return ZX_OK;
		fidl_msg_close_handles(m); /* an answer nobody waits for */
	}
}

static int result_call(struct lc_client *c, struct fidl_msg *m, enum guest_error *e, int *handle,
                       bool with_handle)
{
	struct fidl_dec d;
	int r = lcc_call(c, m, &d);
	if (r != ZX_OK)
		return r;
	struct fv_result res;
	r = fv_dec_result(&d, FV_ERR_GUEST_ERROR, with_handle, &res);
	if (r != ZX_OK)
		return r;
	*e = res.which == FIDL_RESULT_RESPONSE ? GUEST_OK : (enum guest_error)res.err;
	if (handle)
		*handle = res.fd;
	else if (res.fd >= 0)
		close(res.fd);
	return ZX_OK;
}

int lcc_create(struct lc_client *c, const struct guest_config *cfg, enum guest_error *e)
{
	struct fidl_msg *m = malloc(sizeof(*m));
	if (!m)
		return ZX_ERR_NO_MEMORY;
	int r = fv_enc_create_req(m, lcc_txid(c), cfg);
	if (r == ZX_OK)
		r = result_call(c, m, e, NULL, false);
	free(m);
	return r;
}

int lcc_bind(struct lc_client *c, int *guest, enum guest_error *e)
{
	*guest = -1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return ZX_ERR_NO_RESOURCES;
	struct fidl_msg *m = malloc(sizeof(*m));
	int r = m ? fv_enc_handle_body(m, lcc_txid(c), FV_ORD_LIFECYCLE_BIND, sv[1]) : ZX_ERR_NO_MEMORY;
	if (r == ZX_OK)
		r = result_call(c, m, e, NULL, false);
	close(sv[1]); /* moved to the vmm (or failed) */
	free(m);
	if (r == ZX_OK && *e == GUEST_OK)
		*guest = sv[0];
	else
		close(sv[0]);
	return r;
}

int lcc_bind_fd(struct lc_client *c, int server_end, enum guest_error *e)
{
	struct fidl_msg *m = malloc(sizeof(*m));
	int r = m ? fv_enc_handle_body(m, lcc_txid(c), FV_ORD_LIFECYCLE_BIND, server_end)
	          : ZX_ERR_NO_MEMORY;
	if (r == ZX_OK)
		r = result_call(c, m, e, NULL, false);
	close(server_end); /* moved to the vmm (or failed) */
	free(m);
	return r;
}

int lcc_run_start(struct lc_client *c)
{
	struct fidl_msg *m = malloc(sizeof(*m));
	if (!m)
		return ZX_ERR_NO_MEMORY;
	c->run_txid = lcc_txid(c);
	int r = fv_enc_empty(m, c->run_txid, FV_ORD_LIFECYCLE_RUN);
	if (r == ZX_OK)
		r = fidl_chan_send(c->fd, m);
	if (r == ZX_OK) {
		c->run_pending = true;
		c->run_done = false;
	}
	free(m);
	return r;
}

int lcc_run_wait(struct lc_client *c, int timeout_ms, enum guest_error *e)
{
	struct fidl_msg *m = malloc(sizeof(*m));
	if (!m)
		return ZX_ERR_NO_MEMORY;
	int r = ZX_OK;
	while (!c->run_done && r == ZX_OK) {
		bool was_run;
		r = read_one(c, m, timeout_ms, &was_run);
		if (r == ZX_OK && !was_run)
			fidl_msg_close_handles(m);
	}
	free(m);
	if (c->run_done) {
		*e = c->run_result;
		c->run_done = false;
		return ZX_OK;
	}
	return r;
}

int lcc_stop(struct lc_client *c)
{
	struct fidl_msg *m = malloc(sizeof(*m));
	if (!m)
		return ZX_ERR_NO_MEMORY;
	struct fidl_dec d;
	int r = fv_enc_empty(m, lcc_txid(c), FV_ORD_LIFECYCLE_STOP);
	if (r == ZX_OK)
		r = lcc_call(c, m, &d);
	if (r == ZX_OK)
		r = fv_dec_empty(&d);
	free(m);
	return r;
}

static int guest_call(int guest, struct fidl_msg *m, struct fidl_dec *d)
{
	struct lc_client tmp;
	lcc_attach(&tmp, guest);
	/* The tool must not hang on a wedged vmm. */
	tmp.call_timeout_ms = 10000;
	return lcc_call(&tmp, m, d);
}

int guest_client_get_serial(int guest, int *sock)
{
	*sock = -1;
	struct fidl_msg *m = malloc(sizeof(*m));
	if (!m)
		return ZX_ERR_NO_MEMORY;
	struct fidl_dec d;
	int r = fv_enc_empty(m, 1, FV_ORD_GUEST_GET_SERIAL);
	if (r == ZX_OK)
		r = guest_call(guest, m, &d);
	if (r == ZX_OK)
		r = fv_dec_handle_body(&d, sock);
	free(m);
	return r;
}

int guest_client_get_console(int guest, int *sock, enum guest_error *e)
{
	*sock = -1;
	struct fidl_msg *m = malloc(sizeof(*m));
	if (!m)
		return ZX_ERR_NO_MEMORY;
	struct fidl_dec d;
	int r = fv_enc_empty(m, 1, FV_ORD_GUEST_GET_CONSOLE);
	if (r == ZX_OK)
		r = guest_call(guest, m, &d);
	struct fv_result res;
	if (r == ZX_OK)
		r = fv_dec_result(&d, FV_ERR_GUEST_ERROR, true, &res);
	if (r == ZX_OK) {
		*e = res.which == FIDL_RESULT_RESPONSE ? GUEST_OK : (enum guest_error)res.err;
		*sock = res.fd;
	}
	free(m);
	return r;
}

static int guest_handle_call(int guest, uint64_t ordinal, int server_end, enum guest_error *e)
{
	struct fidl_msg *m = malloc(sizeof(*m));
	int r = m ? fv_enc_handle_body(m, 1, ordinal, server_end) : ZX_ERR_NO_MEMORY;
	struct fidl_dec d;
	if (r == ZX_OK)
		r = guest_call(guest, m, &d);
	close(server_end);
	struct fv_result res;
	if (r == ZX_OK)
		r = fv_dec_result(&d, FV_ERR_GUEST_ERROR, false, &res);
	if (r == ZX_OK)
		*e = res.which == FIDL_RESULT_RESPONSE ? GUEST_OK : (enum guest_error)res.err;
	free(m);
	return r;
}

int guest_client_get_vsock(int guest, int server_end, enum guest_error *e)
{
	return guest_handle_call(guest, FV_ORD_GUEST_GET_HOST_VSOCK_ENDPOINT, server_end, e);
}

int guest_client_get_balloon(int guest, int server_end, enum guest_error *e)
{
	return guest_handle_call(guest, FV_ORD_GUEST_GET_BALLOON_CONTROLLER, server_end, e);
}
