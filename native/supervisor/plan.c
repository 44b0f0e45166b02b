/* Plan file: decoding (percent-encoded fields) and validation. */
#include "sup.h"
#include "netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLAN_MAX_BYTES (4u << 20)
#define MAX_CONSOLES 64

int fail(struct err *e, const char *step, int errnum, const char *fmt, ...)
{
    va_list ap;
    e->errnum = errnum;
    snprintf(e->step, sizeof(e->step), "%s", step);
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    if (errnum != 0) {
        size_t n = strlen(e->msg);
        snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errnum));
    }
    return -1;
}

void pct_encode(const char *in, char *out, size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (outsz == 0)
        return;
    if (*in == '\0') {
        snprintf(out, outsz, "%%-");
        return;
    }
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (*p == '%' || *p < 0x21 || *p > 0x7e) {
            if (o + 3 >= outsz)
                break;
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        } else {
            if (o + 1 >= outsz)
                break;
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int pct_decode(char *s)
{
    char *o = s;
    if (strcmp(s, "%-") == 0) {
        *s = '\0';
        return 0;
    }
    for (char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x21 || c > 0x7e)
            return -1;
        if (c == '%') {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1; /* %00 cannot be represented in a C string */
            *o++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return 0;
}

int parse_ulong(const char *s, int base, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;
    if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    v = strtoul(s, &end, base);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;
    if (*s == '\0' || *s == ' ' || *s == '+')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int ns_flag(const char *name)
{
    static const struct { const char *name; int flag; } ns[] = {
        {"mnt", CLONE_NEWNS},   {"uts", CLONE_NEWUTS},   {"ipc", CLONE_NEWIPC},       {"pid", CLONE_NEWPID},
        {"net", CLONE_NEWNET},  {"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP},
    };
    for (size_t i = 0; i < ARRAY_LEN(ns); i++)
        if (strcmp(ns[i].name, name) == 0)
            return ns[i].flag;
    return 0;
}

int parse_mount_flags(const char *s, struct mflags *out)
{
    static const struct { const char *name; unsigned long main, prop; bool rec; } fl[] = {
        {"bind", MS_BIND, 0, false},
        {"rec", 0, 0, true},
        {"rdonly", MS_RDONLY, 0, false},
        {"nosuid", MS_NOSUID, 0, false},
        {"nodev", MS_NODEV, 0, false},
        {"noexec", MS_NOEXEC, 0, false},
        {"remount", MS_REMOUNT, 0, false},
        {"move", MS_MOVE, 0, false},
        {"strictatime", MS_STRICTATIME, 0, false},
        {"relatime", MS_RELATIME, 0, false},
        {"noatime", MS_NOATIME, 0, false},
        {"nodiratime", MS_NODIRATIME, 0, false},
        {"private", 0, MS_PRIVATE, false},
        {"rprivate", 0, MS_PRIVATE, true},
        {"slave", 0, MS_SLAVE, false},
        {"rslave", 0, MS_SLAVE, true},
        {"shared", 0, MS_SHARED, false},
        {"rshared", 0, MS_SHARED, true},
        {"unbindable", 0, MS_UNBINDABLE, false},
        {"runbindable", 0, MS_UNBINDABLE, true},
    };
    char buf[512];
    out->main = out->prop = 0;
    out->rec = false;
    if (*s == '\0')
        return 0;
    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t i;
        for (i = 0; i < ARRAY_LEN(fl); i++)
            if (strcmp(fl[i].name, tok) == 0)
                break;
        if (i == ARRAY_LEN(fl))
            return -1;
        out->main |= fl[i].main;
        if (fl[i].prop) {
            if (out->prop && out->prop != fl[i].prop)
                return -1; /* one propagation type per mount */
            out->prop = fl[i].prop;
        }
        out->rec |= fl[i].rec;
    }
    return 0;
}

/* ---- validation ---- */

struct kwspec {
    const char *kw;
    enum rec_kind kind;
    int min, max; /* field counts, max -1 = unbounded */
    bool once;
};

static const struct kwspec specs[] = {
    {"name", REC_HOST, 1, 1, true},
    {"log", REC_HOST, 1, 1, true},
    {"status", REC_HOST, 1, 1, true},
    {"control", REC_HOST, 1, 1, true},
    {"clone", REC_HOST, 1, -1, false},
    {"share", REC_HOST, 2, 2, false},
    {"uidmap", REC_HOST, 3, 3, false},
    {"gidmap", REC_HOST, 3, 3, false},
    {"cgroup", REC_HOST, 1, 1, false},
    {"cgroup-write", REC_HOST, 2, 2, false},
    {"console", REC_HOST, 1, 3, false},
    {"on-poweroff", REC_HOST, 1, 1, true},
    {"on-reboot", REC_HOST, 1, 1, true},
    {"on-crash", REC_HOST, 1, 1, true},
    {"cleanup-rmdir", REC_HOST, 1, 1, false},
    {"cleanup-unlink", REC_HOST, 1, 1, false},
    {"cleanup-link", REC_HOST, 1, 1, false},
    {"veth", REC_HOST, 2, 2, false},
    {"macvlan", REC_HOST, 3, 3, false},
    {"link-mac", REC_HOST, 2, 2, false},
    {"link-mtu", REC_HOST, 2, 2, false},
    {"link-master", REC_HOST, 2, 2, false},
    {"link-up", REC_HOST, 1, 1, false},
    {"host-addr", REC_HOST, 3, 4, false},
    {"host-route", REC_HOST, 6, 6, false},
    {"link-netns", REC_HOST, 1, 1, false},
    {"link-del", REC_HOST, 1, 1, false},
    {"sethostname", REC_CHILD, 1, 1, false},
    {"mount", REC_CHILD, 5, 5, false},
    {"mount-loop", REC_CHILD, 5, 5, false},
    {"mkdir", REC_CHILD, 2, 2, false},
    {"touch", REC_CHILD, 2, 2, false},
    {"mknod", REC_CHILD, 5, 5, false},
    {"symlink", REC_CHILD, 2, 2, false},
    {"chown", REC_CHILD, 3, 3, false},
    {"bind-console", REC_CHILD, 2, 2, false},
    {"pivot", REC_CHILD, 2, 2, false},
    {"umount", REC_CHILD, 1, 1, false},
    {"ifup", REC_CHILD, 1, 1, false},
    {"remount", REC_CHILD, 2, 2, false},
    {"link-rename", REC_CHILD, 2, 2, false},
    {"link-set", REC_CHILD, 2, 2, false},
    {"addr-add", REC_CHILD, 3, 4, false},
    {"route-add", REC_CHILD, 6, 6, false},
    {"link-remove", REC_CHILD, 1, 1, false},
    {"caps-drop", REC_EXEC, 1, -1, false},
    {"user", REC_EXEC, 2, 2, true},
    {"groups", REC_EXEC, 1, -1, true},
    {"cwd", REC_EXEC, 1, 1, true},
    {"env", REC_EXEC, 1, 1, false},
    {"stdio-console", REC_EXEC, 1, 1, true},
    {"exec", REC_EXEC, 2, -1, true},
};

struct vstate {
    bool seen[ARRAY_LEN(specs)];
    unsigned long consoles[MAX_CONSOLES];
    size_t nconsoles;
    int clone_flags, share_flags;
};

static bool has_console(const struct vstate *v, unsigned long idx)
{
    for (size_t i = 0; i < v->nconsoles; i++)
        if (v->consoles[i] == idx)
            return true;
    return false;
}

static bool is_id(const char *s) /* uid/gid, -1 = unchanged */
{
    long v;
    return parse_long(s, -1, 4294967294L, &v) == 0;
}

static bool is_u32(const char *s)
{
    unsigned long v;
    return parse_ulong(s, 10, 4294967295UL, &v) == 0;
}

static bool is_mode(const char *s)
{
    unsigned long v;
    return parse_ulong(s, 8, 07777, &v) == 0;
}

static bool is_abs(const char *s)
{
    return s[0] == '/';
}

/* Plan errors carry EINVAL but no ": Invalid argument" suffix: the message says it all. */
static int plan_error(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int plan_error(struct err *e, const char *fmt, ...)
{
    va_list ap;
    e->errnum = EINVAL;
    snprintf(e->step, sizeof(e->step), "plan");
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

static int bad(struct err *e, const struct record *r, const char *what)
{
    return plan_error(e, "line %d: %s: %s", r->line, r->kw, what);
}

static int validate(const struct record *r, size_t si, struct vstate *v, struct err *e)
{
    const struct kwspec *sp = &specs[si];
    char **a = r->argv;
    unsigned long n;

    if (r->argc < sp->min || (sp->max >= 0 && r->argc > sp->max))
        return bad(e, r, "wrong number of fields");
    if (sp->once && v->seen[si])
        return bad(e, r, "may appear only once");
    v->seen[si] = true;

    const char *kw = r->kw;
    if (!strcmp(kw, "name") || !strcmp(kw, "sethostname")) {
        if (a[0][0] == '\0')
            return bad(e, r, "empty name");
    } else if (!strcmp(kw, "log") || !strcmp(kw, "status") || !strcmp(kw, "control") || !strcmp(kw, "cgroup") ||
               !strcmp(kw, "cleanup-rmdir") || !strcmp(kw, "cleanup-unlink")) {
        if (!is_abs(a[0]))
            return bad(e, r, "path must be absolute");
        if (!strcmp(kw, "cgroup") && strlen(a[0]) < 2)
            return bad(e, r, "refusing to use '/' as a cgroup");
    } else if (!strcmp(kw, "clone")) {
        for (int i = 0; i < r->argc; i++) {
            int f = ns_flag(a[i]);
            if (!f)
                return bad(e, r, "unknown namespace");
            if (v->share_flags & f)
                return bad(e, r, "namespace is both cloned and shared");
            v->clone_flags |= f;
        }
    } else if (!strcmp(kw, "share")) {
        int f = ns_flag(a[0]);
        if (f != CLONE_NEWNET && f != CLONE_NEWIPC && f != CLONE_NEWUTS)
            return bad(e, r, "only net, ipc and uts can be shared");
        if ((v->clone_flags | v->share_flags) & f)
            return bad(e, r, "namespace already cloned or shared");
        v->share_flags |= f;
        if (!is_abs(a[1]))
            return bad(e, r, "path must be absolute");
    } else if (!strcmp(kw, "uidmap") || !strcmp(kw, "gidmap")) {
        for (int i = 0; i < 3; i++)
            if (!is_u32(a[i]))
                return bad(e, r, "not a number");
    } else if (!strcmp(kw, "cgroup-write")) {
        if (!is_abs(a[0]))
            return bad(e, r, "path must be absolute");
    } else if (!strcmp(kw, "console")) {
        if (parse_ulong(a[0], 10, 1023, &n))
            return bad(e, r, "bad console index");
        if (has_console(v, n))
            return bad(e, r, "duplicate console index");
        if (v->nconsoles == MAX_CONSOLES)
            return bad(e, r, "too many consoles");
        if (r->argc == 2 || (r->argc == 3 && (!is_id(a[1]) || !is_id(a[2]))))
            return bad(e, r, "owner must be UID GID");
        v->consoles[v->nconsoles++] = n;
    } else if (!strncmp(kw, "on-", 3)) {
        if (strcmp(a[0], "destroy") && strcmp(a[0], "restart") && strcmp(a[0], "preserve"))
            return bad(e, r, "action must be destroy, restart or preserve");
    } else if (!strcmp(kw, "cleanup-link")) {
        if (!net_ifname_ok(a[0]))
            return bad(e, r, "bad interface name");
    } else if (net_is_record(kw)) {
        const char *problem = net_check(r);
        if (problem != NULL)
            return bad(e, r, problem);
    } else if (!strcmp(kw, "mount") || !strcmp(kw, "mount-loop")) {
        struct mflags mf;
        if (a[1][0] == '\0')
            return bad(e, r, "empty target");
        if (!strcmp(kw, "mount-loop") && a[0][0] == '\0')
            return bad(e, r, "empty file");
        if (parse_mount_flags(a[3], &mf))
            return bad(e, r, "bad mount flags");
    } else if (!strcmp(kw, "mkdir") || !strcmp(kw, "touch")) {
        if (a[0][0] == '\0' || !is_mode(a[1]))
            return bad(e, r, "bad path or mode");
    } else if (!strcmp(kw, "mknod")) {
        if ((strcmp(a[1], "c") && strcmp(a[1], "b")) || !is_u32(a[2]) || !is_u32(a[3]) || !is_mode(a[4]))
            return bad(e, r, "expected PATH c|b MAJOR MINOR MODE");
    } else if (!strcmp(kw, "symlink")) {
        if (a[0][0] == '\0' || a[1][0] == '\0')
            return bad(e, r, "empty path");
    } else if (!strcmp(kw, "chown")) {
        if (!is_id(a[1]) || !is_id(a[2]))
            return bad(e, r, "bad uid or gid");
    } else if (!strcmp(kw, "bind-console") || !strcmp(kw, "stdio-console")) {
        if (parse_ulong(a[0], 10, 1023, &n))
            return bad(e, r, "bad console index"); /* declared-ness checked after parsing */
    } else if (!strcmp(kw, "pivot")) {
        if (!is_abs(a[0]) || a[1][0] == '\0')
            return bad(e, r, "expected absolute NEWROOT and OLDROOT");
    } else if (!strcmp(kw, "umount") || !strcmp(kw, "remount")) {
        struct mflags mf;
        if (a[0][0] == '\0')
            return bad(e, r, "empty path");
        if (!strcmp(kw, "remount") && (parse_mount_flags(a[1], &mf) || mf.prop))
            return bad(e, r, "bad flags");
    } else if (!strcmp(kw, "caps-drop")) {
        for (int i = 0; i < r->argc; i++)
            if (parse_ulong(a[i], 10, 63, &n))
                return bad(e, r, "capability numbers are 0..63");
    } else if (!strcmp(kw, "user")) {
        for (int i = 0; i < 2; i++)
            if (!is_u32(a[i]))
                return bad(e, r, "bad uid or gid");
    } else if (!strcmp(kw, "groups")) {
        for (int i = 0; i < r->argc; i++)
            if (!is_u32(a[i]))
                return bad(e, r, "bad gid");
    } else if (!strcmp(kw, "cwd")) {
        if (a[0][0] == '\0')
            return bad(e, r, "empty directory");
    } else if (!strcmp(kw, "env")) {
        if (strchr(a[0], '=') == NULL || a[0][0] == '=')
            return bad(e, r, "expected NAME=VALUE");
    } else if (!strcmp(kw, "exec")) {
        if (a[0][0] == '\0')
            return bad(e, r, "empty path");
    }
    return 0;
}

static int parse_records(struct plan *p, char *text, enum plan_kind kind, struct err *e)
{
    size_t cap = 0;
    struct vstate v;
    char *line, *next;
    int lineno = 1;

    memset(p, 0, sizeof(*p));
    memset(&v, 0, sizeof(v));
    p->text = text;

    next = strchr(text, '\n');
    if (next == NULL || (size_t)(next - text) != strlen("nsvirt-plan 1") || strncmp(text, "nsvirt-plan 1", 13) != 0)
        return plan_error(e, "line 1: expected 'nsvirt-plan 1'");

    for (line = next + 1; *line; line = next) {
        struct record r;
        size_t si;
        char *nl = strchr(line, '\n');
        lineno++;
        if (nl == NULL)
            return plan_error(e, "line %d: missing final newline", lineno);
        *nl = '\0';
        next = nl + 1;
        if (*line == '\0' || line[0] == ' ' || nl[-1] == ' ')
            return plan_error(e, "line %d: empty line or stray space", lineno);

        memset(&r, 0, sizeof(r));
        r.line = lineno;
        /* count fields */
        int nf = 1;
        for (char *c = line; *c; c++) {
            if (*c == ' ') {
                if (c[1] == ' ')
                    return plan_error(e, "line %d: fields are separated by single spaces", lineno);
                nf++;
            }
        }
        char **fields = calloc((size_t)nf + 1, sizeof(char *));
        if (fields == NULL)
            return fail(e, "plan", ENOMEM, "line %d", lineno);
        int i = 0;
        for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
            fields[i++] = tok;
        for (int k = 0; k < i; k++) {
            if (pct_decode(fields[k]) != 0) {
                free(fields);
                return plan_error(e, "line %d: malformed field %d", lineno, k + 1);
            }
        }
        r.kw = fields[0];
        r.argv = fields + 1;
        r.argc = i - 1;
        for (si = 0; si < ARRAY_LEN(specs); si++)
            if (strcmp(specs[si].kw, r.kw) == 0)
                break;
        if (si == ARRAY_LEN(specs)) {
            free(fields);
            return plan_error(e, "line %d: unknown keyword '%.64s'", lineno, r.kw);
        }
        r.kind = specs[si].kind;
        if (p->nrecs == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct record *nr = realloc(p->recs, ncap * sizeof(*nr));
            if (nr == NULL) {
                free(fields);
                return fail(e, "plan", ENOMEM, "line %d", lineno);
            }
            p->recs = nr;
            cap = ncap;
        }
        p->recs[p->nrecs++] = r;
        if (kind == PLAN_NETWORK && !net_is_record(r.kw))
            return bad(e, &r, "not a network record");
        if (validate(&r, si, &v, e) != 0)
            return -1;
    }
    if (kind == PLAN_NETWORK)
        return 0;
    for (size_t si = 0; si < ARRAY_LEN(specs); si++)
        if (!strcmp(specs[si].kw, "exec") && !v.seen[si])
            return plan_error(e, "no exec record");
    for (size_t i = 0; i < p->nrecs; i++) {
        const struct record *r = &p->recs[i];
        unsigned long n;
        if ((!strcmp(r->kw, "bind-console") || !strcmp(r->kw, "stdio-console")) &&
            (parse_ulong(r->argv[0], 10, 1023, &n) || !has_console(&v, n)))
            return bad(e, r, "no console record with this index");
    }
    return 0;
}

int plan_parse(struct plan *p, char *text, struct err *e)
{
    return parse_records(p, text, PLAN_LAUNCH, e);
}

int plan_load(struct plan *p, const char *path, struct err *e)
{
    return plan_load_kind(p, path, PLAN_LAUNCH, e);
}

int plan_load_kind(struct plan *p, const char *path, enum plan_kind kind, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf;
    size_t off = 0;

    memset(p, 0, sizeof(*p));
    if (fd < 0)
        return fail(e, "plan", errno, "cannot open plan '%s'", path);
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return fail(e, "plan", err, "cannot stat plan '%s'", path);
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)PLAN_MAX_BYTES) {
        int err = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        close(fd);
        return fail(e, "plan", err, "plan '%s' is not a regular file of at most %u bytes", path, PLAN_MAX_BYTES);
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return fail(e, "plan", ENOMEM, "reading plan");
    }
    while (off < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return fail(e, "plan", err, "reading plan '%s'", path);
        }
        off += (size_t)n;
    }
    close(fd);
    buf[off] = '\0';
    if (strlen(buf) != off) {
        free(buf);
        return plan_error(e, "plan contains a NUL byte");
    }
    return parse_records(p, buf, kind, e);
}

void plan_free(struct plan *p)
{
    for (size_t i = 0; i < p->nrecs; i++)
        free(p->recs[i].argv - 1);
    free(p->recs);
    free(p->text);
    memset(p, 0, sizeof(*p));
}
