/* virtio-blk: reads, writes, flush durability, the three modes, GET_ID,
 * config space, and malformed requests. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/block.h"
#include "lib/vdriver.h"

#define DISK_SECTORS 64
static struct vdriver drv;
static struct virtio_block blk;
static int fd;
static char path[64];
static int fsyncs;

static int counting_fdatasync(void *ctx, int f)
{
	fsyncs++;
	return fdatasync(f) == 0 ? 0 : -errno;
}

static int start(enum block_dev_mode mode, int open_flags)
{
	strcpy(path, "/tmp/vmm-test-block-XXXXXX");
	int t = mkstemp(path);
	assert_true(t >= 0);
	uint8_t sec[512];
	for (int s = 0; s < DISK_SECTORS; s++) {
		memset(sec, 's', sizeof(sec));
		sec[0] = (uint8_t)s;
		assert_int_equal(write(t, sec, sizeof(sec)), 512);
	}
	close(t);
	fd = open(path, open_flags);
	assert_true(fd >= 0);
	struct block_io io = block_io_direct;
	io.fdatasync = counting_fdatasync;
	fsyncs = 0;
	assert_int_equal(virtio_block_init(&blk, fd, mode, "disk-one", &io), 0);
	uint32_t st = vd_start(&drv, &blk.dev, (1ull << VIRTIO_BLK_F_FLUSH), 1);
	assert_int_equal(st, 15);
	return 0;
}

static int stop(void **s)
{
	vd_stop(&drv);
	virtio_block_destroy(&blk);
	close(fd);
	unlink(path);
	return 0;
}

static int setup_rw(void **s) { return start(BLOCK_DEV_READ_WRITE, O_RDWR); }
static int setup_ro(void **s) { return start(BLOCK_DEV_READ_ONLY, O_RDONLY); }
static int setup_vol(void **s) { return start(BLOCK_DEV_VOLATILE, O_RDONLY); }

/* Submit one request; returns the status byte and the used length. */
static uint8_t request(uint32_t type, uint64_t sector, uint64_t data_gpa, uint32_t data_len,
                       bool data_writable, uint32_t *used_len)
{
	uint64_t hdr = vd_alloc(&drv, 16), st = vd_alloc(&drv, 1);
	uint32_t h[4] = { type, 0, (uint32_t)sector, (uint32_t)(sector >> 32) };
	memcpy(vd_ptr(&drv, hdr, 16), h, 16);
	*(uint8_t *)vd_ptr(&drv, st, 1) = 0xee;
	struct vd_seg segs[3] = { { hdr, 16, false } };
	unsigned n = 1;
	if (data_len)
		segs[n++] = (struct vd_seg){ data_gpa, data_len, data_writable };
	segs[n++] = (struct vd_seg){ st, 1, true };
	uint16_t head = vd_submit(&drv, 0, segs, n);
	uint32_t id = 0xffff, len = 0;
	assert_true(vd_used(&drv, 0, &id, &len));
	assert_int_equal(id, head);
	*used_len = len;
	return *(uint8_t *)vd_ptr(&drv, st, 1);
}

static void test_config_space(void **s)
{
	uint64_t cap = (uint64_t)vd_read32(&drv, 0x100) | ((uint64_t)vd_read32(&drv, 0x104) << 32);
	assert_int_equal(cap, DISK_SECTORS);
	assert_int_equal(vd_read32(&drv, 0x10c), BLOCK_SEG_MAX);
	assert_int_equal(vd_read32(&drv, 0x114), 512);
	vd_write32(&drv, 0x14, 0);
	assert_int_equal(vd_read32(&drv, 0x10) & (1u << VIRTIO_BLK_F_RO), 0);
}

