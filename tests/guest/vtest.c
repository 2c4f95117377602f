/* tests/guest/vtest.c - see vtest.h. Request layouts: virtio 1.x, "Block
 * Device" and "Entropy Device" and "Console Device". */
#include "vtest.h"

#include "console.h"
#include "virtio.h"

#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_F_RO (1ull << 5)
#define BLK_F_FLUSH (1ull << 9)
#define BLK_ID_BYTES 20
#define SECTOR 512
#define RNG_BYTES 16
#define CONSOLE_RX 0
#define CONSOLE_TX 1
#define CONSOLE_RX_BYTES 64

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static void put_byte_hex(uint8_t b)
{
	char s[3] = { "0123456789abcdef"[b >> 4], "0123456789abcdef"[b & 15], 0 };
	con_puts(s);
}

/* One chain: header (readable), optional data (readable or writable), status
 * byte (writable). Returns the status byte, or -1 when the request was lost. */
static int blk_request(struct vdev *d, uint32_t type, uint64_t sector, void *data, uint32_t len,
                       int data_writable)
{
	static struct blk_hdr h;
	static volatile uint8_t status;
	h.type = type;
	h.reserved = 0;
	h.sector = sector;
	status = 0xff;
	struct vbuf b[3];
	unsigned n = 0;
	b[n++] = (struct vbuf){ &h, sizeof(h), 0 };
	if (len)
		b[n++] = (struct vbuf){ data, len, data_writable };
	b[n++] = (struct vbuf){ (void *)&status, 1, 1 };
	if (virtio_request(d, 0, b, n) < 0)
		return -1;
	return status;
}

void vtest_pattern(uint8_t *buf, uint64_t sector)
{
	for (unsigned i = 0; i < SECTOR; i++)
		buf[i] = (uint8_t)(i * 7 + sector);
	static const char tag[] = "VMM-GUEST-BLOCK-TEST sector ";
	unsigned k = 0;
	for (; tag[k]; k++)
		buf[k] = (uint8_t)tag[k];
	char dec[21];
	int j = 20;
	dec[j] = 0;
	do {
		dec[--j] = (char)('0' + sector % 10);
		sector /= 10;
	} while (sector);
	while (dec[j])
		buf[k++] = (uint8_t)dec[j++];
	buf[k] = '\n';
}

static void line_status(const char *what, int st)
{
	con_lock();
	con_puts(what);
	if (st < 0) {
		con_puts(" (no answer)\n");
	} else {
		con_puts(" (status ");
		con_dec((unsigned)st);
		con_puts(")\n");
	}
	con_unlock();
}

static void test_block(struct vdev *d)
{
	static uint8_t wbuf[SECTOR], rbuf[SECTOR];
	static char id[BLK_ID_BYTES + 1];
	int ro = (d->features & BLK_F_RO) != 0;

	uint64_t cap = virtio_config64(d, 0); /* capacity: u64 at config offset 0 */
	con_lock();
	con_puts("block capacity: ");
	con_dec(cap);
	con_puts(ro ? " sectors, read-only\n" : " sectors\n");
	con_unlock();

	for (unsigned i = 0; i <= BLK_ID_BYTES; i++)
		id[i] = 0;
	int st = blk_request(d, BLK_T_GET_ID, 0, id, BLK_ID_BYTES, 1);
	if (st != BLK_S_OK) {
		line_status("block FAIL get-id", st);
		return;
	}
	con_lock();
	con_puts("block id: ");
	con_putn(id, BLK_ID_BYTES);
	con_puts("\n");
	con_unlock();

	if (cap <= VTEST_SECTOR) {
		con_line("block FAIL disk too small for the test sector");
		return;
	}
	vtest_pattern(wbuf, VTEST_SECTOR);
	st = blk_request(d, BLK_T_OUT, VTEST_SECTOR, wbuf, SECTOR, 0);
	if (ro) {
		if (st != BLK_S_IOERR) {
			line_status("block FAIL write to a read-only disk not refused", st);
			return;
		}
		st = blk_request(d, BLK_T_IN, VTEST_SECTOR, rbuf, SECTOR, 1);
		if (st != BLK_S_OK)
			line_status("block FAIL read", st);
		else
			con_line("block ro OK");
		return;
	}
	if (st != BLK_S_OK) {
		line_status("block FAIL write", st);
		return;
	}
	if (d->features & BLK_F_FLUSH) {
		st = blk_request(d, BLK_T_FLUSH, 0, 0, 0, 0);
		if (st != BLK_S_OK) {
			line_status("block FAIL flush", st);
			return;
		}
	}
	for (unsigned i = 0; i < SECTOR; i++)
		rbuf[i] = 0;
	st = blk_request(d, BLK_T_IN, VTEST_SECTOR, rbuf, SECTOR, 1);
	if (st != BLK_S_OK) {
		line_status("block FAIL read", st);
		return;
	}
	for (unsigned i = 0; i < SECTOR; i++) {
		if (rbuf[i] != wbuf[i]) {
			con_lock();
			con_puts("block FAIL read back differs at byte ");
			con_dec(i);
			con_puts("\n");
			con_unlock();
			return;
		}
	}
	con_line("block OK");
}

