/* systemd's notification protocol through libsystemd (see notify.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "vigil/log.h"
#include "vigil/notify.h"

void vg_notify(const char *fmt, ...)
{
    static bool warned;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    int rc = sd_notify(0, buf);
    if (rc < 0 && !warned) {
        warned = true;
        vg_warn("cannot notify systemd (NOTIFY_SOCKET): %s; it may take the service as not "
                "started or hung", strerror(-rc));
    }
}

static void vg__watchdog_tick(uv_timer_t *t)
{
    (void)t;
    sd_notify(0, "WATCHDOG=1");
}

int vg_notify_watchdog_start(uv_loop_t *loop, uv_timer_t *t)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    uint64_t ms = usec / 2000 ? usec / 2000 : 1;
    uv_timer_init(loop, t);
    uv_timer_start(t, vg__watchdog_tick, 0, ms);
    uv_unref((uv_handle_t *)t);
    vg_info("systemd watchdog: alive every %llu ms (WatchdogSec %llu ms)", (unsigned long long)ms,
            (unsigned long long)(usec / 1000));
    return 1;
}
