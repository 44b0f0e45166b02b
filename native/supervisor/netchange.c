/*
 * net-apply: a network change to the running container (interface hot-plug,
 * docs/plan-format.md "Control protocol"). Host records run here, in the
 * supervisor's network namespace; child operations run in a forked process
 * that joins init's user (if any) and network namespaces. A failed change
 * deletes the links it made, wherever they ended up.
 */
#include "netchange.h"
#include "netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A link this change created (veth HOSTIF, macvlan), and where it is now. */
struct made_link {
    const char *name;
    unsigned host_index; /* its index in the supervisor's namespace, 0 when unknown */
    bool moved;          /* moved into the container by link-netns */
    int ns_index;        /* its index there (renames do not change it) */
};

static int open_ns(pid_t pid, const char *kind, struct err *e)
{
    char path[64];
    int fd;
    snprintf(path, sizeof(path), "/proc/%ld/ns/%s", (long)pid, kind);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(e, "net-apply", errno, "cannot open the container's namespace '%s'", path);
    return fd;
}

static struct made_link *find_made(struct made_link *made, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!made[i].moved && !strcmp(made[i].name, name))
            return &made[i];
    return NULL;
}

/* After link-netns: where the link is inside, so that an undo finds it whatever it is called by then. */
static int note_move(struct made_link *m, int nsfd, const struct record *r, struct err *e)
{
    int fd = nl_open_in(nsfd), idx, err;
    if (fd < 0)
        return fail(e, r->kw, errno, "cannot enter the container's network namespace");
    idx = nl_link_index(fd, m->name);
    err = errno;
    close(fd);
    if (idx < 0)
        return fail(e, r->kw, err, "cannot find '%s' in the container's network namespace", m->name);
    m->moved = true;
    m->ns_index = idx;
    return 0;
}

/* Delete the links this change made, newest first; the pair of a veth goes with its host end. */
static void undo(const struct made_link *made, size_t n, int nsfd)
{
    for (size_t i = n; i-- > 0;) {
        const struct made_link *m = &made[i];
        int rc = 0;
        if (m->moved) {
            int fd = nl_open_in(nsfd);
            rc = fd < 0 ? -1 : nl_link_delete_index(fd, m->ns_index);
            if (fd >= 0) {
                int err = errno;
                close(fd);
                errno = err;
            }
        } else if (if_nametoindex(m->name) == m->host_index && m->host_index != 0) {
            rc = link_delete(m->name);
        }
        if (rc != 0 && errno != ENODEV)
            warnx_("net-apply: cannot delete '%s' again: %s", m->name, strerror(errno));
    }
}

static int host_records(const struct plan *p, pid_t init_pid, int nsfd, struct made_link *made, size_t *nmade,
                        struct err *e)
{
    for (size_t i = 0; i < p->nrecs; i++) {
        const struct record *r = &p->recs[i];
        if (r->kind != REC_HOST)
            continue;
        if (!strcmp(r->kw, "link-netns")) {
            struct made_link *m = find_made(made, *nmade, r->argv[0]);
            if (net_move(r, init_pid, e) != 0 || (m != NULL && note_move(m, nsfd, r, e) != 0))
                return -1;
            continue;
        }
        if (net_apply(r, e) != 0)
            return -1;
        if (!strcmp(r->kw, "veth") || !strcmp(r->kw, "macvlan"))
            made[(*nmade)++] = (struct made_link){r->argv[0], if_nametoindex(r->argv[0]), false, 0};
    }
    return 0;
}

/* In the forked child: join the container's namespaces, run the child operations; never returns. */
static void __attribute__((noreturn)) inside(const struct plan *p, int userfd, int netfd, int report)
{
    struct err ce;
    int rc = 0;
    memset(&ce, 0, sizeof(ce));
    if (userfd >= 0 && setns(userfd, CLONE_NEWUSER) != 0)
        rc = fail(&ce, "setns", errno, "cannot enter the container's user namespace");
    else if (setns(netfd, CLONE_NEWNET) != 0)
        rc = fail(&ce, "setns", errno, "cannot enter the container's network namespace");
    for (size_t i = 0; rc == 0 && i < p->nrecs; i++)
        if (p->recs[i].kind == REC_CHILD)
            rc = net_apply(&p->recs[i], &ce);
    if (rc != 0) {
        (void)write_all(report, &ce, sizeof(ce));
        _exit(1);
    }
    _exit(0);
}

