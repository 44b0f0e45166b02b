/*
 * nsvirt_enter --pid INITPID [--cgroup-pid PID] -- /path/to/cmd [ARG...]
 *
 * Runs a command inside a running container, the way virsh
 * lxc-enter-namespace does: join the cgroups of PID (default INITPID),
 * then the namespaces of INITPID (user, ipc, uts, net, pid, mnt, cgroup),
 * fork so that the pid namespace applies, and in the child chdir("/") and
 * execv() the command (no PATH search). The exit status is the command's;
 * if it was killed by a signal, this process kills itself with the same
 * signal. The helper's own failures exit with 125 (entering failed),
 * 126 (the command cannot be run) or 127 (the command does not exist).
 *
 * A separate executable because setns() into a user namespace needs a
 * single-threaded process, which Node never is.
 */
#include "enter.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void report(int errnum, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "nsvirt_enter: %s: %s\n", msg, strerror(errnum));
}

static void usage_error(const char *what)
{
    fprintf(stderr, "nsvirt_enter: %s\nusage: nsvirt_enter --pid INITPID [--cgroup-pid PID] -- /path/to/cmd [ARG...]\n", what);
    exit(EXIT_CANCELED);
}

struct options {
    pid_t pid;
    pid_t cgroup_pid;
    char **argv; /* the command, NULL-terminated */
};

static pid_t parse_pid(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || v <= 0 || v > 0x3fffffff)
        usage_error("a pid must be a positive number");
    return (pid_t)v;
}

static struct options parse_args(int argc, char **argv)
{
    struct options o = {0};
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
        if (i + 1 >= argc)
            usage_error("an option is missing its value");
        if (strcmp(argv[i], "--pid") == 0)
            o.pid = parse_pid(argv[i + 1]);
        else if (strcmp(argv[i], "--cgroup-pid") == 0)
            o.cgroup_pid = parse_pid(argv[i + 1]);
        else
            usage_error("unknown option");
    }
    if (o.pid == 0)
        usage_error("--pid is required");
    if (i + 1 >= argc)
        usage_error("no command given");
    if (o.cgroup_pid == 0)
        o.cgroup_pid = o.pid;
    o.argv = &argv[i + 1];
    return o;
}

/*
 * /proc/PID stays bound to the process it was opened for: if that process
 * dies and its pid is reused, lookups through the fd fail instead of
 * reaching the newcomer.
 */
static int open_proc(pid_t pid)
{
    char path[32];
    snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        report(errno, "cannot open '%s'", path);
    return fd;
}

struct ns {
    const char *name;
    int type;
    bool optional; /* older kernels have no cgroup namespace */
    int fd;        /* -1 when there is nothing to join */
};

/* libvirt's order (virDomainLxcOpenNamespace), then the cgroup namespace. */
static struct ns namespaces[] = {
    {"user", CLONE_NEWUSER, false, -1}, {"ipc", CLONE_NEWIPC, false, -1},       {"uts", CLONE_NEWUTS, false, -1},
    {"net", CLONE_NEWNET, false, -1},   {"pid", CLONE_NEWPID, false, -1},       {"mnt", CLONE_NEWNS, false, -1},
    {"cgroup", CLONE_NEWCGROUP, true, -1},
};

/* Open the namespaces of the process behind PROC_FD that differ from ours. */
static int open_namespaces(int proc_fd)
{
    for (size_t i = 0; i < ARRAY_LEN(namespaces); i++) {
        struct ns *ns = &namespaces[i];
        char rel[32], own[48];
        snprintf(rel, sizeof(rel), "ns/%s", ns->name);
        snprintf(own, sizeof(own), "/proc/self/ns/%s", ns->name);
        int fd = openat(proc_fd, rel, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && ns->optional)
            continue;
        if (fd < 0) {
            report(errno, "cannot open the %s namespace of the container", ns->name);
            return -1;
        }
        struct stat theirs, ours;
        if (fstat(fd, &theirs) != 0 || stat(own, &ours) != 0) {
            report(errno, "cannot compare the %s namespace with ours", ns->name);
            (void)close(fd); /* failing already */
            return -1;
        }
        if (theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino) {
            /* Shared with us: nothing to join (and a user namespace cannot be re-entered). */
            if (close(fd) != 0) {
                report(errno, "cannot close the %s namespace", ns->name);
                return -1;
            }
            continue;
        }
        ns->fd = fd;
    }
    return 0;
}

/*
 * Join every opened namespace. As util-linux nsenter does: first all but
 * the user namespace while we still hold the host's privileges (failures
 * are retried), then the user namespace and whatever failed before — a
 * namespace the container's user namespace owns may need its privileges.
 */
static int join_namespaces(bool *entered_userns)
{
    *entered_userns = false;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = pass == 0 ? 1 : 0; i < ARRAY_LEN(namespaces); i++) {
            struct ns *ns = &namespaces[i];
            if (ns->fd < 0)
                continue;
            if (setns(ns->fd, ns->type) != 0) {
                if (pass == 0)
                    continue;
                report(errno, "cannot join the %s namespace of the container", ns->name);
                return -1;
            }
            if (ns->type == CLONE_NEWUSER)
                *entered_userns = true;
            if (close(ns->fd) != 0) {
                report(errno, "cannot close the %s namespace", ns->name);
                return -1;
            }
            ns->fd = -1;
        }
    }
    return 0;
}

