/*
 * The container child: runs inside the new namespaces, applies the child
 * operations in plan order, then the exec records, then execve()s init.
 * Any failure is sent to the supervisor as a struct err over err_fd.
 */
#include "sup.h"
#include "netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

static void __attribute__((noreturn)) child_die(const struct child_ctx *c, const struct err *e)
{
    (void)write_all(c->err_fd, e, sizeof(*e));
    _exit(1);
}

static unsigned long ul(const char *s, int base)
{
    unsigned long v = 0;
    (void)parse_ulong(s, base, ULONG_MAX, &v); /* validated when the plan was parsed */
    return v;
}

static long id_arg(const char *s)
{
    long v = -1;
    (void)parse_long(s, -1, 4294967294L, &v);
    return v;
}

static const struct console *find_console(const struct child_ctx *c, const char *idx)
{
    unsigned long n = ul(idx, 10);
    for (size_t i = 0; i < c->nconsoles; i++)
        if (c->consoles[i].index == n)
            return &c->consoles[i];
    return NULL;
}

/* MS_REMOUNT|MS_BIND keeping the mount's nosuid/nodev/noexec (they may be locked in a user namespace). */
/* Set IFF_UP on a network interface of the current network namespace. */
static int interface_up(const char *name)
{
    struct ifreq ifr;
    int fd, rc = -1, saved;

    if (strlen(name) >= IFNAMSIZ) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    saved = errno;
    (void)close(fd);
    errno = saved;
    return rc;
}

static int remount_bind(const char *path, unsigned long want, struct err *e, const char *step)
{
    struct statvfs sv;
    unsigned long flags = MS_REMOUNT | MS_BIND | (want & ~(MS_BIND | MS_REMOUNT | MS_REC));
    if (statvfs(path, &sv) == 0) {
        if (sv.f_flag & ST_NOSUID)
            flags |= MS_NOSUID;
        if (sv.f_flag & ST_NODEV)
            flags |= MS_NODEV;
        if (sv.f_flag & ST_NOEXEC)
            flags |= MS_NOEXEC;
    }
    if (mount(NULL, path, NULL, flags, NULL) != 0)
        return fail(e, step, errno, "cannot remount '%s'", path);
    return 0;
}

static int do_mount(const char *src, const char *tgt, const char *fstypes, const char *flagstr, const char *data,
                    struct err *e, const char *step)
{
    struct mflags mf;
    const unsigned long per_mount = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |
                                    MS_RELATIME | MS_STRICTATIME;
    if (parse_mount_flags(flagstr, &mf) != 0)
        return fail(e, step, EINVAL, "bad mount flags '%s'", flagstr);

