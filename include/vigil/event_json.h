/* Events as JSON lines for operators' tools and tests. */
#ifndef VIGIL_EVENT_JSON_H
#define VIGIL_EVENT_JSON_H

#include "vigil/event.h"
#include "vigil/util.h"

/* Appends ev as one JSON object and a newline to b. Byte strings that are
 * not valid UTF-8 have the bad bytes replaced by U+FFFD. */
int vg_event_json(vg_buf *b, const vg_event *ev);

/* The same, byte-exact (vigil-collector --dump-spool): a field that is not
 * valid UTF-8 is written with each byte that is not UTF-8 as the text
 * \xHH and each backslash as \\ (in the JSON: "\\xff", "\\\\"), so that
 * its text reads back to the bytes, and its key is listed in a last member
 * "escaped" (e.g. "escaped":["msg","raw"]), present only when some field
 * was written so. Valid UTF-8 fields are written as by vg_event_json. */
int vg_event_json_exact(vg_buf *b, const vg_event *ev);

#endif
