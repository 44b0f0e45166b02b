/*
 * nsvirt_lxc --plan FILE [--report-fd N]
 *
 * Per-container supervisor: applies the host records of the plan, clones the
 * container init, reports the result on the report fd, then stays resident as
 * init's parent (console relay + log, control socket, lifecycle actions) and
 * removes every host resource of the plan when it exits.
 */
#include "sup.h"
#include "netchange.h"
#include "netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 32
#define MAX_SHARES 3

enum state { ST_RUNNING, ST_SHUTOFF, ST_CRASHED, ST_PAUSED };
enum action { ACT_DESTROY, ACT_RESTART, ACT_PRESERVE };

static const char *const state_names[] = {"running", "shutoff", "crashed", "paused"};

struct client {
    int fd; /* -1 = free slot */
    char in[1024];
    size_t inlen;
    int console; /* index into S.consoles while relaying, -1 otherwise */
    bool watch;
};

struct share {
    int flag;
    int target; /* namespace to join */
    int own;    /* the supervisor's own namespace of that kind, to return to */
};

static struct {
    struct plan plan;
    const char *name, *log_path, *status_path, *control_path;
    int log_fd, listen_fd, sig_fd, report_fd;
    bool control_bound, log_failed, cleaned, term_requested;
    int clone_flags;
    bool cgroupns;
    struct share shares[MAX_SHARES];
    size_t nshares;
    char uidmap[4096], gidmap[4096];
    size_t uidmap_len, gidmap_len;
    const char **cgroups;
    size_t ncgroups;
    struct console *consoles;
    size_t nconsoles;
    int *loop_fd, *loop_num; /* per plan record */
    struct created_link {
        const char *name;
        unsigned index; /* 0: unknown */
    } *links;           /* made by the current start (veth, macvlan) */
    size_t nlinks;
    struct net_links hot_links; /* host links made by net-apply, deleted at exit */
    struct net_links released;  /* cleanup-link names net-apply deleted (the name may belong to another link now) */
    int net_ns_fd; /* the container's network namespace while links moved there may live in it, -1 */
    enum action on_poweroff, on_reboot, on_crash;
    pid_t init_pid;
    enum state state;
    const char *reason;
    int exit_status;
    bool have_exit;
    time_t started;
    mode_t orig_umask;
    struct client clients[MAX_CLIENTS];
} S;

void warnx_(const char *fmt, ...)
{
    va_list ap;
    char buf[1200];
    int n = snprintf(buf, sizeof(buf), "nsvirt_lxc: %s: ", S.name ? S.name : "?");
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strlen(buf);
    if (len + 1 < sizeof(buf)) {
        buf[len++] = '\n';
    }
    (void)write_all(STDERR_FILENO, buf, len);
}

static void warn_err(const struct err *e)
{
    warnx_("%s: %s", e->step, e->msg);
}

/* ------------------------------------------------------------------ status */

static void notify_watchers(void);

static void write_status(void)
{
    char buf[8192], tmp[PATH_MAX];
    int n, fd;

    notify_watchers();
    if (S.status_path == NULL)
        return;
    n = snprintf(buf, sizeof(buf), "state=%s\nreason=%s\nsupervisor_pid=%ld\ninit_pid=%ld\n", state_names[S.state],
                 S.reason, (long)getpid(), (long)S.init_pid);
    if (S.have_exit)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "exit_status=%d\n", S.exit_status);
    if (S.started)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "started=%lld\n", (long long)S.started);
    for (size_t i = 0; i < S.nconsoles && n < (int)sizeof(buf); i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "console%u=%s\n", S.consoles[i].index, S.consoles[i].path);
    if (n >= (int)sizeof(buf)) {
        warnx_("status: too many consoles to record");
        return;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", S.status_path) >= (int)sizeof(tmp)) {
        warnx_("status: path too long");
        return;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0) {
        warnx_("status: cannot create '%s': %s", tmp, strerror(errno));
        return;
    }
    if (write_all(fd, buf, (size_t)n) != 0 || close(fd) != 0) {
        warnx_("status: cannot write '%s': %s", tmp, strerror(errno));
        (void)unlink(tmp);
        return;
    }
    if (rename(tmp, S.status_path) != 0) {
        warnx_("status: cannot rename '%s': %s", tmp, strerror(errno));
        (void)unlink(tmp);
    }
}

static void set_state(enum state st, const char *reason)
{
    S.state = st;
    S.reason = reason;
    write_status();
}

/* ------------------------------------------------------------------ report */

static void report_line(const char *line)
{
    if (S.report_fd < 0)
        return;
    if (write_all(S.report_fd, line, strlen(line)) != 0)
        warnx_("report: %s", strerror(errno));
    close(S.report_fd);
    S.report_fd = -1;
}

void format_error_line(const struct err *e, char *line, size_t size)
{
    char step[100], msg[3200];
    pct_encode(e->step, step, sizeof(step));
    pct_encode(e->msg, msg, sizeof(msg));
    snprintf(line, size, "error %s %d %s\n", step, e->errnum, msg);
}

static void report_error(const struct err *e)
{
    char line[3400];
    format_error_line(e, line, sizeof(line));
    warn_err(e);
    report_line(line);
}

/* ------------------------------------------------------------------ cleanup */

static void close_client(int i)
{
    struct client *c = &S.clients[i];
    if (c->fd < 0)
        return;
    if (c->console >= 0) {
        struct console *con = &S.consoles[c->console];
        con->client = -1;
        con->tc_len = con->tc_off = con->tm_len = con->tm_off = 0;
    }
    close(c->fd);
    c->fd = -1;
    c->console = -1;
    c->inlen = 0;
    c->watch = false;
}

