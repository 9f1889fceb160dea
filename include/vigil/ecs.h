/* Alerts as ECS JSON lines (Elastic Common Schema 8.x), the format the
 * shipper writes and `vigil-correlator --replay` prints. The layout is
 * fixed and documented in docs/alerts.md. */
#ifndef VIGIL_ECS_H
#define VIGIL_ECS_H

#include "vigil/event.h"
#include "vigil/util.h"

#define VG_ECS_VERSION "8.11.0"

/* Appends al as one JSON object and a newline to b; observer is the name
 * of the writing instance. Returns 0 or -ENOMEM (b unchanged). */
int vg_ecs_alert(vg_buf *b, const vg_alert *al, const char *observer);

#endif
