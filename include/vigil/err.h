/* Vigil error codes.
 *
 * Every function that can fail returns int: 0 on success, a negative errno
 * value for system errors (-ENOMEM, -EIO, ...), or one of the VG_E* codes
 * below for Vigil's own errors. The VG_E* codes live in -30900..-30999, a
 * range that clashes with neither errno nor LMDB (-30799..-30780), whose
 * codes are passed through unchanged. vg_strerror() names all three kinds.
 */
#ifndef VIGIL_ERR_H
#define VIGIL_ERR_H

enum {
    VG_EPROTO = -30900,   /* a peer sent a message that breaks docs/protocol.md */
    VG_EVERSION = -30901, /* a peer speaks another protocol version */
    VG_ECONFIG = -30902,  /* a configuration file is wrong (details in the message) */
    VG_ERULE = -30903,    /* a rule file is wrong (details in the message) */
    VG_EPEER = -30904,    /* a peer's credentials are not the pipeline user's */
    VG_ETOOBIG = -30905,  /* a frame or record exceeds its limit */
    VG_EFULL = -30906,    /* a durable queue reached its configured size */
    VG_ESTATE = -30907,   /* stored state is inconsistent (corrupt or foreign) */
};

/* Returns a static, human-readable message for any code described above. */
const char *vg_strerror(int err);

#endif
