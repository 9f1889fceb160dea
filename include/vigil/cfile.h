/* Reading the files a daemon is configured with (the configuration, rule,
 * calendar and list files, TLS certificates, keys and CA files) without
 * letting one hold it: each is read at start, at -t and at every SIGHUP, in
 * the daemon's event loop. A FIFO blocks open(2) until a writer comes and
 * read(2) for as long as a writer holds it open and writes nothing; a
 * character device (/dev/zero, /dev/urandom) never ends; a directory or a
 * socket is no file at all; and a file of gigabytes would be read into
 * memory whole. All of these are refused here, at once, with the path and
 * why, before any read. */
#ifndef VIGIL_CFILE_H
#define VIGIL_CFILE_H

#include <stddef.h>
#include <stdint.h>

/* Largest configuration, rule, calendar or PEM file read (16 MiB): far
 * more than any real one, a CA bundle included. */
#define VG_CFILE_MAX (16u * 1024 * 1024)

/* Opens path for reading without blocking (O_NONBLOCK: a FIFO without a
 * writer does not hold open(2); O_NOCTTY), then checks the file opened
 * (fstat of the descriptor, not of the name, which may change meanwhile):
 * it must be a regular file (symlinks to one are followed) of at most max
 * bytes (0: no limit). Returns the descriptor (O_CLOEXEC, blocking again,
 * the caller's to close) with its size in *size (may be NULL), or
 * VG_ECONFIG with "PATH: reason" in err: "cannot open: <strerror>", "is a
 * FIFO, not a regular file ...", "is N bytes, more than the limit of M",
 * and so on. -ENOMEM never. */
int vg_cfile_open(const char *path, uint64_t max, uint64_t *size, char *err, size_t errlen);

/* vg_cfile_open, then reads the whole file into a new buffer (*buf, NUL
 * after its *len bytes, the caller's to free) with at most max bytes (0:
 * VG_CFILE_MAX): a file that grew past max while read is refused too.
 * 0, VG_ECONFIG ("PATH: reason" in err) or -ENOMEM ("PATH: out of
 * memory"). *buf is NULL on error. */
int vg_cfile_read(const char *path, size_t max, char **buf, size_t *len, char *err,
                  size_t errlen);

/* What a file of st_mode m that is not a regular file is, for a refusal:
 * "a FIFO", "a directory", "a character device", "a block device", "a
 * socket" (a static string). */
const char *vg_cfile_kind(unsigned m);

#endif
