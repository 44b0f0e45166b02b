/*
 * nsvirt_lxc: per-container supervisor. Executes a launch plan written by the
 * TypeScript driver (docs/plan-format.md). Shared declarations.
 */
#ifndef NSVIRT_SUP_H
#define NSVIRT_SUP_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <sys/types.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors: every failure carries the step, errno and a message ---- */
struct err {
    int errnum;
    char step[32];
    char msg[1024]; /* complete message, ": strerror" appended when errnum != 0 */
};

/* Fill *e and return -1. */
int fail(struct err *e, const char *step, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "nsvirt_lxc: NAME: message" on stderr (main.c). */
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "error STEP ERRNO MESSAGE\n", fields percent-encoded (main.c). */
void format_error_line(const struct err *e, char *line, size_t size);

/* ---- plan.c ---- */
enum rec_kind { REC_HOST, REC_CHILD, REC_EXEC };

struct record {
    const char *kw;
    enum rec_kind kind;
    int line;
    int argc;
    char **argv;
};

struct plan {
    char *text;
    struct record *recs;
    size_t nrecs;
};

/* A launch plan (exactly one exec), or a network change for net-apply (network records only). */
enum plan_kind { PLAN_LAUNCH, PLAN_NETWORK };

int plan_load(struct plan *p, const char *path, struct err *e);
int plan_load_kind(struct plan *p, const char *path, enum plan_kind kind, struct err *e);
int plan_parse(struct plan *p, char *text, struct err *e); /* takes ownership of text */
void plan_free(struct plan *p);

/* Percent-encode one field (`%-` for empty); always NUL-terminates, truncates. */
void pct_encode(const char *in, char *out, size_t outsz);
/* Decode a percent-encoded field in place; -1 when it is malformed. */
int pct_decode(char *s);

int parse_ulong(const char *s, int base, unsigned long max, unsigned long *out);
int parse_long(const char *s, long min, long max, long *out);

struct mflags {
    unsigned long main; /* MS_* other than propagation */
    unsigned long prop; /* MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE */
    bool rec;
};
int parse_mount_flags(const char *s, struct mflags *out);
/* CLONE_NEW* for a namespace name, 0 if unknown. */
int ns_flag(const char *name);

/* ---- host.c ---- */
int write_all(int fd, const void *buf, size_t len);
int write_file(const char *path, const char *data, size_t len, struct err *e, const char *step);
int mkdir_p(const char *path, mode_t mode);
int open_pty(int *master, int *slave, char *path, size_t pathsz);
/* Attach FILE to a free loop device with LO_FLAGS_AUTOCLEAR; returns the fd. */
int loop_attach(const char *file, bool rdonly, int *num, struct err *e, const char *step);
void loop_detach(int fd);
/* SIGKILL every task in DIR and its sub-cgroups; thaw frozen groups. Returns #tasks seen. */
int cgroup_kill(const char *dir);
/* Remove DIR and its sub-cgroups, deepest first. */
int cgroup_remove(const char *dir);
int link_delete(const char *ifname);
/* Best-effort: use HOSTPATH if it is the same device as FD, else /proc/self/fd/FD. */
void fd_device_path(int fd, const char *hostpath, char *out, size_t outsz);

/* ---- child.c ---- */
struct console {
    unsigned index;
    int master, slave;
    char path[64]; /* host path of the slave */
    int client;    /* relay client slot, -1 */
    bool dead;
    char to_client[4096];
    size_t tc_len, tc_off;
    char to_master[4096];
    size_t tm_len, tm_off;
};

struct child_ctx {
    const struct plan *plan;
    int sync_fd; /* read: one byte = go */
    int err_fd;  /* write: struct err on failure; CLOEXEC, EOF = exec happened */
    bool userns;
    bool cgroupns;
    const struct console *consoles;
    size_t nconsoles;
    const int *loop_fd; /* per record, -1 when none */
    const int *loop_num;
    mode_t orig_umask;
};

void child_main(const struct child_ctx *c) __attribute__((noreturn));

#endif
