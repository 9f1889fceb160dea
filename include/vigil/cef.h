/* Alerts as CEF (ArcSight Common Event Format, "Implementing ArcSight CEF"
 * rev 25) and LEEF 2.0 (IBM QRadar), the two formats the shipper's syslog
 * outputs carry to a SIEM. Pure formatting: one line per alert, no trailing
 * newline and no syslog header (the transport frames it).
 *
 * The field mapping, the order of the keys, the escaping and every bound are
 * fixed and documented in docs/cef-leef.md; the same alert always gives the
 * same bytes. Whatever bytes a device sent, the output is valid UTF-8 (bad
 * bytes become U+FFFD, as in vg_json_escape) and one line (CR and LF never
 * appear raw).
 */
#ifndef VIGIL_CEF_H
#define VIGIL_CEF_H

#include "vigil/event.h"
#include "vigil/util.h"

#define VG_CEF_VENDOR "Vigil"  /* Device Vendor (CEF), Vendor (LEEF) */
#define VG_CEF_PRODUCT "vigil" /* Device Product (CEF), Product (LEEF) */

/* The rule level 0..15 as a CEF severity 0..10: round(level * 10 / 15),
 * levels outside 0..15 clamped first. 0..5 -> 0..3 (Low), 6..9 -> 4..6
 * (Medium), 10..12 -> 7..8 (High), 13..15 -> 9..10 (Very-High). */
int vg_cef_severity(int32_t level);

/* The rule level as a LEEF sev 1..10: the CEF severity, 0 raised to 1. */
int vg_leef_severity(int32_t level);

/* Appends al to b as one CEF line:
 *   CEF:0|Vigil|vigil|<product_version>|<rule id>|<rule name>|<severity>|<extension>
 * product_version is the Device Version field (the shipper passes VG_VERSION;
 * NULL gives an empty field). al and everything it points to are only read,
 * and need to live only for the call.
 * Returns 0, or -ENOMEM with b as it was (b->oom is cleared on entry). */
int vg_cef_alert(vg_buf *b, const vg_alert *al, const char *product_version);

/* LEEF options. Zero-initialised (or a NULL pointer) means the defaults. */
typedef struct vg_leef_opts {
    /* The attribute delimiter: 0 or '\t' for a tab (the default, written
     * "x09" in the header), or one ASCII punctuation character other than
     * = | \ , ' - . : + _ (LEEF syntax, the tag list separator, or part of
     * Vigil's own keys and time values). vg_leef_delim_parse reads the
     * configuration form. */
    char delim;
} vg_leef_opts;

/* Appends al to b as one LEEF 2.0 line:
 *   LEEF:2.0|Vigil|vigil|<product_version>|<rule id>|<delimiter>|<attributes>
 * with the attributes separated by o->delim. Ownership as vg_cef_alert.
 * Returns 0; -EINVAL if o->delim is not an allowed delimiter; -ENOMEM.
 * On error b is as it was (b->oom is cleared on entry). */
int vg_leef_alert(vg_buf *b, const vg_alert *al, const char *product_version,
                  const vg_leef_opts *o);

/* Reads a delimiter as configured: a single character ("^", or a literal
 * tab), or its code in hex as LEEF 2.0 writes it in the header, "x09" or
 * "0x09" (one or two hex digits, either case). Stores it in *out and returns
 * 0, or returns -EINVAL (nothing stored) for anything else, including a
 * character vg_leef_alert would refuse. */
int vg_leef_delim_parse(const char *s, char *out);

#endif
