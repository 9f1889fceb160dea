/* What the fuzz targets share: FZ_CHECK, which turns a broken promise of a
 * header into a crash that both drivers (fuzz_main.c, libFuzzer) report. */
#ifndef VIGIL_FUZZ_H
#define VIGIL_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts, naming the condition, when cond is false. */
#define FZ_CHECK(cond)                                                                        \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* Same, with a printf-style explanation. */
#define FZ_CHECKF(cond, ...)                                                                  \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: invariant violated: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fputc('\n', stderr);                                                              \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* Makes a fresh directory TMPDIR/vg-fuzz-NAME-XXXXXX into dir; aborts if
 * it cannot. TMPDIR unset or empty: /dev/shm when it is a writable
 * directory, else /tmp. Why: the targets write an LMDB store and files on
 * every run, and on a disk each run waits for I/O (fuzz_lists: ~2 ms a run
 * on /tmp, 0.07 ms on tmpfs), so the time cap cut the loop at a third of
 * its mutations; only the speed differs, not the code under test. */
static inline void fz_tmpdir(char *dir, size_t cap, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, cap, "%s/vg-fuzz-%s-XXXXXX", tmp, name);
    FZ_CHECK(mkdtemp(dir) != NULL);
}

#endif
