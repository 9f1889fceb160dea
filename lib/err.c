/* vg_strerror: one table for Vigil's own codes, then LMDB's, then errno. */
#include <lmdb.h>
#include <string.h>

#include "vigil/err.h"

static const struct {
    int code;
    const char *msg;
} vg__errors[] = {
    {VG_EPROTO, "protocol violation by peer"},
    {VG_EVERSION, "peer speaks another protocol version"},
    {VG_ECONFIG, "invalid configuration"},
    {VG_ERULE, "invalid rule"},
    {VG_EPEER, "peer credentials refused"},
    {VG_ETOOBIG, "frame or record too large"},
    {VG_EFULL, "durable queue full"},
    {VG_ESTATE, "stored state is inconsistent"},
};

const char *vg_strerror(int err)
{
    for (size_t i = 0; i < sizeof(vg__errors) / sizeof(vg__errors[0]); i++)
        if (vg__errors[i].code == err)
            return vg__errors[i].msg;
    if (err <= MDB_KEYEXIST && err >= MDB_LAST_ERRCODE)
        return mdb_strerror(err);
    if (err < 0)
        return strerror(-err);
    return err == 0 ? "success" : "unknown error";
}