    if (mf.main != 0 || mf.prop == 0 || src[0] || fstypes[0]) {
        unsigned long flags = mf.main | ((mf.rec && (mf.main & MS_BIND)) ? MS_REC : 0);
        const char *s = src[0] ? src : NULL, *d = data[0] ? data : NULL;
        int rc = -1, err = 0;
        if (fstypes[0] == '\0') {
            rc = mount(s, tgt, NULL, flags, d);
            err = errno;
        } else {
            char types[256];
            snprintf(types, sizeof(types), "%s", fstypes);
            for (char *save = NULL, *t = strtok_r(types, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                rc = mount(s, tgt, t, flags, d);
                err = errno;
                if (rc == 0 || (err != EINVAL && err != ENODEV))
                    break;
            }
        }
        if (rc != 0)
            return fail(e, step, err, "failed to mount '%s' on '%s' type '%s'", src, tgt, fstypes);
        /* A bind mount ignores per-mount flags: apply them with a remount, as mount(8) does. */
        if ((mf.main & MS_BIND) && !(mf.main & MS_REMOUNT) && (mf.main & per_mount) &&
            remount_bind(tgt, mf.main & per_mount, e, step) != 0)
            return -1;
    }
    if (mf.prop != 0 && mount(NULL, tgt, NULL, mf.prop | (mf.rec ? MS_REC : 0), NULL) != 0)
        return fail(e, step, errno, "failed to change propagation of '%s'", tgt);
    return 0;
}

static int run_op(const struct child_ctx *c, size_t ri, struct err *e)
{
    const struct record *r = &c->plan->recs[ri];
    char *const *a = r->argv;
    const char *kw = r->kw;

    if (!strcmp(kw, "sethostname")) {
        if (sethostname(a[0], strlen(a[0])) != 0)
            return fail(e, kw, errno, "failed to set hostname to '%s'", a[0]);
    } else if (!strcmp(kw, "mount")) {
        return do_mount(a[0], a[1], a[2], a[3], a[4], e, kw);
    } else if (!strcmp(kw, "mount-loop")) {
        char dev[64], src[64];
        snprintf(dev, sizeof(dev), "/dev/loop%d", c->loop_num[ri]);
        fd_device_path(c->loop_fd[ri], dev, src, sizeof(src));
        return do_mount(src, a[1], a[2], a[3], a[4], e, kw);
    } else if (!strcmp(kw, "mkdir")) {
        if (mkdir_p(a[0], (mode_t)ul(a[1], 8)) != 0)
            return fail(e, kw, errno, "failed to create directory '%s'", a[0]);
    } else if (!strcmp(kw, "touch")) {
        struct stat st;
        if (stat(a[0], &st) != 0) {
            int fd = open(a[0], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, (mode_t)ul(a[1], 8));
            if (fd < 0)
                return fail(e, kw, errno, "failed to create '%s'", a[0]);
            close(fd);
        }
    } else if (!strcmp(kw, "mknod")) {
        mode_t type = a[1][0] == 'b' ? S_IFBLK : S_IFCHR;
        dev_t dev = makedev((unsigned)ul(a[2], 10), (unsigned)ul(a[3], 10));
        if (mknod(a[0], type | (mode_t)ul(a[4], 8), dev) != 0) {
            struct stat st;
            int err = errno;
            if (err != EEXIST || stat(a[0], &st) != 0 || (st.st_mode & S_IFMT) != type || st.st_rdev != dev)
                return fail(e, kw, err, "failed to make device '%s'", a[0]);
        }
    } else if (!strcmp(kw, "symlink")) {
        if (symlink(a[0], a[1]) != 0) {
            char buf[PATH_MAX];
            int err = errno;
            ssize_t n = err == EEXIST ? readlink(a[1], buf, sizeof(buf) - 1) : -1;
            if (n < 0 || (size_t)n != strlen(a[0]) || memcmp(buf, a[0], (size_t)n) != 0)
                return fail(e, kw, err, "failed to create symlink '%s' to '%s'", a[1], a[0]);
        }
    } else if (!strcmp(kw, "chown")) {
        if (chown(a[0], (uid_t)id_arg(a[1]), (gid_t)id_arg(a[2])) != 0)
            return fail(e, kw, errno, "failed to change ownership of '%s'", a[0]);
    } else if (!strcmp(kw, "bind-console")) {
        const struct console *con = find_console(c, a[0]);
        char src[PATH_MAX];
        if (con == NULL)
            return fail(e, kw, ENOENT, "no console %s", a[0]);
        fd_device_path(con->slave, con->path, src, sizeof(src));
        if (mount(src, a[1], NULL, MS_BIND, NULL) != 0)
            return fail(e, kw, errno, "failed to bind console %s on '%s'", a[0], a[1]);
    } else if (!strcmp(kw, "pivot") && !strcmp(a[1], ".")) {
        /* No directory for the old root: stack it on the new one and detach it. */
        if (chdir(a[0]) != 0)
            return fail(e, kw, errno, "failed to change to '%s'", a[0]);
        if (syscall(SYS_pivot_root, ".", ".") != 0)
            return fail(e, kw, errno, "failed to pivot root '%s'", a[0]);
        if (umount2(".", MNT_DETACH) != 0)
            return fail(e, kw, errno, "failed to detach the old root");
        if (chdir("/") != 0)
            return fail(e, kw, errno, "failed to change to '/' after pivot");
    } else if (!strcmp(kw, "pivot")) {
        char old[PATH_MAX];
        if (snprintf(old, sizeof(old), "%s/%s", a[0], a[1]) >= (int)sizeof(old))
            return fail(e, kw, ENAMETOOLONG, "failed to pivot root");
        if (syscall(SYS_pivot_root, a[0], old) != 0)
            return fail(e, kw, errno, "failed to pivot root '%s' (old root '%s')", a[0], old);
        if (chdir("/") != 0)
            return fail(e, kw, errno, "failed to change to '/' after pivot");
    } else if (!strcmp(kw, "ifup")) {
        if (interface_up(a[0]) != 0)
            return fail(e, kw, errno, "failed to bring up interface '%s'", a[0]);
    } else if (!strcmp(kw, "umount")) {
        if (umount2(a[0], MNT_DETACH) != 0)
            return fail(e, kw, errno, "failed to unmount '%s'", a[0]);
    } else if (!strcmp(kw, "remount")) {
        struct mflags mf;
        (void)parse_mount_flags(a[1], &mf);
        return remount_bind(a[0], mf.main, e, kw);
    } else if (net_is_record(kw)) { /* link-rename, link-set, addr-add, route-add, link-remove */
        return net_apply(r, e);
    } else {
        return fail(e, kw, EINVAL, "not a child operation");
    }
    return 0;
}

static int drop_caps(uint64_t drop, struct err *e)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];

    if (syscall(SYS_capget, &hdr, data) != 0)
        return fail(e, "caps-drop", errno, "failed to read capabilities");
    for (int i = 0; i < 2; i++) {
        uint32_t mask = ~(uint32_t)(drop >> (32 * i));
        data[i].effective &= mask;
        data[i].permitted &= mask;
        data[i].inheritable &= mask;
    }
    if (syscall(SYS_capset, &hdr, data) != 0)
        return fail(e, "caps-drop", errno, "failed to apply capabilities");
    for (int cap = 0; cap < 64; cap++)
        if (drop & (UINT64_C(1) << cap))
            (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0); /* EINVAL: unknown cap */
    return 0;
}

