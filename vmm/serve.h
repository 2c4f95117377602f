/* vmm/serve.h - the vmm's side of fuchsia.virtualization/GuestLifecycle and
 * Guest over FIDL channels.
 *
 * Owns: serving the one GuestLifecycle channel a vmm process inherits
 * (Create, Bind, Run, Stop, with the rules of lifecycle.h) and every Guest
 * channel bound through it (GetSerial, GetConsole, GetHostVsockEndpoint,
 * GetBalloonController), and the HostVsockEndpoint and BalloonController
 * channels those hand over. Run answers when the guest stops, while other calls
 * keep being served. When the GuestLifecycle channel closes the guest is
 * stopped and serve returns: the vmm exits. A malformed message or an unknown
 * ordinal closes that channel with an epitaph; on the lifecycle channel that
 * also stops the guest.
 */
#ifndef VMM_SERVE_H
#define VMM_SERVE_H

#include "base/hv.h"

/* Serve until the lifecycle channel closes. hv_fd is the hypervisor handle
 * (-1: none; Create then fails with GUEST_INITIALIZATION_FAILURE). Returns
 * 0 after an orderly close, 1 after a protocol violation. */
int vmm_serve(int channel_fd, const struct hv_ops *hv, int hv_fd);

#endif
