/* The source text of a scalar that spans lines, kept by the YAML loader
 * (yaml.c) so that an error at a byte of the scalar's value can name the
 * file line that byte came from (vg_node_line_at, yaml_src.c). Private to
 * libvigil. */
#ifndef VG_YAML_SRC_H
#define VG_YAML_SRC_H

#include <stddef.h>
#include <yaml.h>

#include "vigil/conf.h"

/* Where the loader is in its input: libyaml's line index (0-based, counted
 * as libyaml counts: LF, CR LF, a lone CR, NEL, LS, PS) and the byte at
 * which that line starts. Scalars come in document order, so one cursor
 * walks the input once. */
typedef struct vg__yaml_cur {
    size_t line;
    size_t pos;
} vg__yaml_cur;

/* For a scalar event ev spanning lines of the UTF-8 input buf (len bytes):
 * *out gets a copy of its source (malloc'ed; vg__yaml_src_free). *out is
 * NULL, and 0 returned, when the input is not UTF-8 (a UTF-16 BOM) or a mark
 * falls outside it: vg_node_line_at then says it cannot tell. -ENOMEM. */
int vg__yaml_src_new(const char *buf, size_t len, vg__yaml_cur *cur, const yaml_event_t *ev,
                     vg_yaml_src **out);
void vg__yaml_src_free(vg_yaml_src *s);

#endif
