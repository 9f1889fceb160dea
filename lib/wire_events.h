/* The EVENTS batch's direct decoder (wire_events.c), private to libvigil:
 * vg_wire_decode tries it first, the msgpack-c decoder (vg_wire_decode_tree)
 * decides everything it does not take. */
#ifndef VG_WIRE_EVENTS_H
#define VG_WIRE_EVENTS_H

#include <stddef.h>

#include "vigil/wire.h"

#define VG_EVENT_FIELDS 16 /* elements of an event record */

/* Decodes payload as an EVENTS frame straight into vg_event records (the
 * views point into payload). 0: *m is the message, as vg_wire_decode_tree
 * would give it; 1: not taken (another type, or anything the full decoder
 * may refuse or decide otherwise), *m untouched. Why: the msgpack-c path
 * walks each frame twice (the size check, then the object tree, allocated
 * node by node) before copying the tree into the events; the correlator
 * spent a fifth of its CPU there (bench/README.md, session 30). */
int vg_wire_decode_events_direct(const char *payload, size_t len, vg_msg *m);

/* vg_wire_decode without the direct path: the reference the direct
 * decoder is tested against (tests/unit/test_wire.c). */
int vg_wire_decode_tree(const char *payload, size_t len, vg_msg *m);

#endif