/* Allocations here are not freed on failure: the child execs or _exits right after. */
static int do_exec(const struct child_ctx *c, struct err *e)
{
    const struct plan *p = c->plan;
    const struct record *exec = NULL, *user = NULL, *groups = NULL, *cwd = NULL, *stdio = NULL;
    uint64_t drop = 0;
    size_t nenv = 0, ei = 0;
    char **env;
    struct stat st;

    for (size_t i = 0; i < p->nrecs; i++) {
        const struct record *r = &p->recs[i];
        if (r->kind != REC_EXEC)
            continue;
        if (!strcmp(r->kw, "exec"))
            exec = r;
        else if (!strcmp(r->kw, "user"))
            user = r;
        else if (!strcmp(r->kw, "groups"))
            groups = r;
        else if (!strcmp(r->kw, "cwd"))
            cwd = r;
        else if (!strcmp(r->kw, "stdio-console"))
            stdio = r;
        else if (!strcmp(r->kw, "env"))
            nenv++;
        else if (!strcmp(r->kw, "caps-drop"))
            for (int k = 0; k < r->argc; k++)
                drop |= UINT64_C(1) << ul(r->argv[k], 10);
    }
    if (exec == NULL)
        return fail(e, "exec", EINVAL, "no exec record");
    env = calloc(nenv + 1, sizeof(char *));
    if (env == NULL)
        return fail(e, "env", ENOMEM, "cannot build the environment");
    for (size_t i = 0; i < p->nrecs; i++)
        if (!strcmp(p->recs[i].kw, "env"))
            env[ei++] = p->recs[i].argv[0];

    const char *path = exec->argv[0];
    if (stat(path, &st) != 0) {
        int err = errno;
        free(env);
        return fail(e, "exec", err, "cannot find init path '%s' relative to container root", path);
    }

    if (setsid() < 0)
        return fail(e, "stdio-console", errno, "failed to create a session");
    if (stdio != NULL) {
        const struct console *con = find_console(c, stdio->argv[0]);
        if (con == NULL)
            return fail(e, "stdio-console", ENOENT, "no console %s", stdio->argv[0]);
        for (int fd = 0; fd < 3; fd++)
            if (dup2(con->slave, fd) < 0)
                return fail(e, "stdio-console", errno, "failed to set up stdio");
        if (ioctl(0, TIOCSCTTY, 0) != 0)
            return fail(e, "stdio-console", errno, "failed to make console %s the controlling terminal",
                        stdio->argv[0]);
    }
    /* Bounding set first: it needs CAP_SETPCAP, which the drop below may remove. */
    for (int cap = 0; cap < 64; cap++)
        if ((drop & (UINT64_C(1) << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            return fail(e, "caps-drop", errno, "failed to remove capability %d from the bounding set", cap);

    size_t ngroups = groups ? (size_t)groups->argc : 0;
    gid_t *gl = calloc(ngroups + 1, sizeof(gid_t));
    if (gl == NULL)
        return fail(e, "groups", ENOMEM, "cannot set groups");
    for (size_t k = 0; k < ngroups; k++)
        gl[k] = (gid_t)ul(groups->argv[k], 10);
    if (setgroups(ngroups, gl) != 0)
        return fail(e, "groups", errno, "failed to set supplementary groups");
    free(gl);
    if (user != NULL) {
        gid_t g = (gid_t)ul(user->argv[1], 10);
        uid_t u = (uid_t)ul(user->argv[0], 10);
        if (setresgid(g, g, g) != 0)
            return fail(e, "user", errno, "failed to set gid %u", (unsigned)g);
        if (setresuid(u, u, u) != 0)
            return fail(e, "user", errno, "failed to set uid %u", (unsigned)u);
    }
    if (drop != 0 && drop_caps(drop, e) != 0)
        return -1;
    if (cwd != NULL && chdir(cwd->argv[0]) != 0)
        return fail(e, "cwd", errno, "failed to change to directory '%s'", cwd->argv[0]);
    /* Credential changes clear the parent-death signal: arm it again. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
        return fail(e, "exec", errno, "prctl(PR_SET_PDEATHSIG)");

    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++)
        (void)signal(sig, SIG_DFL); /* fails harmlessly for SIGKILL, SIGSTOP, glibc-internal ones */
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
        return fail(e, "exec", errno, "sigprocmask");
    umask(c->orig_umask);

    execve(path, exec->argv + 1, env);
    return fail(e, "exec", errno, "cannot execute binary %s", path);
}

void child_main(const struct child_ctx *c)
{
    struct err e;
    char go;
    ssize_t n;

    memset(&e, 0, sizeof(e));
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
        fail(&e, "clone", errno, "prctl(PR_SET_PDEATHSIG)");
        child_die(c, &e);
    }
    do
        n = read(c->sync_fd, &go, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        _exit(1); /* the supervisor gave up on this start: nothing to report */
    close(c->sync_fd);

    if (c->userns) {
        /* Become root of the new user namespace (the maps are written now). */
        if (setgroups(0, NULL) != 0) {
            fail(&e, "userns", errno, "failed to clear supplementary groups in the user namespace");
            child_die(c, &e);
        }
        if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) {
            fail(&e, "userns", errno, "failed to become uid/gid 0 of the user namespace (is 0 mapped?)");
            child_die(c, &e);
        }
    }
    /* Created here, after the supervisor moved us into the cgroups, so that they are its root. */
    if (c->cgroupns && unshare(CLONE_NEWCGROUP) != 0) {
        fail(&e, "clone", errno, "failed to create the cgroup namespace");
        child_die(c, &e);
    }
    umask(0);
    for (size_t i = 0; i < c->plan->nrecs; i++)
        if (c->plan->recs[i].kind == REC_CHILD && run_op(c, i, &e) != 0)
            child_die(c, &e);
    do_exec(c, &e);
    child_die(c, &e);
}
