/* tests/guest/vtest.h - what the test guest does with its virtio devices.
 *
 * Owns: the checks run on each device the probe finds (rng: 16 bytes of
 * entropy; block: capacity, GET_ID, write/flush/read-back of sector 1, or the
 * refused write of a read-only disk) and their output lines (README.md), and
 * the block test pattern the KVM test looks for in the host's image file.
 */
#ifndef GUEST_VTEST_H
#define GUEST_VTEST_H

#include <stdint.h>

#define VTEST_SECTOR 1

/* The 512 bytes written to sector `sector`: byte i is (i * 7 + sector) & 0xff,
 * then "VMM-GUEST-BLOCK-TEST sector <decimal>\n" over the first bytes.
 * tests/test_kvm_guest.c builds the same bytes to check the image file. */
void vtest_pattern(uint8_t *buf, uint64_t sector);

/* Probe every slot and run each device's check. */
void vtest_run(void);

#endif
