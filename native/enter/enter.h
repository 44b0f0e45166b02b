/*
 * nsvirt_enter: run a command inside a running container (virsh
 * lxc-enter-namespace). Shared declarations.
 */
#ifndef NSVIRT_ENTER_H
#define NSVIRT_ENTER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/types.h>

/* Exit statuses of the helper itself, as virsh's (and env(1)'s). */
#define EXIT_CANCELED 125      /* entering the container failed */
#define EXIT_CANNOT_INVOKE 126 /* the command exists but cannot be run */
#define EXIT_ENOENT 127        /* the command does not exist */

/* Print "nsvirt_enter: WHAT: strerror(errnum)" on stderr. */
void report(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Move the calling process into every cgroup the process behind PROC_FD
 * (an open /proc/PID directory) belongs to, in each hierarchy mounted on
 * this host. Returns 0, or -1 after reporting why.
 */
int join_cgroups_of(int proc_fd);

#endif
