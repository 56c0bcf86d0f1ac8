/*
 * support_knobs — the golden_knobs sandbox made real: the files its golden
 * names (/fw/bios,1.bin, the nvdimm image, /d1.img, /c.log, the pflash
 * images /fw/code,1.fd and /fw/vars.fd) created under a test directory,
 * and the substitution that points a golden string (a config, a device
 * spec or an argv value, keyval-escaped or not) at them.
 */
#ifndef SANDBOXFS_SUPPORT_KNOBS_H
#define SANDBOXFS_SUPPORT_KNOBS_H

#include <stdbool.h>

/* Create the files under `dir` (which must hold no ','): a real SeaBIOS
 * image as bios,1.bin, a 64 MiB nv.img, a 16 MiB d1.img, pflash code,1.fd
 * (1 MiB) and vars.fd (128 KiB).  False, after saying why, on failure. */
bool knobs_files(const char *dir);
/* `s` with every golden path replaced by its file under dir, in both the
 * plain and the keyval-escaped (',' as ",,") spelling (new string). */
char *knobs_subst(const char *s);

#endif
