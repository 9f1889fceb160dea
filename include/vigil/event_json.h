/* Events as JSON lines for operators' tools and tests. */
#ifndef VIGIL_EVENT_JSON_H
#define VIGIL_EVENT_JSON_H

#include "vigil/event.h"
#include "vigil/util.h"

/* Appends ev as one JSON object and a newline to b. Byte strings that are
 * not valid UTF-8 have the bad bytes replaced by U+FFFD. */
int vg_event_json(vg_buf *b, const vg_event *ev);

#endif