static void release_loops(bool detach)
{
    for (size_t i = 0; S.loop_fd && i < S.plan.nrecs; i++) {
        if (S.loop_fd[i] < 0)
            continue;
        if (detach)
            loop_detach(S.loop_fd[i]);
        else
            close(S.loop_fd[i]);
        S.loop_fd[i] = -1;
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* SIGKILL init and everything in the cgroups, reap init. */
static void kill_container(void)
{
    if (S.init_pid > 0) {
        int st;
        pid_t r;
        (void)kill(S.init_pid, SIGKILL);
        for (size_t i = 0; i < S.ncgroups; i++)
            (void)cgroup_kill(S.cgroups[i]); /* also thaws: frozen tasks cannot die */
        do
            r = waitpid(S.init_pid, &st, 0);
        while (r < 0 && errno == EINTR);
        if (r == S.init_pid) {
            S.exit_status = st;
            S.have_exit = true;
        }
        S.init_pid = 0;
    }
}

/* Kill what is left in the cgroups and wait (up to ~10 s) until they are empty. */
static void empty_cgroups(void)
{
    for (int iter = 0; iter < 1000; iter++) {
        int n = 0;
        for (size_t i = 0; i < S.ncgroups; i++)
            n += cgroup_kill(S.cgroups[i]);
        if (n == 0)
            return;
        sleep_ms(10);
    }
    warnx_("cgroup: some processes refused to die");
}

static void net_release_ns(void);

static void cleanup_all(void)
{
    if (S.cleaned)
        return;
    S.cleaned = true;
    kill_container();
    empty_cgroups();
    for (size_t i = S.ncgroups; i-- > 0;) {
        int rc = -1;
        for (int attempt = 0; attempt < 50 && (rc = cgroup_remove(S.cgroups[i])) != 0; attempt++)
            sleep_ms(20);
        if (rc != 0)
            warnx_("cgroup: cannot remove '%s': %s", S.cgroups[i], strerror(errno));
    }
    release_loops(true);
    for (size_t i = 0; i < S.nconsoles; i++) {
        if (S.consoles[i].client >= 0)
            close_client(S.consoles[i].client);
        if (S.consoles[i].master >= 0)
            close(S.consoles[i].master);
        if (S.consoles[i].slave >= 0)
            close(S.consoles[i].slave);
        S.consoles[i].master = S.consoles[i].slave = -1;
    }
    net_release_ns();
    net_links_delete_all(&S.hot_links);
    for (size_t i = S.plan.nrecs; i-- > 0;) {
        const struct record *r = &S.plan.recs[i];
        if (!strcmp(r->kw, "cleanup-link")) {
            if (!net_links_contains(&S.released, r->argv[0]) && link_delete(r->argv[0]) != 0)
                warnx_("cleanup-link: cannot delete '%s': %s", r->argv[0], strerror(errno));
        } else if (!strcmp(r->kw, "cleanup-rmdir")) {
            if (rmdir(r->argv[0]) != 0 && errno != ENOENT)
                warnx_("cleanup-rmdir: cannot remove '%s': %s", r->argv[0], strerror(errno));
        } else if (!strcmp(r->kw, "cleanup-unlink")) {
            if (unlink(r->argv[0]) != 0 && errno != ENOENT)
                warnx_("cleanup-unlink: cannot remove '%s': %s", r->argv[0], strerror(errno));
        }
    }
    if (S.listen_fd >= 0)
        close(S.listen_fd);
    S.listen_fd = -1;
    if (S.control_bound && unlink(S.control_path) != 0 && errno != ENOENT)
        warnx_("control: cannot remove '%s': %s", S.control_path, strerror(errno));
    S.control_bound = false;
    for (size_t i = 0; i < S.nshares; i++) {
        close(S.shares[i].target);
        close(S.shares[i].own);
    }
    S.nshares = 0;
    if (S.log_fd >= 0)
        close(S.log_fd);
    S.log_fd = -1;
}

static void __attribute__((noreturn)) finish(int code, int reply_to)
{
    cleanup_all();
    write_status();
    if (reply_to >= 0 && S.clients[reply_to].fd >= 0)
        (void)send(S.clients[reply_to].fd, "ok\n", 3, MSG_NOSIGNAL | MSG_DONTWAIT);
    for (int i = 0; i < MAX_CLIENTS; i++)
        close_client(i);
    if (S.report_fd >= 0)
        close(S.report_fd);
    plan_free(&S.plan);
    exit(code);
}

static void __attribute__((noreturn)) start_failed(const struct err *e)
{
    cleanup_all();
    S.init_pid = 0;
    S.state = ST_SHUTOFF;
    S.reason = "failed";
    write_status();
    report_error(e); /* after the cleanup: when the driver reads this, nothing is left */
    finish(1, -1);
}

/* ------------------------------------------------------------------ host setup */

static int setup_control(const char *path, struct err *e)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;
    mode_t old;

    if (strlen(path) >= sizeof(sa.sun_path))
        return fail(e, "control", ENAMETOOLONG, "control socket path '%s'", path);
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fail(e, "control", errno, "cannot create socket");
    old = umask(077);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (rc != 0 && errno == EADDRINUSE) {
        /* Stale socket of a dead supervisor? Only then take it over. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno == ECONNREFUSED &&
            unlink(path) == 0)
            rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        else
            errno = EADDRINUSE;
        if (probe >= 0) {
            int err = errno;
            close(probe);
            errno = err;
        }
    }
    umask(old);
    if (rc != 0) {
        int err = errno;
        close(fd);
        return fail(e, "control", err, "cannot listen on '%s'", path);
    }
    S.control_bound = true;
    if (listen(fd, 16) != 0) {
        int err = errno;
        close(fd);
        return fail(e, "control", err, "cannot listen on '%s'", path);
    }
    S.listen_fd = fd;
    return 0;
}

static enum action parse_action(const char *s)
{
    return !strcmp(s, "restart") ? ACT_RESTART : !strcmp(s, "preserve") ? ACT_PRESERVE : ACT_DESTROY;
}

static int append_map(char *buf, size_t *len, char **a, struct err *e, const char *step)
{
    int n = snprintf(buf + *len, 4096 - *len, "%s %s %s\n", a[0], a[1], a[2]);
    if (n < 0 || (size_t)n >= 4096 - *len)
        return fail(e, step, E2BIG, "too many map lines");
    *len += (size_t)n;
    return 0;
}

static int setup_host(struct err *e)
{
    struct plan *p = &S.plan;

    size_t ncons = 0;
    for (size_t i = 0; i < p->nrecs; i++)
        ncons += !strcmp(p->recs[i].kw, "console");
    S.cgroups = calloc(p->nrecs, sizeof(char *));
    S.consoles = calloc(ncons ? ncons : 1, sizeof(struct console));
    S.loop_fd = malloc(p->nrecs * sizeof(int));
    S.loop_num = malloc(p->nrecs * sizeof(int));
    S.links = calloc(p->nrecs, sizeof(*S.links));
    if (!S.cgroups || !S.consoles || !S.loop_fd || !S.loop_num || !S.links)
        return fail(e, "plan", ENOMEM, "out of memory");
    for (size_t i = 0; i < p->nrecs; i++)
        S.loop_fd[i] = S.loop_num[i] = -1;

    for (size_t i = 0; i < p->nrecs; i++) {
        const struct record *r = &p->recs[i];
        char **a = r->argv;
        const char *kw = r->kw;
        if (r->kind != REC_HOST)
            continue;
        if (!strcmp(kw, "name")) {
            S.name = a[0];
        } else if (!strcmp(kw, "log")) {
            S.log_path = a[0];
            S.log_fd = open(a[0], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
            if (S.log_fd < 0)
                return fail(e, kw, errno, "cannot open log file '%s'", a[0]);
        } else if (!strcmp(kw, "status")) {
            S.status_path = a[0];
        } else if (!strcmp(kw, "control")) {
            S.control_path = a[0];
            if (setup_control(a[0], e) != 0)
                return -1;
        } else if (!strcmp(kw, "clone")) {
            for (int k = 0; k < r->argc; k++) {
                int f = ns_flag(a[k]);
                if (f == CLONE_NEWCGROUP)
                    S.cgroupns = true;
                else
                    S.clone_flags |= f;
            }
        } else if (!strcmp(kw, "share")) {
            struct share *sh = &S.shares[S.nshares];
            char own[64];
            sh->flag = ns_flag(a[0]);
            snprintf(own, sizeof(own), "/proc/self/ns/%s", a[0]);
            sh->target = open(a[1], O_RDONLY | O_CLOEXEC);
            if (sh->target < 0)
                return fail(e, kw, errno, "cannot open namespace '%s'", a[1]);
            sh->own = open(own, O_RDONLY | O_CLOEXEC);
            if (sh->own < 0) {
                int err = errno;
                close(sh->target);
                return fail(e, kw, err, "cannot open '%s'", own);
            }
            S.nshares++;
        } else if (!strcmp(kw, "uidmap")) {
            if (append_map(S.uidmap, &S.uidmap_len, a, e, kw) != 0)
                return -1;
        } else if (!strcmp(kw, "gidmap")) {
            if (append_map(S.gidmap, &S.gidmap_len, a, e, kw) != 0)
                return -1;
        } else if (!strcmp(kw, "cgroup")) {
            struct stat st;
            bool existed = stat(a[0], &st) == 0;
            if (mkdir_p(a[0], 0755) != 0)
                return fail(e, kw, errno, "cannot create cgroup '%s'", a[0]);
            /* Never adopt (and later kill) a cgroup that other processes live in. */
            if (existed) {
                char procs[PATH_MAX];
                FILE *f;
                long pid;
                snprintf(procs, sizeof(procs), "%s/cgroup.procs", a[0]);
                f = fopen(procs, "re");
                if (f == NULL)
                    return fail(e, kw, errno, "cannot read '%s'", procs);
                bool busy = fscanf(f, "%ld", &pid) == 1;
                fclose(f);
                if (busy)
                    return fail(e, kw, EBUSY, "cgroup '%s' already has processes", a[0]);
            }
            S.cgroups[S.ncgroups++] = a[0];
        } else if (!strcmp(kw, "console")) {
            struct console *c = &S.consoles[S.nconsoles];
            unsigned long idx;
            (void)parse_ulong(a[0], 10, 1023, &idx);
            c->index = (unsigned)idx;
            c->client = -1;
            if (open_pty(&c->master, &c->slave, c->path, sizeof(c->path)) != 0)
                return fail(e, kw, errno, "cannot allocate a pty for console %s", a[0]);
            S.nconsoles++;
            if (r->argc == 3) {
                long uid, gid;
                (void)parse_long(a[1], -1, 4294967294L, &uid);
                (void)parse_long(a[2], -1, 4294967294L, &gid);
                if (fchown(c->slave, (uid_t)uid, (gid_t)gid) != 0)
                    return fail(e, kw, errno, "cannot change the owner of '%s'", c->path);
            }
        } else if (!strcmp(kw, "on-poweroff")) {
            S.on_poweroff = parse_action(a[0]);
        } else if (!strcmp(kw, "on-reboot")) {
            S.on_reboot = parse_action(a[0]);
        } else if (!strcmp(kw, "on-crash")) {
            S.on_crash = parse_action(a[0]);
        }
    }
    for (size_t i = 0; i < p->nrecs; i++) {
        const struct record *r = &p->recs[i];
        if (!strcmp(r->kw, "cgroup-write") && write_file(r->argv[0], r->argv[1], strlen(r->argv[1]), e, r->kw) != 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ network */

/* Host network records but link-netns, in plan order; the links made are remembered for net_undo(). */
static int net_setup(struct err *e)
{
    for (size_t i = 0; i < S.plan.nrecs; i++) {
        const struct record *r = &S.plan.recs[i];
        if (r->kind != REC_HOST || !net_is_record(r->kw) || !strcmp(r->kw, "link-netns"))
            continue;
        if (net_apply(r, e) != 0)
            return -1;
        if (!strcmp(r->kw, "veth") || !strcmp(r->kw, "macvlan"))
            S.links[S.nlinks++] = (struct created_link){r->argv[0], if_nametoindex(r->argv[0])};
    }
    return 0;
}

/* Hold the network namespace of the container (process PID) so that its links can be removed when it is done with (net_release_ns). */
static int hold_container_netns(pid_t pid, const char *step, struct err *e)
{
    char path[64];
    if (S.net_ns_fd >= 0 || !(S.clone_flags & CLONE_NEWNET))
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/ns/net", (long)pid);
    S.net_ns_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (S.net_ns_fd < 0)
        return fail(e, step, errno, "cannot open the container's network namespace '%s'", path);
    return 0;
}

/* link-netns records: move links into the namespace of the container (process PID). */
static int net_move_links(pid_t pid, struct err *e)
{
    for (size_t i = 0; i < S.plan.nrecs; i++) {
        const struct record *r = &S.plan.recs[i];
        if (strcmp(r->kw, "link-netns") != 0)
            continue;
        if (hold_container_netns(pid, r->kw, e) != 0 || net_move(r, pid, e) != 0)
            return -1;
    }
    return 0;
}

/*
 * Empty the network namespace of a container that is gone: its links would
 * die with it, but only once the kernel gets round to it. Physical links
 * come back to the supervisor's namespace.
 */
static void net_release_ns(void)
{
    int home, fd;
    if (S.net_ns_fd < 0)
        return;
    home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    fd = home < 0 ? -1 : nl_open_in(S.net_ns_fd);
    if (fd < 0) {
        warnx_("network: cannot enter the container's network namespace: %s", strerror(errno));
    } else {
        int left = nl_flush_links(fd, home);
        if (left < 0)
            warnx_("network: cannot list the links of the container's namespace: %s", strerror(errno));
        else if (left > 0)
            warnx_("network: %d link(s) of the container's namespace left: %s", left, strerror(errno));
        close(fd);
    }
    if (home >= 0)
        close(home);
    close(S.net_ns_fd);
    S.net_ns_fd = -1;
}

/* Delete the links the last start (and net-apply since) made that are still here (a failed start, or a restart). */
static void net_undo(void)
{
    net_release_ns();
    net_links_delete_all(&S.hot_links);
    net_links_clear(&S.released); /* a restart makes the plan's links again */
    for (size_t i = S.nlinks; i-- > 0;) {
        const struct created_link *l = &S.links[i];
        unsigned now = if_nametoindex(l->name);
        if (now == 0 || (l->index != 0 && now != l->index))
            continue; /* gone (e.g. with its veth peer), or moved away and the name taken by another link */
        if (link_delete(l->name) != 0)
            warnx_("network: cannot delete '%s': %s", l->name, strerror(errno));
    }
    S.nlinks = 0;
}

/* ------------------------------------------------------------------ starting init */

/* Wait for the child's verdict: EOF on the CLOEXEC pipe = exec happened. */
static int wait_child_result(int errfd, struct err *e)
{
    struct err ce;
    size_t got = 0;

    for (;;) {
        struct pollfd pfd[2] = {{.fd = errfd, .events = POLLIN}, {.fd = S.sig_fd, .events = POLLIN}};
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return fail(e, "start", errno, "poll");
        }
        if (pfd[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(S.sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
                (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)) {
                S.term_requested = true;
                return fail(e, "start", EINTR, "start interrupted by signal %u", si.ssi_signo);
            }
            /* SIGCHLD is looked at once the start is over. */
        }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(errfd, (char *)&ce + got, sizeof(ce) - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return fail(e, "start", errno, "reading the container child's status");
            if (n == 0)
                break;
            got += (size_t)n;
            if (got == sizeof(ce))
                break;
        }
    }
    if (got == 0)
        return 0;
    if (got != sizeof(ce))
        return fail(e, "start", EIO, "truncated failure report from the container child");
    ce.step[sizeof(ce.step) - 1] = '\0';
    ce.msg[sizeof(ce.msg) - 1] = '\0';
    *e = ce;
    return -1;
}

static int enter_shares(struct err *e)
{
    for (size_t i = 0; i < S.nshares; i++)
        if (setns(S.shares[i].target, S.shares[i].flag) != 0)
            return fail(e, "share", errno, "cannot join the shared namespace");
    return 0;
}

static int leave_shares(struct err *e)
{
    int rc = 0;
    for (size_t i = 0; i < S.nshares; i++)
        if (setns(S.shares[i].own, S.shares[i].flag) != 0 && rc == 0)
            rc = fail(e, "share", errno, "cannot return to the supervisor's namespace");
    return rc;
}

static int start_init(struct err *e)
{
    int syncp[2] = {-1, -1}, errp[2] = {-1, -1};
    pid_t pid = -1;
    int rc = -1;

    net_undo(); /* restart: the links of the previous start, to be made again */
    for (size_t i = 0; i < S.plan.nrecs; i++) {
        const struct record *r = &S.plan.recs[i];
        struct mflags mf;
        if (strcmp(r->kw, "mount-loop") != 0)
            continue;
        (void)parse_mount_flags(r->argv[3], &mf);
        S.loop_fd[i] = loop_attach(r->argv[0], (mf.main & MS_RDONLY) != 0, &S.loop_num[i], e, r->kw);
        if (S.loop_fd[i] < 0)
            goto out;
    }
    if (net_setup(e) != 0)
        goto out;
    if (pipe2(syncp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
        fail(e, "clone", errno, "cannot create pipes");
        goto out;
    }
    if (enter_shares(e) != 0) {
        struct err ignored;
        (void)leave_shares(&ignored);
        goto out;
    }
    /* fork-like clone(2): no CLONE_VM, so the child gets a copy of this stack. */
    pid = (pid_t)syscall(SYS_clone, (unsigned long)S.clone_flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        struct child_ctx ctx = {
            .plan = &S.plan,
            .sync_fd = syncp[0],
            .err_fd = errp[1],
            .userns = (S.clone_flags & CLONE_NEWUSER) != 0,
            .cgroupns = S.cgroupns,
            .consoles = S.consoles,
            .nconsoles = S.nconsoles,
            .loop_fd = S.loop_fd,
            .loop_num = S.loop_num,
            .orig_umask = S.orig_umask,
        };
        close(syncp[1]);
        close(errp[0]);
        child_main(&ctx);
    }
    int clone_errno = errno;
    if (leave_shares(e) != 0) {
        /* Cannot happen short of a kernel bug; this process is in the wrong namespace now. */
        if (pid > 0)
            (void)kill(pid, SIGKILL);
        goto reap;
    }
    if (pid < 0) {
        fail(e, "clone", clone_errno, "failed to clone the container init");
        goto out;
    }
    close(syncp[0]);
    close(errp[1]);
    syncp[0] = errp[1] = -1;
    S.init_pid = pid;

    char path[PATH_MAX], pidbuf[32];
    if (S.uidmap_len) {
        snprintf(path, sizeof(path), "/proc/%ld/uid_map", (long)pid);
        if (write_file(path, S.uidmap, S.uidmap_len, e, "uidmap") != 0)
            goto kill;
    }
    if (S.gidmap_len) {
        snprintf(path, sizeof(path), "/proc/%ld/gid_map", (long)pid);
        if (write_file(path, S.gidmap, S.gidmap_len, e, "gidmap") != 0)
            goto kill;
    }
    snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)pid);
    for (size_t i = 0; i < S.ncgroups; i++) {
        snprintf(path, sizeof(path), "%s/cgroup.procs", S.cgroups[i]);
        if (write_file(path, pidbuf, strlen(pidbuf), e, "cgroup") != 0)
            goto kill;
    }
    if (net_move_links(pid, e) != 0)
        goto kill;
    if (write(syncp[1], "g", 1) != 1) {
        /* The child is gone already; its report (if any) is on the error pipe. */
    }
    close(syncp[1]);
    syncp[1] = -1;
    rc = wait_child_result(errp[0], e);
    if (rc == 0) {
        release_loops(false); /* the mounts hold the devices now (AUTOCLEAR) */
        S.started = time(NULL);
        goto out;
    }
kill:
    (void)kill(pid, SIGKILL);
reap:
    if (pid > 0) {
        /* Not recorded as exit_status: this child never became init. */
        int st;
        pid_t r;
        do
            r = waitpid(pid, &st, 0);
        while (r < 0 && errno == EINTR);
    }
    S.init_pid = 0;
    rc = -1;
out:
    for (int i = 0; i < 2; i++) {
        if (syncp[i] >= 0)
            close(syncp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    if (rc != 0) {
        release_loops(true);
        net_undo();
    }
    return rc;
}

/* ------------------------------------------------------------------ control */

static void send_line(int ci, const char *line)
{
    struct client *c = &S.clients[ci];
    size_t len = strlen(line);
    if (send(c->fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
        close_client(ci); /* a client that does not read its replies is dropped */
}

static void reply_error(int ci, int errnum, const char *msg)
{
    char enc[1024], line[1100];
    pct_encode(msg, enc, sizeof(enc));
    snprintf(line, sizeof(line), "error %d %s\n", errnum, enc);
    send_line(ci, line);
}

static void notify_watchers(void)
{
    char line[200];
    snprintf(line, sizeof(line), "event %s %s %ld %d\n", state_names[S.state], S.reason, (long)S.init_pid,
             S.have_exit ? S.exit_status : -1);
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (S.clients[i].fd >= 0 && S.clients[i].watch)
            send_line(i, line);
}

static void __attribute__((noreturn)) destroy(int reply_to)
{
    kill_container();
    S.state = ST_SHUTOFF;
    S.reason = "destroyed";
    finish(0, reply_to);
}

static void attach_console(int ci, size_t con_i)
{
    struct client *c = &S.clients[ci];
    struct console *con = &S.consoles[con_i];
    con->client = ci;
    con->tc_len = con->tc_off = con->tm_len = con->tm_off = 0;
    c->console = (int)con_i;
    send_line(ci, "ok\n");
    if (c->fd < 0)
        return;
    /* Bytes that followed the command line are console input already. */
    size_t n = c->inlen < sizeof(con->to_master) ? c->inlen : sizeof(con->to_master);
    memcpy(con->to_master, c->in, n);
    con->tm_len = n;
    c->inlen = 0;
}

/* After a network change: the host links it made are deleted at exit, those it deleted no longer are. */
static void adopt_network_change(const struct plan *p, const struct net_links *made)
{
    for (size_t i = 0; i < p->nrecs; i++) {
        const char *name = p->recs[i].argv[0];
        if (strcmp(p->recs[i].kw, "link-del") != 0)
            continue;
        net_links_forget(&S.hot_links, name);
        if (!net_links_contains(&S.released, name) && net_links_add(&S.released, name, 0) != 0)
            warnx_("net-apply: cannot record that '%s' is gone: %s", name, strerror(errno));
    }
    for (size_t i = 0; i < made->n; i++) {
        const struct net_link *l = &made->links[i];
        net_links_forget(&S.released, l->name); /* made again: deleted as a net-apply link */
        if (net_links_add(&S.hot_links, l->name, l->index) != 0)
            warnx_("net-apply: cannot record '%s' for deletion at exit: %s", l->name, strerror(errno));
    }
}

static int network_change(const char *file, struct err *e)
{
    struct plan p;
    struct net_links made = {0};
    int rc = -1;

    memset(&p, 0, sizeof(p));
    if (S.init_pid <= 0)
        return fail(e, "net-apply", ESRCH, "init is not running");
    if (!(S.clone_flags & CLONE_NEWNET))
        return fail(e, "net-apply", EINVAL, "the container has no network namespace of its own");
    if (plan_load_kind(&p, file, PLAN_NETWORK, e) == 0 && hold_container_netns(S.init_pid, "net-apply", e) == 0 &&
        net_change_apply(&p, S.init_pid, (S.clone_flags & CLONE_NEWUSER) != 0, &made, e) == 0) {
        adopt_network_change(&p, &made);
        rc = 0;
    }
    net_links_clear(&made);
    plan_free(&p);
    return rc;
}

/* net-apply FILE: reply `ok` or `error STEP ERRNO MESSAGE`. */
static void net_apply_command(int ci, char *file)
{
    struct err e;
    char line[3400];
    memset(&e, 0, sizeof(e));
    if (pct_decode(file) != 0)
        fail(&e, "net-apply", EINVAL, "malformed file name");
    else if (network_change(file, &e) == 0) {
        send_line(ci, "ok\n");
        return;
    }
    format_error_line(&e, line, sizeof(line));
    send_line(ci, line);
}

static void run_command(int ci, char *line)
{
    char *argv[4] = {0};
    int argc = 0;
    for (char *save = NULL, *t = strtok_r(line, " ", &save); t && argc < 4; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    if (argc == 0) {
        reply_error(ci, EINVAL, "empty command");
    } else if (!strcmp(argv[0], "status") && argc == 1) {
        char out[100];
        snprintf(out, sizeof(out), "ok %s %ld\n", state_names[S.state], (long)S.init_pid);
        send_line(ci, out);
    } else if (!strcmp(argv[0], "signal") && argc == 2) {
        unsigned long sig;
        if (parse_ulong(argv[1], 10, 64, &sig) != 0 || sig == 0)
            reply_error(ci, EINVAL, "bad signal number");
        else if (S.init_pid <= 0)
            reply_error(ci, ESRCH, "init is not running");
        else if (kill(S.init_pid, (int)sig) != 0)
            reply_error(ci, errno, strerror(errno));
        else
            send_line(ci, "ok\n");
    } else if (!strcmp(argv[0], "destroy") && argc == 1) {
        destroy(ci);
    } else if (!strcmp(argv[0], "console") && (argc == 2 || (argc == 3 && !strcmp(argv[2], "force")))) {
        unsigned long idx;
        size_t i;
        if (parse_ulong(argv[1], 10, 1023, &idx) != 0) {
            reply_error(ci, EINVAL, "bad console index");
            return;
        }
        for (i = 0; i < S.nconsoles; i++)
            if (S.consoles[i].index == idx)
                break;
        if (i == S.nconsoles) {
            reply_error(ci, ENOENT, "no such console");
        } else if (S.consoles[i].dead) {
            reply_error(ci, EIO, "console is closed");
        } else if (S.consoles[i].client >= 0 && argc == 2) {
            reply_error(ci, EBUSY, "console already has a client");
        } else {
            if (S.consoles[i].client >= 0)
                close_client(S.consoles[i].client);
            attach_console(ci, i);
        }
    } else if (!strcmp(argv[0], "net-apply") && argc == 2) {
        net_apply_command(ci, argv[1]);
    } else if (!strcmp(argv[0], "watch") && argc == 1) {
        S.clients[ci].watch = true;
        send_line(ci, "ok\n");
    } else if (!strcmp(argv[0], "set-state") && argc == 3 &&
               (!strcmp(argv[1], "running") || !strcmp(argv[1], "paused"))) {
        static char reason[64];
        if (S.init_pid <= 0) {
            reply_error(ci, ESRCH, "init is not running");
            return;
        }
        snprintf(reason, sizeof(reason), "%s", argv[2]);
        /* Recorded before the reply: whoever asked reads the status file next. */
        set_state(!strcmp(argv[1], "paused") ? ST_PAUSED : ST_RUNNING, reason);
        send_line(ci, "ok\n");
    } else {
        reply_error(ci, EINVAL, "unknown command");
    }
}

static void client_readable(int ci)
{
    struct client *c = &S.clients[ci];
    if (c->console >= 0) {
        struct console *con = &S.consoles[c->console];
        ssize_t n = recv(c->fd, con->to_master, sizeof(con->to_master), MSG_DONTWAIT);
        if (n > 0) {
            con->tm_len = (size_t)n;
            con->tm_off = 0;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            close_client(ci);
        }
        return;
    }
    ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close_client(ci);
        return;
    }
    if (n < 0)
        return;
    c->inlen += (size_t)n;
    for (;;) {
        char *nl = memchr(c->in, '\n', c->inlen);
        if (nl == NULL)
            break;
        *nl = '\0';
        size_t used = (size_t)(nl - c->in) + 1;
        char line[sizeof(c->in)];
        memcpy(line, c->in, used);
        memmove(c->in, c->in + used, c->inlen - used);
        c->inlen -= used;
        run_command(ci, line);
        if (c->fd < 0 || c->console >= 0)
            return;
    }
    if (c->inlen == sizeof(c->in)) {
        reply_error(ci, E2BIG, "command line too long");
        close_client(ci);
    }
}

static void accept_clients(void)
{
    for (;;) {
        int fd = accept4(S.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        int i;
        for (i = 0; i < MAX_CLIENTS && S.clients[i].fd >= 0; i++) {
        }
        if (i == MAX_CLIENTS) {
            close(fd);
            continue;
        }
        S.clients[i].fd = fd;
        S.clients[i].inlen = 0;
        S.clients[i].console = -1;
        S.clients[i].watch = false;
    }
}

/* ------------------------------------------------------------------ consoles */

static void console_readable(size_t i)
{
    struct console *con = &S.consoles[i];
    char buf[sizeof(con->to_client)];
    ssize_t n = read(con->master, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        warnx_("console %u: %s", con->index, n < 0 ? strerror(errno) : "closed");
        con->dead = true;
        if (con->client >= 0)
            close_client(con->client);
        return;
    }
    if (S.log_fd >= 0 && write_all(S.log_fd, buf, (size_t)n) != 0 && !S.log_failed) {
        S.log_failed = true;
        warnx_("log: cannot write '%s': %s", S.log_path, strerror(errno));
    }
    if (con->client >= 0) {
        memcpy(con->to_client, buf, (size_t)n);
        con->tc_len = (size_t)n;
        con->tc_off = 0;
    }
}

static void console_writable(size_t i)
{
    struct console *con = &S.consoles[i];
    ssize_t n = write(con->master, con->to_master + con->tm_off, con->tm_len - con->tm_off);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            con->tm_len = con->tm_off = 0; /* drop the input; the console is unusable */
        return;
    }
    con->tm_off += (size_t)n;
    if (con->tm_off == con->tm_len)
        con->tm_len = con->tm_off = 0;
}

static void client_writable(int ci)
{
    struct console *con = &S.consoles[S.clients[ci].console];
    ssize_t n = send(S.clients[ci].fd, con->to_client + con->tc_off, con->tc_len - con->tc_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            close_client(ci);
        return;
    }
    con->tc_off += (size_t)n;
    if (con->tc_off == con->tc_len)
        con->tc_len = con->tc_off = 0;
}

/* ------------------------------------------------------------------ lifecycle */

static void init_exited(int status)
{
    enum action act;
    bool crash = false;

    S.init_pid = 0;
    S.exit_status = status;
    S.have_exit = true;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGHUP) /* reboot(2) RESTART in a pid namespace */
            act = S.on_reboot;
        else if (sig == SIGINT || sig == SIGTERM || sig == SIGKILL) /* halt/poweroff, destroy */
            act = S.on_poweroff;
        else {
            act = S.on_crash;
            crash = true;
        }
    } else {
        act = S.on_poweroff;
    }
    const char *reason = crash ? "crashed" : "shutdown";
    switch (act) {
    case ACT_DESTROY:
        S.state = ST_SHUTOFF;
        S.reason = reason;
        finish(0, -1);
    case ACT_PRESERVE:
        set_state(crash ? ST_CRASHED : ST_SHUTOFF, reason);
        return;
    case ACT_RESTART: {
        struct err e;
        set_state(crash ? ST_CRASHED : ST_SHUTOFF, reason);
        empty_cgroups();
        if (start_init(&e) != 0) {
            S.state = ST_SHUTOFF;
            if (S.term_requested) { /* SIGTERM while restarting: a destroy */
                S.reason = "destroyed";
                finish(0, -1);
            }
            warn_err(&e);
            S.reason = "failed";
            finish(1, -1);
        }
        set_state(ST_RUNNING, "booted");
        return;
    }
    }
}

static void reap(void)
{
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0)
            return;
        if (pid == S.init_pid)
            init_exited(st);
    }
}

static void signal_readable(void)
{
    struct signalfd_siginfo si;
    while (read(S.sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            destroy(-1);
    }
    reap(); /* SIGCHLD (they coalesce: always reap everything) */
}

enum src { SRC_SIG, SRC_LISTEN, SRC_MASTER, SRC_CLIENT };

static void __attribute__((noreturn)) main_loop(void)
{
    struct pollfd pfd[2 + 2 * MAX_CLIENTS + 1024];
    struct { enum src src; int idx; } map[ARRAY_LEN(pfd)];

    reap(); /* init may have exited while the start was being confirmed */
    for (;;) {
        size_t n = 0;
        pfd[n] = (struct pollfd){.fd = S.sig_fd, .events = POLLIN};
        map[n++].src = SRC_SIG;
        if (S.listen_fd >= 0) {
            pfd[n] = (struct pollfd){.fd = S.listen_fd, .events = POLLIN};
            map[n++].src = SRC_LISTEN;
        }
        for (size_t i = 0; i < S.nconsoles && n < ARRAY_LEN(pfd); i++) {
            struct console *con = &S.consoles[i];
            short ev = 0;
            if (con->dead)
                continue;
            if (con->tc_len == 0)
                ev |= POLLIN; /* back-pressure: read more once the client took the last chunk */
            if (con->tm_len > 0)
                ev |= POLLOUT;
            pfd[n] = (struct pollfd){.fd = con->master, .events = ev};
            map[n].src = SRC_MASTER;
            map[n++].idx = (int)i;
        }
        for (int i = 0; i < MAX_CLIENTS && n < ARRAY_LEN(pfd); i++) {
            struct client *c = &S.clients[i];
            short ev = 0;
            if (c->fd < 0)
                continue;
            if (c->console < 0 || S.consoles[c->console].tm_len == 0)
                ev |= POLLIN;
            if (c->console >= 0 && S.consoles[c->console].tc_len > 0)
                ev |= POLLOUT;
            pfd[n] = (struct pollfd){.fd = c->fd, .events = ev};
            map[n].src = SRC_CLIENT;
            map[n++].idx = i;
        }
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            warnx_("poll: %s", strerror(errno));
            destroy(-1);
        }
        for (size_t k = 0; k < n; k++) {
            short re = pfd[k].revents;
            int i = map[k].idx;
            if (re == 0)
                continue;
            switch (map[k].src) {
            case SRC_SIG:
                signal_readable();
                break;
            case SRC_LISTEN:
                accept_clients();
                break;
            case SRC_MASTER:
                if (S.consoles[i].dead || S.consoles[i].master < 0)
                    break;
                if (re & POLLOUT)
                    console_writable((size_t)i);
                if (re & (POLLIN | POLLHUP | POLLERR))
                    console_readable((size_t)i);
                break;
            case SRC_CLIENT:
                if (S.clients[i].fd != pfd[k].fd)
                    break; /* slot closed or reused during this round */
                if ((re & POLLOUT) && S.clients[i].console >= 0)
                    client_writable(i);
                if (S.clients[i].fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR)))
                    client_readable(i);
                break;
            }
        }
    }
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
    static const char msg[] = "usage: nsvirt_lxc --plan FILE [--report-fd N]\n";
    (void)write_all(STDERR_FILENO, msg, sizeof(msg) - 1);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *plan_path = NULL;
    long report_fd = STDOUT_FILENO;
    struct err e;
    sigset_t mask;

    memset(&e, 0, sizeof(e));
    S.log_fd = S.listen_fd = S.sig_fd = S.report_fd = S.net_ns_fd = -1;
    for (int i = 0; i < MAX_CLIENTS; i++)
        S.clients[i].fd = S.clients[i].console = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--plan") && i + 1 < argc)
            plan_path = argv[++i];
        else if (!strcmp(argv[i], "--report-fd") && i + 1 < argc) {
            if (parse_long(argv[++i], 0, INT_MAX, &report_fd) != 0)
                usage();
        } else
            usage();
    }
    if (plan_path == NULL)
        usage();
    if (fcntl((int)report_fd, F_GETFD) < 0) {
        fprintf(stderr, "nsvirt_lxc: --report-fd %ld: %s\n", report_fd, strerror(errno));
        return 2;
    }
    S.report_fd = (int)report_fd;
    /* Nothing inherited may leak into the container: mark every fd above stderr close-on-exec. */
    if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0) {
        for (int fd = 3; fd < 1024; fd++) {
            int fl = fcntl(fd, F_GETFD);
            if (fl >= 0)
                (void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
        }
    }
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) < 0) {
            int nfd = open("/dev/null", O_RDWR);
            if (nfd >= 0 && nfd != fd) {
                (void)dup2(nfd, fd);
                close(nfd);
            }
        }
    }
    if (S.report_fd <= STDERR_FILENO) {
        /* Keep the report channel off the stdio numbers. */
        int fd = fcntl(S.report_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
            return 2;
        S.report_fd = fd;
    }
    S.orig_umask = umask(022);

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0 || (S.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
        fail(&e, "signal", errno, "cannot set up signal handling");
        report_error(&e);
        return 1;
    }
    if (setsid() < 0 && errno != EPERM) {
        fail(&e, "setsid", errno, "setsid");
        report_error(&e);
        return 1;
    }
    if (plan_load(&S.plan, plan_path, &e) != 0) {
        report_error(&e);
        plan_free(&S.plan);
        return 1;
    }
    S.state = ST_SHUTOFF;
    S.reason = "failed";
    if (setup_host(&e) != 0 || start_init(&e) != 0)
        start_failed(&e);
    set_state(ST_RUNNING, "booted");
    {
        char line[64];
        snprintf(line, sizeof(line), "ok %ld %ld\n", (long)getpid(), (long)S.init_pid);
        report_line(line);
    }
    main_loop();
}
