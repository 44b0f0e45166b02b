/*
 * Joining another process's cgroups: its /proc/PID/cgroup lines
 * (ID:CONTROLLERS:PATH) are mapped onto this host's cgroup mounts from
 * /proc/self/mountinfo, and our pid is written to each cgroup.procs.
 * Hierarchies that are not mounted here are skipped, as libvirt does.
 */
#include "enter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cgmount {
    char *root;  /* the part of the hierarchy mounted (mountinfo field 4) */
    char *point; /* where it is mounted */
    char *opts;  /* super options: the v1 controllers, name=… */
    bool v2;
};

struct mounts {
    struct cgmount *v;
    size_t n;
};

/* mountinfo escapes space, tab, newline and backslash as \ooo; decode in place. */
static void unescape(char *s)
{
    char *out = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

/* Split LINE at spaces into at most MAX fields; returns the count. */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(line, " \n", &save); t && n < max; t = strtok_r(NULL, " \n", &save))
        fields[n++] = t;
    return n;
}

static void free_mounts(struct mounts *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].root);
        free(m->v[i].point);
        free(m->v[i].opts);
    }
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

static int add_mount(struct mounts *m, const char *root, const char *point, const char *opts, bool v2)
{
    struct cgmount *grown = realloc(m->v, (m->n + 1) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    m->v = grown;
    struct cgmount *c = &m->v[m->n];
    c->root = strdup(root);
    c->point = strdup(point);
    c->opts = strdup(opts);
    c->v2 = v2;
    m->n++;
    if (c->root == NULL || c->point == NULL || c->opts == NULL)
        return -1;
    return 0;
}

/* Every cgroup and cgroup2 mount of this mount namespace. */
static int load_mounts(struct mounts *m)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL) {
        report(errno, "cannot open '/proc/self/mountinfo'");
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    errno = 0;
    while (getline(&line, &cap, f) >= 0) {
        char *fld[64];
        size_t n = split_fields(line, fld, 64);
        size_t dash = 6; /* optional fields end with "-" */
        while (dash < n && strcmp(fld[dash], "-") != 0)
            dash++;
        if (dash + 3 >= n)
            continue; /* not a mountinfo line we understand */
        const char *fstype = fld[dash + 1];
        bool v2 = strcmp(fstype, "cgroup2") == 0;
        if (!v2 && strcmp(fstype, "cgroup") != 0)
            continue;
        unescape(fld[3]);
        unescape(fld[4]);
        if (add_mount(m, fld[3], fld[4], fld[dash + 3], v2) != 0) {
            report(ENOMEM, "cannot record the cgroup mounts");
            rc = -1;
            break;
        }
        errno = 0;
    }
    if (rc == 0 && ferror(f)) {
        report(errno ? errno : EIO, "cannot read '/proc/self/mountinfo'");
        rc = -1;
    }
    free(line);
    if (fclose(f) != 0 && rc == 0) {
        report(errno, "cannot read '/proc/self/mountinfo'");
        rc = -1;
    }
    return rc;
}

/* Is every comma-separated word of WANTED among the words of OPTS? */
static bool has_all_words(const char *opts, const char *wanted)
{
    for (const char *w = wanted; *w;) {
        size_t len = strcspn(w, ",");
        bool found = false;
        for (const char *o = opts; *o && !found;) {
            size_t olen = strcspn(o, ",");
            found = olen == len && strncmp(o, w, len) == 0;
            o += olen + (o[olen] == ',');
        }
        if (!found)
            return false;
        w += len + (w[len] == ',');
    }
    return true;
}

/* PATH relative to a mount of ROOT, or NULL when that mount does not contain PATH. */
static const char *below_root(const char *path, const char *root)
{
    if (strcmp(root, "/") == 0)
        return path;
    size_t len = strlen(root);
    if (strncmp(path, root, len) != 0 || (path[len] != '/' && path[len] != '\0'))
        return NULL;
    return path[len] ? path + len : "/";
}

static int write_pid(const char *file)
{
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    int fd = open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        report(errno, "cannot open '%s'", file);
        return -1;
    }
    ssize_t n;
    do
        n = write(fd, buf, (size_t)len);
    while (n < 0 && errno == EINTR);
    if (n != len) {
        report(n < 0 ? errno : EIO, "cannot add this process to '%s'", file);
        (void)close(fd); /* failing already */
        return -1;
    }
    if (close(fd) != 0) {
        report(errno, "cannot add this process to '%s'", file);
        return -1;
    }
    return 0;
}

/* One /proc/PID/cgroup line: join that cgroup if its hierarchy is mounted here. */
static int join_one(const struct mounts *m, char *line)
{
    char *nl = strchr(line, '\n');
    if (nl)
        *nl = '\0';
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c2 == NULL)
        return 0; /* not a cgroup line */
    *c1 = *c2 = '\0';
    const char *controllers = c1 + 1;
    const char *path = c2 + 1;
    bool v2 = strcmp(line, "0") == 0 && *controllers == '\0';
    if (!v2 && *controllers == '\0')
        return 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct cgmount *c = &m->v[i];
        if (c->v2 != v2 || (!v2 && !has_all_words(c->opts, controllers)))
            continue;
        const char *rel = below_root(path, c->root);
        if (rel == NULL)
            continue;
        char file[4096];
        if (snprintf(file, sizeof(file), "%s%s/cgroup.procs", c->point, strcmp(rel, "/") ? rel : "") >= (int)sizeof(file)) {
            report(ENAMETOOLONG, "cgroup path of '%s' is too long", path);
            return -1;
        }
        return write_pid(file);
    }
    return 0;
}

int join_cgroups_of(int proc_fd)
{
    struct mounts m = {0};
    if (load_mounts(&m) != 0) {
        free_mounts(&m);
        return -1;
    }
    int fd = openat(proc_fd, "cgroup", O_RDONLY | O_CLOEXEC);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "re");
    if (f == NULL) {
        report(errno, "cannot open the cgroup list of the container");
        if (fd >= 0)
            (void)close(fd); /* failing already */
        free_mounts(&m);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    errno = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0)
        rc = join_one(&m, line);
    if (rc == 0 && ferror(f)) {
        report(errno ? errno : EIO, "cannot read the cgroup list of the container");
        rc = -1;
    }
    free(line);
    if (fclose(f) != 0 && rc == 0) {
        report(errno, "cannot read the cgroup list of the container");
        rc = -1;
    }
    free_mounts(&m);
    return rc;
}