/* Run the child operations inside the container: the child's failure report, if any, comes back through a pipe. */
static int child_operations(const struct plan *p, int userfd, int netfd, struct err *e)
{
    int pfd[2];
    pid_t pid;
    struct err ce;
    size_t got = 0;
    int status, rc = 0;

    if (pipe2(pfd, O_CLOEXEC) != 0)
        return fail(e, "net-apply", errno, "cannot create a pipe");
    pid = fork();
    if (pid < 0) {
        int err = errno;
        close(pfd[0]);
        close(pfd[1]);
        return fail(e, "net-apply", err, "cannot fork");
    }
    if (pid == 0) {
        close(pfd[0]);
        inside(p, userfd, netfd, pfd[1]);
    }
    close(pfd[1]);
    while (got < sizeof(ce)) {
        ssize_t n = read(pfd[0], (char *)&ce + got, sizeof(ce) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(pfd[0]);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return fail(e, "net-apply", errno, "cannot wait for the network child");
    }
    if (got == sizeof(ce)) {
        ce.step[sizeof(ce.step) - 1] = '\0';
        ce.msg[sizeof(ce.msg) - 1] = '\0';
        *e = ce;
        rc = -1;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        rc = fail(e, "net-apply", ECHILD, "the network child failed without a report (status %d)", status);
    }
    return rc;
}

static bool has_child_operations(const struct plan *p)
{
    for (size_t i = 0; i < p->nrecs; i++)
        if (p->recs[i].kind == REC_CHILD)
            return true;
    return false;
}

static int keep_made(const struct made_link *made, size_t n, struct net_links *kept, struct err *e)
{
    for (size_t i = 0; i < n; i++) {
        if (made[i].moved)
            continue; /* inside: it goes with the container's namespace */
        if (net_links_add(kept, made[i].name, made[i].host_index) != 0)
            return fail(e, "net-apply", errno, "cannot record link '%s'", made[i].name);
    }
    return 0;
}

int net_change_apply(const struct plan *p, pid_t init_pid, bool userns, struct net_links *kept, struct err *e)
{
    struct made_link *made = calloc(p->nrecs ? p->nrecs : 1, sizeof(*made));
    size_t nmade = 0;
    int userfd = -1, netfd = -1, rc = -1;

    if (made == NULL)
        return fail(e, "net-apply", ENOMEM, "out of memory");
    if ((netfd = open_ns(init_pid, "net", e)) < 0 || (userns && (userfd = open_ns(init_pid, "user", e)) < 0))
        goto out;
    if (host_records(p, init_pid, netfd, made, &nmade, e) != 0)
        goto out;
    if (has_child_operations(p) && child_operations(p, userfd, netfd, e) != 0)
        goto out;
    rc = keep_made(made, nmade, kept, e);
out:
    if (rc != 0)
        undo(made, nmade, netfd);
    if (userfd >= 0)
        close(userfd);
    if (netfd >= 0)
        close(netfd);
    free(made);
    return rc;
}

/* ------------------------------------------------------------------ the supervisor's list of such links */

int net_links_add(struct net_links *l, const char *name, unsigned index)
{
    char *copy;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        struct net_link *nl = realloc(l->links, ncap * sizeof(*nl));
        if (nl == NULL) {
            errno = ENOMEM;
            return -1;
        }
        l->links = nl;
        l->cap = ncap;
    }
    copy = strdup(name);
    if (copy == NULL) {
        errno = ENOMEM;
        return -1;
    }
    l->links[l->n++] = (struct net_link){copy, index};
    return 0;
}

void net_links_forget(struct net_links *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->links[i].name, name) != 0)
            continue;
        free(l->links[i].name);
        l->links[i] = l->links[--l->n];
        return;
    }
}

bool net_links_contains(const struct net_links *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->links[i].name, name))
            return true;
    return false;
}

void net_links_clear(struct net_links *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->links[i].name);
    free(l->links);
    memset(l, 0, sizeof(*l));
}

void net_links_delete_all(struct net_links *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct net_link *k = &l->links[i];
        /* Only the link this supervisor made: the name may have been taken by another since. */
        if (k->index != 0 && if_nametoindex(k->name) == k->index && link_delete(k->name) != 0)
            warnx_("network: cannot delete '%s': %s", k->name, strerror(errno));
    }
    net_links_clear(l);
}
