/* Telling systemd how a daemon is doing (sd_notify(3)): ready, reloading,
 * stopping, a status line for `systemctl status`, and the watchdog's
 * keep-alive. A daemon that systemd did not start as Type=notify has no
 * NOTIFY_SOCKET, and then every call does nothing.
 */
#ifndef VIGIL_NOTIFY_H
#define VIGIL_NOTIFY_H

#include <uv.h>

/* Sends the state lines fmt formats ("READY=1\nSTATUS=..."). A failure
 * to send is logged once; the daemon goes on either way. */
void vg_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* If systemd set a watchdog (WatchdogSec=, seen in WATCHDOG_USEC and
 * WATCHDOG_PID), starts *t on loop to send WATCHDOG=1 at half its period,
 * so that a loop that stops turning (a hang, a deadlock) is killed and the
 * service restarted. The timer does not keep the loop alive; the caller
 * closes it with the loop's other handles. Returns 1 if started, else 0. */
int vg_notify_watchdog_start(uv_loop_t *loop, uv_timer_t *t);

#endif