static void test_rng(struct vdev *d)
{
	static uint8_t buf[RNG_BYTES];
	for (unsigned i = 0; i < RNG_BYTES; i++)
		buf[i] = 0;
	struct vbuf b = { buf, RNG_BYTES, 1 };
	int64_t got = virtio_request(d, 0, &b, 1);
	if (got != RNG_BYTES) {
		con_line("rng FAIL short or no answer");
		return;
	}
	unsigned any = 0;
	con_lock();
	con_puts("rng bytes: ");
	for (unsigned i = 0; i < RNG_BYTES; i++) {
		put_byte_hex(buf[i]);
		any |= buf[i];
	}
	con_puts("\n");
	con_unlock();
	con_line(any ? "rng OK" : "rng FAIL all zero");
}

/* "hello console\n" out; then one receive buffer: what the host typed
 * within the driver's wait (about a second) goes back after "echo: ". */
static void test_console(struct vdev *d)
{
	static char msg[] = "hello console\n";
	struct vbuf b = { msg, sizeof(msg) - 1, 0 };
	if (virtio_request(d, CONSOLE_TX, &b, 1) < 0) {
		con_line("console FAIL");
		return;
	}
	con_line("console OK");
	static char echo[6 + CONSOLE_RX_BYTES] = "echo: ";
	struct vbuf r = { echo + 6, CONSOLE_RX_BYTES, 1 };
	int64_t got = virtio_request(d, CONSOLE_RX, &r, 1);
	if (got <= 0 || got > CONSOLE_RX_BYTES) {
		con_line("console rx none");
		return;
	}
	con_lock();
	con_puts("console rx ");
	con_dec((uint64_t)got);
	con_puts(" bytes\n");
	con_unlock();
	struct vbuf e = { echo, (uint32_t)(6 + got), 0 };
	con_line(virtio_request(d, CONSOLE_TX, &e, 1) < 0 ? "console echo FAIL" : "console echo OK");
}

void vtest_run(void)
{
	struct vdev d;
	unsigned found = 0;
	for (unsigned slot = 0; slot < VIRTIO_SLOTS; slot++) {
		uint32_t id = virtio_probe(slot, &d);
		if (!id)
			continue;
		found++;
		con_lock();
		con_puts("virtio slot ");
		con_dec(slot);
		con_puts(": device ");
		con_dec(id);
		con_puts("\n");
		con_unlock();
		uint64_t want = 0;
		unsigned nq = 1;
		if (id == VIRTIO_DEV_BLOCK)
			want = BLK_F_RO | BLK_F_FLUSH;
		else if (id == VIRTIO_DEV_CONSOLE)
			nq = 2;
		else if (id != VIRTIO_DEV_RNG)
			continue; /* not one we know: leave it alone */
		int r = virtio_setup(&d, want, nq);
		if (r < 0) {
			con_lock();
			con_puts("virtio slot ");
			con_dec(slot);
			con_puts(": set-up FAIL at step ");
			con_dec((unsigned)-r);
			con_puts("\n");
			con_unlock();
			continue;
		}
		if (id == VIRTIO_DEV_BLOCK)
			test_block(&d);
		else if (id == VIRTIO_DEV_RNG)
			test_rng(&d);
		else
			test_console(&d);
	}
	if (!found)
		con_line("no virtio devices");
}
