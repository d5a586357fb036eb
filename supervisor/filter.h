/*
 * filter.c: compiles a filter spec's lists into the BPF program the shim
 * loads (sg_spec_t's bpf), once per policy and mode when the policy loads.
 */
#ifndef SG_FILTER_H
#define SG_FILTER_H

#include <stddef.h>

#include "sysgate/protocol.h"

/* Fills sp->bpf and sp->n_bpf from the rest of sp with libseccomp: the
 * default action, the lists, the binary-tree optimisation where libseccomp
 * has it, and a bad-arch action that kills the process (a call of another
 * arch, or of the x32 ABI on x86_64). 0, or a negative errno with err
 * filled. */
int filter_compile(sg_spec_t *sp, char *err, size_t errlen);

#endif
