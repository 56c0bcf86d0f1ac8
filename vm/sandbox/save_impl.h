/*
 * vm_save — what save.c and save_restore.c share (internal to the save
 * module).
 */
#ifndef SANDBOXFS_VM_SAVE_IMPL_H
#define SANDBOXFS_VM_SAVE_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/cred.h"
#include "lib/err.h"


/* The directory argument "DIR" (and, with `template` non-NULL, "DIR
 * template"): absolute, no blank, trailing '/' dropped, into dir. */
int vm_save_dir_arg(const char *arg, char *dir, size_t len, bool *template, struct err **e);
/* DIR/name created (O_EXCL) as `who` through dirfd with `text`, fsynced. */
int vm_save_write(const struct cred *who, int dirfd, const char *name, const char *text,
		  struct err **e);

#endif