static void test_read(void **s)
{
	uint64_t buf = vd_alloc(&drv, 1024);
	uint32_t len;
	assert_int_equal(request(VIRTIO_BLK_T_IN, 5, buf, 1024, true, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1025);
	uint8_t *p = vd_ptr(&drv, buf, 1024);
	assert_int_equal(p[0], 5);
	assert_int_equal(p[1], 's');
	assert_int_equal(p[512], 6);
}

static void test_write_flush_durable(void **s)
{
	uint64_t buf = vd_alloc(&drv, 512);
	memset(vd_ptr(&drv, buf, 512), 'W', 512);
	uint32_t len;
	assert_int_equal(request(VIRTIO_BLK_T_OUT, 10, buf, 512, false, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	assert_int_equal(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(fsyncs, 1);
	/* The data is in the file, as another reader sees it. */
	int r = open(path, O_RDONLY);
	uint8_t sec[512];
	assert_int_equal(pread(r, sec, 512, 10 * 512), 512);
	close(r);
	for (int i = 0; i < 512; i++)
		assert_int_equal(sec[i], 'W');
}

static void test_get_id(void **s)
{
	uint64_t buf = vd_alloc(&drv, 20);
	uint32_t len;
	assert_int_equal(request(VIRTIO_BLK_T_GET_ID, 0, buf, 20, true, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);
	assert_memory_equal(vd_ptr(&drv, buf, 9), "disk-one", 9);
}

static void test_out_of_range(void **s)
{
	uint64_t buf = vd_alloc(&drv, 1024);
	uint32_t len;
	assert_int_equal(request(VIRTIO_BLK_T_IN, DISK_SECTORS - 1, buf, 1024, true, &len),
	                 VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	assert_int_equal(request(VIRTIO_BLK_T_IN, UINT64_MAX - 1, buf, 1024, true, &len),
	                 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(VIRTIO_BLK_T_OUT, DISK_SECTORS, buf, 512, false, &len),
	                 VIRTIO_BLK_S_IOERR);
	/* Reading exactly the last sector is fine. */
	assert_int_equal(request(VIRTIO_BLK_T_IN, DISK_SECTORS - 1, buf, 512, true, &len),
	                 VIRTIO_BLK_S_OK);
	struct stat st;
	fstat(fd, &st);
	assert_int_equal(st.st_size, DISK_SECTORS * 512); /* the file never grew */
}

static void test_unaligned_length(void **s)
{
	uint64_t buf = vd_alloc(&drv, 100);
	uint32_t len;
	assert_int_equal(request(VIRTIO_BLK_T_IN, 0, buf, 100, true, &len), VIRTIO_BLK_S_IOERR);
}

static void test_unknown_type(void **s)
{
	uint32_t len;
	assert_int_equal(request(99, 0, 0, 0, false, &len), VIRTIO_BLK_S_UNSUPP);
}

static void test_short_header(void **s)
{
	uint64_t hdr = vd_alloc(&drv, 8), st = vd_alloc(&drv, 1);
	struct vd_seg segs[2] = { { hdr, 8, false }, { st, 1, true } };
	vd_submit(&drv, 0, segs, 2);
	uint32_t id, len;
	assert_true(vd_used(&drv, 0, &id, &len));
	assert_int_equal(*(uint8_t *)vd_ptr(&drv, st, 1), VIRTIO_BLK_S_IOERR);
}

static void test_no_status_byte(void **s)
{
	uint64_t hdr = vd_alloc(&drv, 16);
	struct vd_seg segs[1] = { { hdr, 16, false } };
	vd_submit(&drv, 0, segs, 1);
	uint32_t id, len;
	assert_true(vd_used(&drv, 0, &id, &len));
	assert_int_equal(len, 0);
	assert_int_equal(blk.errors, 1);
}

static void test_read_only_refuses_writes(void **s)
{
	vd_write32(&drv, 0x14, 0);
	assert_true(vd_read32(&drv, 0x10) & (1u << VIRTIO_BLK_F_RO));
	uint64_t buf = vd_alloc(&drv, 512);
	memset(vd_ptr(&drv, buf, 512), 'X', 512);
	uint32_t len;
	assert_int_equal(request(VIRTIO_BLK_T_OUT, 1, buf, 512, false, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(VIRTIO_BLK_T_IN, 1, buf, 512, true, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(*(uint8_t *)vd_ptr(&drv, buf, 1), 1);
}

static void test_volatile_never_touches_file(void **s)
{
	uint64_t buf = vd_alloc(&drv, 1024);
	memset(vd_ptr(&drv, buf, 1024), 'V', 1024);
	uint32_t len;
	assert_int_equal(request(VIRTIO_BLK_T_OUT, 3, buf, 1024, false, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(fsyncs, 0);
	/* The guest reads its own writes back, merged over the file. */
	uint64_t rb = vd_alloc(&drv, 1536);
	assert_int_equal(request(VIRTIO_BLK_T_IN, 2, rb, 1536, true, &len), VIRTIO_BLK_S_OK);
	uint8_t *p = vd_ptr(&drv, rb, 1536);
	assert_int_equal(p[0], 2);
	assert_int_equal(p[512], 'V');
	assert_int_equal(p[1024], 'V');
	/* The file is untouched. */
	int r = open(path, O_RDONLY);
	uint8_t sec[512];
	assert_int_equal(pread(r, sec, 512, 3 * 512), 512);
	close(r);
	assert_int_equal(sec[0], 3);
	assert_int_equal(sec[1], 's');
}

static void test_init_rejects_non_files(void **s)
{
	struct virtio_block b;
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(virtio_block_init(&b, p[0], BLOCK_DEV_READ_ONLY, "x", NULL), -EINVAL);
	close(p[0]);
	close(p[1]);
	assert_int_equal(virtio_block_init(&b, -1, BLOCK_DEV_READ_ONLY, "x", NULL), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_space, setup_rw, stop),
		cmocka_unit_test_setup_teardown(test_read, setup_rw, stop),
		cmocka_unit_test_setup_teardown(test_write_flush_durable, setup_rw, stop),
		cmocka_unit_test_setup_teardown(test_get_id, setup_rw, stop),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup_rw, stop),
		cmocka_unit_test_setup_teardown(test_unaligned_length, setup_rw, stop),
		cmocka_unit_test_setup_teardown(test_unknown_type, setup_rw, stop),
		cmocka_unit_test_setup_teardown(test_short_header, setup_rw, stop),
		cmocka_unit_test_setup_teardown(test_no_status_byte, setup_rw, stop),
		cmocka_unit_test_setup_teardown(test_read_only_refuses_writes, setup_ro, stop),
		cmocka_unit_test_setup_teardown(test_volatile_never_touches_file, setup_vol, stop),
		cmocka_unit_test(test_init_rejects_non_files),
	};
	return cmocka_run_group_tests_name("block", tests, NULL, NULL);
}