/*
 * In the container's user namespace our host uid is unmapped; become its
 * root (as nsenter and lxc-attach do) so files are created as root there.
 * setgroups() is refused when the namespace denies it; the supplementary
 * groups are then unmapped anyway.
 */
static int become_namespace_root(void)
{
    if (setgroups(0, NULL) != 0 && errno != EPERM) {
        report(errno, "cannot clear the supplementary groups");
        return -1;
    }
    if (setresgid(0, 0, 0) != 0) {
        report(errno, "cannot become gid 0 of the container");
        return -1;
    }
    if (setresuid(0, 0, 0) != 0) {
        report(errno, "cannot become uid 0 of the container");
        return -1;
    }
    return 0;
}

static void __attribute__((noreturn)) run_command(char **argv)
{
    if (chdir("/") != 0) {
        report(errno, "cannot change to the container's root directory");
        _exit(EXIT_CANCELED);
    }
    execv(argv[0], argv);
    int err = errno;
    report(err, "cannot execute '%s'", argv[0]);
    _exit(err == ENOENT ? EXIT_ENOENT : EXIT_CANNOT_INVOKE);
}

static volatile sig_atomic_t child_pid;

/* Termination requests for the helper are meant for the command. */
static void forward_signal(int sig)
{
    if (child_pid > 0)
        (void)kill((pid_t)child_pid, sig); /* nothing to do if the command has gone */
}

static int install_handlers(void)
{
    struct sigaction forward = {.sa_handler = forward_signal, .sa_flags = SA_RESTART};
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    if (sigemptyset(&forward.sa_mask) != 0 || sigemptyset(&ignore.sa_mask) != 0) {
        report(errno, "cannot set up signal handling");
        return -1;
    }
    /* The terminal sends SIGINT/SIGQUIT to the command as well: let it decide. */
    if (sigaction(SIGTERM, &forward, NULL) != 0 || sigaction(SIGHUP, &forward, NULL) != 0 ||
        sigaction(SIGINT, &ignore, NULL) != 0 || sigaction(SIGQUIT, &ignore, NULL) != 0) {
        report(errno, "cannot set up signal handling");
        return -1;
    }
    return 0;
}

/* virProcessExitWithStatus: exit as the command did. */
static void __attribute__((noreturn)) exit_like(int status)
{
    if (WIFEXITED(status))
        exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigset_t set;
        /* SIGKILL and SIGSTOP refuse any change of action (EINVAL); they need none. */
        if (sigemptyset(&dfl.sa_mask) != 0 || (sigaction(sig, &dfl, NULL) != 0 && errno != EINVAL))
            report(errno, "cannot restore the default action of signal %d", sig);
        else if (sigemptyset(&set) != 0 || sigaddset(&set, sig) != 0 || sigprocmask(SIG_UNBLOCK, &set, NULL) != 0)
            report(errno, "cannot unblock signal %d", sig);
        else if (raise(sig) != 0)
            report(errno, "cannot raise signal %d", sig);
        exit(128 + sig); /* the signal did not end us */
    }
    exit(EXIT_CANNOT_INVOKE);
}

int main(int argc, char **argv)
{
    struct options o = parse_args(argc, argv);

    int proc_fd = open_proc(o.pid);
    if (proc_fd < 0 || open_namespaces(proc_fd) != 0)
        return EXIT_CANCELED;

    int cg_fd = o.cgroup_pid == o.pid ? proc_fd : open_proc(o.cgroup_pid);
    if (cg_fd < 0 || join_cgroups_of(cg_fd) != 0)
        return EXIT_CANCELED;
    if (cg_fd != proc_fd && close(cg_fd) != 0) {
        report(errno, "cannot close '/proc/%ld'", (long)o.cgroup_pid);
        return EXIT_CANCELED;
    }
    if (close(proc_fd) != 0) {
        report(errno, "cannot close '/proc/%ld'", (long)o.pid);
        return EXIT_CANCELED;
    }

    bool userns;
    if (join_namespaces(&userns) != 0 || (userns && become_namespace_root() != 0))
        return EXIT_CANCELED;

    /* A pid namespace applies to children only. */
    pid_t pid = fork();
    if (pid < 0) {
        report(errno, "cannot fork inside the container");
        return EXIT_CANCELED;
    }
    if (pid == 0)
        run_command(o.argv);

    child_pid = pid;
    if (install_handlers() != 0) {
        if (kill(pid, SIGKILL) != 0)
            report(errno, "cannot stop the command");
        return EXIT_CANCELED;
    }
    int status;
    pid_t w;
    do
        w = waitpid(pid, &status, 0);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
        report(errno, "cannot wait for the command");
        return EXIT_CANNOT_INVOKE;
    }
    exit_like(status);
}
