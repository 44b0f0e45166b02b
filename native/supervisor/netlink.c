/* Raw rtnetlink: links, addresses, routes; the network records of the plan. */
#include "netlink.h"
#include "sup.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define NL_REQ_SIZE 1024
#define NL_RECV_SIZE 32768

/* ------------------------------------------------------------------ messages */

/* A request being built; `overflow` records an attribute that did not fit (sent as EMSGSIZE). */
struct nlreq {
    union {
        struct nlmsghdr h;
        char raw[NL_REQ_SIZE];
    } u;
    bool overflow;
};

/* Start a request of TYPE; returns its zeroed family header (FAMLEN bytes). */
static void *req_init(struct nlreq *q, uint16_t type, uint16_t flags, size_t famlen)
{
    memset(q, 0, sizeof(*q));
    q->u.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(famlen);
    q->u.h.nlmsg_type = type;
    q->u.h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
    return NLMSG_DATA(&q->u.h);
}

/* Append LEN bytes (zeroed, aligned); NULL when they do not fit. */
static void *req_reserve(struct nlreq *q, size_t len)
{
    size_t off = NLMSG_ALIGN(q->u.h.nlmsg_len);
    if (q->overflow || off + RTA_ALIGN(len) > sizeof(q->u.raw)) {
        q->overflow = true;
        return NULL;
    }
    q->u.h.nlmsg_len = (uint32_t)(off + RTA_ALIGN(len));
    return q->u.raw + off;
}

/* Append an attribute; a failure is recorded in q->overflow and reported when sending. */
static struct rtattr *attr_put(struct nlreq *q, unsigned short type, const void *data, size_t len)
{
    struct rtattr *rta = req_reserve(q, RTA_LENGTH(len));
    if (rta == NULL)
        return NULL;
    rta->rta_type = type;
    rta->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len > 0)
        memcpy(RTA_DATA(rta), data, len);
    return rta;
}

static void attr_u32(struct nlreq *q, unsigned short type, uint32_t v)
{
    (void)attr_put(q, type, &v, sizeof(v)); /* checked through q->overflow */
}

static void attr_str(struct nlreq *q, unsigned short type, const char *s)
{
    (void)attr_put(q, type, s, strlen(s) + 1); /* checked through q->overflow */
}

static struct rtattr *nest_begin(struct nlreq *q, unsigned short type)
{
    return attr_put(q, type, NULL, 0);
}

static void nest_end(struct nlreq *q, struct rtattr *nest)
{
    if (nest != NULL)
        nest->rta_len = (unsigned short)(q->u.raw + q->u.h.nlmsg_len - (char *)nest);
}

/* ------------------------------------------------------------------ transport */

int nl_open(void)
{
    return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

int nl_open_in(int nsfd)
{
    int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), fd, err;
    if (home < 0)
        return -1;
    if (setns(nsfd, CLONE_NEWNET) != 0) {
        err = errno;
        close(home);
        errno = err;
        return -1;
    }
    fd = nl_open(); /* a socket stays in the namespace it was made in */
    err = errno;
    if (setns(home, CLONE_NEWNET) != 0) {
        err = errno;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    close(home);
    errno = err;
    return fd;
}

static int nl_send(int fd, struct nlreq *q, uint32_t seq)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    ssize_t n;
    if (q->overflow) {
        errno = EMSGSIZE;
        return -1;
    }
    q->u.h.nlmsg_seq = seq;
    do
        n = sendto(fd, &q->u.h, q->u.h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if ((size_t)n != q->u.h.nlmsg_len) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* One datagram from the kernel; a truncated one is EMSGSIZE. */
static ssize_t nl_recv(int fd, void *buf, size_t size)
{
    struct sockaddr_nl sa;
    struct iovec iov = {.iov_base = buf, .iov_len = size};
    struct msghdr mh = {.msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;
    do
        n = recvmsg(fd, &mh, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if (mh.msg_flags & MSG_TRUNC) {
        errno = EMSGSIZE;
        return -1;
    }
    if (sa.nl_pid != 0) { /* not from the kernel */
        errno = EPROTO;
        return -1;
    }
    return n;
}

/* NLMSG_ERROR: error 0 is the ACK, anything else a negative errno. */
static int ack_result(const struct nlmsghdr *h)
{
    const struct nlmsgerr *ne = NLMSG_DATA(h);
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ne))) {
        errno = EPROTO;
        return -1;
    }
    if (ne->error == 0)
        return 0;
    errno = -ne->error;
    return -1;
}

typedef int (*nl_cb)(const struct nlmsghdr *h, void *arg);

/* Send Q and read the answer: the ACK, or (dumps) every message through CB until NLMSG_DONE. */
static int nl_talk(int fd, struct nlreq *q, nl_cb cb, void *arg)
{
    static uint32_t last_seq;
    uint32_t seq = ++last_seq;
    long buf[NL_RECV_SIZE / sizeof(long)]; /* aligned for struct nlmsghdr */

    if (nl_send(fd, q, seq) != 0)
        return -1;
    for (;;) {
        ssize_t n = nl_recv(fd, buf, sizeof(buf));
        if (n < 0)
            return -1;
        int len = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_seq != seq)
                continue; /* a late answer to an earlier request */
            if (h->nlmsg_type == NLMSG_ERROR)
                return ack_result(h);
            if (h->nlmsg_type == NLMSG_DONE)
                return 0;
            if (cb != NULL && cb(h, arg) != 0)
                return -1;
        }
    }
}

/* ------------------------------------------------------------------ links */

static int link_index(const char *name)
{
    unsigned idx = if_nametoindex(name); /* ENODEV when there is no such link */
    if (idx == 0)
        return -1;
    return (int)idx;
}

static struct ifinfomsg *link_req(struct nlreq *q, uint16_t type, uint16_t flags, int index)
{
    struct ifinfomsg *ifi = req_init(q, type, flags, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    return ifi;
}

/* RTM_NEWLINK on an existing link with one attribute. */
static int link_set_attr(int fd, const char *name, unsigned short type, const void *data, size_t len)
{
    struct nlreq q;
    int idx = link_index(name);
    if (idx < 0)
        return -1;
    link_req(&q, RTM_NEWLINK, 0, idx);
    (void)attr_put(&q, type, data, len); /* checked through q.overflow */
    return nl_talk(fd, &q, NULL, NULL);
}

int nl_veth_add(int fd, const char *name, const char *peer)
{
    struct nlreq q;
    struct rtattr *info, *data, *pe;

    link_req(&q, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
    attr_str(&q, IFLA_IFNAME, name);
    info = nest_begin(&q, IFLA_LINKINFO);
    attr_str(&q, IFLA_INFO_KIND, "veth");
    data = nest_begin(&q, IFLA_INFO_DATA);
    pe = nest_begin(&q, VETH_INFO_PEER);
    (void)req_reserve(&q, sizeof(struct ifinfomsg)); /* the peer's (zeroed) header; checked through q.overflow */
    attr_str(&q, IFLA_IFNAME, peer);
    nest_end(&q, pe);
    nest_end(&q, data);
    nest_end(&q, info);
    return nl_talk(fd, &q, NULL, NULL);
}

int nl_macvlan_add(int fd, const char *name, const char *lower, uint32_t mode)
{
    struct nlreq q;
    struct rtattr *info, *data;
    int lidx = link_index(lower);
    if (lidx < 0)
        return -1;
    link_req(&q, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
    attr_str(&q, IFLA_IFNAME, name);
    attr_u32(&q, IFLA_LINK, (uint32_t)lidx);
    info = nest_begin(&q, IFLA_LINKINFO);
    attr_str(&q, IFLA_INFO_KIND, "macvlan");
    data = nest_begin(&q, IFLA_INFO_DATA);
    attr_u32(&q, IFLA_MACVLAN_MODE, mode);
    nest_end(&q, data);
    nest_end(&q, info);
    return nl_talk(fd, &q, NULL, NULL);
}

int nl_link_set_mac(int fd, const char *name, const unsigned char *mac, size_t len)
{
    return link_set_attr(fd, name, IFLA_ADDRESS, mac, len);
}

int nl_link_set_mtu(int fd, const char *name, uint32_t mtu)
{
    return link_set_attr(fd, name, IFLA_MTU, &mtu, sizeof(mtu));
}

int nl_link_set_master(int fd, const char *name, const char *master)
{
    int midx = link_index(master);
    uint32_t v = (uint32_t)midx;
    if (midx < 0)
        return -1;
    return link_set_attr(fd, name, IFLA_MASTER, &v, sizeof(v));
}

int nl_link_rename(int fd, const char *name, const char *newname)
{
    return link_set_attr(fd, name, IFLA_IFNAME, newname, strlen(newname) + 1);
}

int nl_link_move_pid(int fd, const char *name, pid_t pid)
{
    uint32_t v = (uint32_t)pid;
    return link_set_attr(fd, name, IFLA_NET_NS_PID, &v, sizeof(v));
}

int nl_link_set_up(int fd, const char *name, bool up)
{
    struct nlreq q;
    struct ifinfomsg *ifi;
    int idx = link_index(name);
    if (idx < 0)
        return -1;
    ifi = link_req(&q, RTM_NEWLINK, 0, idx);
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = up ? IFF_UP : 0;
    return nl_talk(fd, &q, NULL, NULL);
}

int nl_link_delete_index(int fd, int idx)
{
    struct nlreq q;
    link_req(&q, RTM_DELLINK, 0, idx);
    return nl_talk(fd, &q, NULL, NULL);
}

int nl_link_delete(int fd, const char *name)
{
    int idx = link_index(name);
    if (idx < 0)
        return -1;
    return nl_link_delete_index(fd, idx);
}

static int reply_index(const struct nlmsghdr *h, void *arg)
{
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    if (h->nlmsg_type != RTM_NEWLINK)
        return 0;
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi))) {
        errno = EPROTO;
        return -1;
    }
    *(int *)arg = ifi->ifi_index;
    return 0;
}

int nl_link_index(int fd, const char *name)
{
    struct nlreq q;
    int idx = 0;
    link_req(&q, RTM_GETLINK, 0, 0);
    attr_str(&q, IFLA_IFNAME, name);
    if (nl_talk(fd, &q, reply_index, &idx) != 0)
        return -1;
    if (idx <= 0) {
        errno = ENODEV;
        return -1;
    }
    return idx;
}

/* ------------------------------------------------------------------ flushing a namespace */

struct link_list {
    int *idx;
    size_t n, cap;
};

static int collect_link(const struct nlmsghdr *h, void *arg)
{
    struct link_list *l = arg;
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    if (h->nlmsg_type != RTM_NEWLINK)
        return 0;
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi))) {
        errno = EPROTO;
        return -1;
    }
    if (ifi->ifi_flags & IFF_LOOPBACK)
        return 0;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        int *ni = realloc(l->idx, ncap * sizeof(*ni));
        if (ni == NULL) {
            errno = ENOMEM;
            return -1;
        }
        l->idx = ni;
        l->cap = ncap;
    }
    l->idx[l->n++] = ifi->ifi_index;
    return 0;
}

static int list_links(int fd, struct link_list *l)
{
    struct nlreq q;
    link_req(&q, RTM_GETLINK, NLM_F_DUMP, 0);
    q.u.h.nlmsg_flags &= (uint16_t)~NLM_F_ACK; /* a dump ends with NLMSG_DONE */
    return nl_talk(fd, &q, collect_link, l);
}

/* Delete one link of the list; one the kernel cannot delete goes to HOMEFD. 0 = gone. */
static int flush_one(int fd, int idx, int homefd)
{
    struct nlreq q;
    if (nl_link_delete_index(fd, idx) == 0 || errno == ENODEV) /* ENODEV: went with its veth peer */
        return 0;
    if (errno != EOPNOTSUPP)
        return -1;
    link_req(&q, RTM_NEWLINK, 0, idx);
    attr_u32(&q, IFLA_NET_NS_FD, (uint32_t)homefd);
    return nl_talk(fd, &q, NULL, NULL);
}

int nl_flush_links(int fd, int homefd)
{
    struct link_list l = {0};
    int left = 0, err = 0;
    if (list_links(fd, &l) != 0) {
        err = errno;
        free(l.idx);
        errno = err;
        return -1;
    }
    for (size_t i = 0; i < l.n; i++) {
        if (flush_one(fd, l.idx[i], homefd) != 0) {
            left++;
            err = errno;
        }
    }
    free(l.idx);
    errno = err;
    return left;
}

/* ------------------------------------------------------------------ addresses and routes */

static size_t addr_len(const struct nl_addr *a)
{
    return a->family == AF_INET ? 4 : 16;
}

int nl_addr_add(int fd, const char *name, const struct nl_addr *addr, unsigned prefix, const struct nl_addr *peer)
{
    struct nlreq q;
    struct ifaddrmsg *ifa;
    size_t alen = addr_len(addr);
    int idx = link_index(name);
    if (idx < 0)
        return -1;
    ifa = req_init(&q, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
    ifa->ifa_family = (unsigned char)addr->family;
    ifa->ifa_prefixlen = (unsigned char)prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)idx;
    (void)attr_put(&q, IFA_LOCAL, addr->bytes, alen); /* checked through q.overflow */
    (void)attr_put(&q, IFA_ADDRESS, (peer ? peer : addr)->bytes, alen);
    if (peer == NULL && addr->family == AF_INET && prefix < 31) {
        /* The broadcast address of the subnet, as `ip addr add … brd +` and libvirt set it. */
        uint32_t a, mask = prefix ? ~(uint32_t)0 << (32 - prefix) : 0;
        memcpy(&a, addr->bytes, 4);
        a = htonl(ntohl(a) | ~mask);
        (void)attr_put(&q, IFA_BROADCAST, &a, 4);
    }
    return nl_talk(fd, &q, NULL, NULL);
}

int nl_route_add(int fd, const char *name, const struct nl_addr *dst, unsigned prefix, const struct nl_addr *gw,
                 uint32_t metric)
{
    struct nlreq q;
    struct rtmsg *rt;
    int idx = link_index(name);
    if (idx < 0)
        return -1;
    rt = req_init(&q, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(*rt));
    rt->rtm_family = (unsigned char)dst->family;
    rt->rtm_dst_len = (unsigned char)prefix;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_BOOT;
    rt->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK; /* as ip-route(8) does */
    rt->rtm_type = RTN_UNICAST;
    (void)attr_put(&q, RTA_DST, dst->bytes, addr_len(dst)); /* checked through q.overflow */
    if (gw != NULL)
        (void)attr_put(&q, RTA_GATEWAY, gw->bytes, addr_len(gw));
    attr_u32(&q, RTA_OIF, (uint32_t)idx);
    if (metric != 0)
        attr_u32(&q, RTA_PRIORITY, metric);
    return nl_talk(fd, &q, NULL, NULL);
}

/* ------------------------------------------------------------------ plan records */

static const struct {
    const char *name;
    uint32_t mode;
} macvlan_modes[] = {
    {"vepa", MACVLAN_MODE_VEPA},
    {"private", MACVLAN_MODE_PRIVATE},
    {"bridge", MACVLAN_MODE_BRIDGE},
    {"passthru", MACVLAN_MODE_PASSTHRU},
};

static const char *const net_keywords[] = {
    "veth", "macvlan", "link-mac", "link-mtu", "link-master", "link-up", "host-addr", "host-route", "link-netns",
    "link-del", "link-rename", "link-set", "addr-add", "route-add", "link-remove",
};

bool net_is_record(const char *kw)
{
    for (size_t i = 0; i < ARRAY_LEN(net_keywords); i++)
        if (!strcmp(net_keywords[i], kw))
            return true;
    return false;
}

bool net_ifname_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    for (const char *c = name; *c; c++)
        if (*c == '/' || *c == ':' || isspace((unsigned char)*c))
            return false;
    return true;
}

static int macvlan_mode(const char *s, uint32_t *mode)
{
    for (size_t i = 0; i < ARRAY_LEN(macvlan_modes); i++) {
        if (!strcmp(macvlan_modes[i].name, s)) {
            *mode = macvlan_modes[i].mode;
            return 0;
        }
    }
    return -1;
}

static int hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "52:54:00:12:34:56" */
static int parse_mac(const char *s, unsigned char mac[6])
{
    for (int i = 0; i < 6; i++, s += 3) {
        int hi = hexdigit(s[0]), lo = hi < 0 ? -1 : hexdigit(s[1]);
        if (lo < 0 || s[2] != (i == 5 ? '\0' : ':'))
            return -1;
        mac[i] = (unsigned char)(hi * 16 + lo);
    }
    return 0;
}

/* FAMILY AF_UNSPEC: either. */
static int parse_addr(const char *s, int family, struct nl_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (family != AF_INET6 && inet_pton(AF_INET, s, out->bytes) == 1)
        out->family = AF_INET;
    else if (family != AF_INET && inet_pton(AF_INET6, s, out->bytes) == 1)
        out->family = AF_INET6;
    else
        return -1;
    return 0;
}

/* "ipv4" / "ipv6" (libvirt's spelling of <route family=…>); 0 for anything else. */
static int parse_family(const char *s)
{
    return !strcmp(s, "ipv4") ? AF_INET : !strcmp(s, "ipv6") ? AF_INET6 : 0;
}

static int parse_prefix(const char *s, int family, unsigned *out)
{
    unsigned long v;
    if (parse_ulong(s, 10, family == AF_INET ? 32 : 128, &v) != 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
    unsigned long v;
    if (parse_ulong(s, 10, 0xffffffffUL, &v) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* An address with its prefix and optional peer: host-addr / addr-add IFNAME ADDRESS PREFIX [PEER]. */
struct addr_spec {
    struct nl_addr addr, peer;
    unsigned prefix;
    bool has_peer;
};

static const char *parse_addr_spec(char *const *a, int argc, struct addr_spec *s)
{
    if (parse_addr(a[1], AF_UNSPEC, &s->addr) != 0)
        return "bad address";
    if (parse_prefix(a[2], s->addr.family, &s->prefix) != 0)
        return "bad prefix length";
    s->has_peer = argc > 3 && a[3][0] != '\0';
    if (s->has_peer && parse_addr(a[3], s->addr.family, &s->peer) != 0)
        return "bad peer address";
    return NULL;
}

/* host-route / route-add IFNAME FAMILY DEST PREFIX GATEWAY METRIC. */
struct route_spec {
    struct nl_addr dst, gw;
    unsigned prefix;
    bool has_gw;
    uint32_t metric;
};

static const char *parse_route_spec(char *const *a, struct route_spec *s)
{
    int family = parse_family(a[1]);
    if (family == 0)
        return "family must be ipv4 or ipv6";
    if (parse_addr(a[2], family, &s->dst) != 0)
        return "bad destination";
    if (parse_prefix(a[3], family, &s->prefix) != 0)
        return "bad prefix length";
    s->has_gw = a[4][0] != '\0';
    if (s->has_gw && parse_addr(a[4], family, &s->gw) != 0)
        return "bad gateway";
    if (parse_u32(a[5], &s->metric) != 0)
        return "bad metric";
    return NULL;
}

const char *net_check(const struct record *r)
{
    char *const *a = r->argv;
    const char *kw = r->kw;
    unsigned char mac[6];
    uint32_t u;
    struct addr_spec as;
    struct route_spec rs;

    if (!net_ifname_ok(a[0]))
        return "bad interface name";
    if (!strcmp(kw, "veth") || !strcmp(kw, "macvlan") || !strcmp(kw, "link-master") || !strcmp(kw, "link-rename")) {
        if (!net_ifname_ok(a[1]))
            return "bad interface name";
        if (!strcmp(a[0], a[1]))
            return "the two interface names are the same";
    }
    if (!strcmp(kw, "macvlan") && macvlan_mode(a[2], &u) != 0)
        return "mode must be vepa, private, bridge or passthru";
    if (!strcmp(kw, "link-mac") && parse_mac(a[1], mac) != 0)
        return "bad MAC address (expected xx:xx:xx:xx:xx:xx)";
    if (!strcmp(kw, "link-mtu") && (parse_u32(a[1], &u) != 0 || u == 0))
        return "bad MTU";
    if (!strcmp(kw, "link-set") && strcmp(a[1], "up") && strcmp(a[1], "down"))
        return "state must be up or down";
    if (!strcmp(kw, "host-addr") || !strcmp(kw, "addr-add"))
        return parse_addr_spec(a, r->argc, &as);
    if (!strcmp(kw, "host-route") || !strcmp(kw, "route-add"))
        return parse_route_spec(a, &rs);
    return NULL;
}

static int apply_addr(int fd, const struct record *r, struct err *e)
{
    struct addr_spec s;
    char *const *a = r->argv;
    const char *why = parse_addr_spec(a, r->argc, &s);
    if (why != NULL)
        return fail(e, r->kw, EINVAL, "%s '%s'", why, a[1]);
    if (nl_addr_add(fd, a[0], &s.addr, s.prefix, s.has_peer ? &s.peer : NULL) != 0)
        return fail(e, r->kw, errno, "cannot add address %s/%s%s%s to '%s'", a[1], a[2], s.has_peer ? " peer " : "",
                    s.has_peer ? a[3] : "", a[0]);
    return 0;
}

static int apply_route(int fd, const struct record *r, struct err *e)
{
    struct route_spec s;
    char *const *a = r->argv;
    const char *why = parse_route_spec(a, &s);
    if (why != NULL)
        return fail(e, r->kw, EINVAL, "%s in route via '%s'", why, a[0]);
    if (nl_route_add(fd, a[0], &s.dst, s.prefix, s.has_gw ? &s.gw : NULL, s.metric) != 0)
        return fail(e, r->kw, errno, "cannot add route to %s/%s%s%s via '%s'", a[2], a[3], s.has_gw ? " gateway " : "",
                    a[4], a[0]);
    return 0;
}

static int apply_create(int fd, const struct record *r, struct err *e)
{
    char *const *a = r->argv;
    uint32_t mode;
    if (!strcmp(r->kw, "veth")) {
        if (nl_veth_add(fd, a[0], a[1]) != 0)
            return fail(e, r->kw, errno, "cannot create veth pair '%s' / '%s'", a[0], a[1]);
        return 0;
    }
    if (macvlan_mode(a[2], &mode) != 0)
        return fail(e, r->kw, EINVAL, "bad macvlan mode '%s'", a[2]);
    if (nl_macvlan_add(fd, a[0], a[1], mode) != 0)
        return fail(e, r->kw, errno, "cannot create macvlan '%s' on '%s' (mode %s)", a[0], a[1], a[2]);
    return 0;
}

static int apply_link(int fd, const struct record *r, struct err *e)
{
    char *const *a = r->argv;
    const char *kw = r->kw;
    unsigned char mac[6];
    uint32_t mtu;

    if (!strcmp(kw, "link-mac")) {
        if (parse_mac(a[1], mac) != 0)
            return fail(e, kw, EINVAL, "bad MAC address '%s'", a[1]);
        if (nl_link_set_mac(fd, a[0], mac, sizeof(mac)) != 0)
            return fail(e, kw, errno, "cannot set the MAC address of '%s' to %s", a[0], a[1]);
    } else if (!strcmp(kw, "link-mtu")) {
        if (parse_u32(a[1], &mtu) != 0)
            return fail(e, kw, EINVAL, "bad MTU '%s'", a[1]);
        if (nl_link_set_mtu(fd, a[0], mtu) != 0)
            return fail(e, kw, errno, "cannot set the MTU of '%s' to %s", a[0], a[1]);
    } else if (!strcmp(kw, "link-master")) {
        if (nl_link_set_master(fd, a[0], a[1]) != 0)
            return fail(e, kw, errno, "cannot attach '%s' to bridge '%s'", a[0], a[1]);
    } else if (!strcmp(kw, "link-up") || !strcmp(kw, "link-set")) {
        bool up = !strcmp(kw, "link-up") || !strcmp(a[1], "up");
        if (nl_link_set_up(fd, a[0], up) != 0)
            return fail(e, kw, errno, "cannot set '%s' %s", a[0], up ? "up" : "down");
    } else if (!strcmp(kw, "link-rename")) {
        if (nl_link_rename(fd, a[0], a[1]) != 0)
            return fail(e, kw, errno, "cannot rename '%s' to '%s'", a[0], a[1]);
    } else if (!strcmp(kw, "link-del") || !strcmp(kw, "link-remove")) {
        if (nl_link_delete(fd, a[0]) != 0 && errno != ENODEV) /* already gone is fine */
            return fail(e, kw, errno, "cannot delete '%s'", a[0]);
    } else {
        return fail(e, kw, EINVAL, "not a network record");
    }
    return 0;
}

int net_apply(const struct record *r, struct err *e)
{
    int fd = nl_open(), rc;
    if (fd < 0)
        return fail(e, r->kw, errno, "cannot open a netlink socket");
    if (!strcmp(r->kw, "veth") || !strcmp(r->kw, "macvlan"))
        rc = apply_create(fd, r, e);
    else if (!strcmp(r->kw, "host-addr") || !strcmp(r->kw, "addr-add"))
        rc = apply_addr(fd, r, e);
    else if (!strcmp(r->kw, "host-route") || !strcmp(r->kw, "route-add"))
        rc = apply_route(fd, r, e);
    else
        rc = apply_link(fd, r, e);
    close(fd);
    return rc;
}

int net_move(const struct record *r, pid_t pid, struct err *e)
{
    int fd = nl_open(), rc = 0;
    if (fd < 0)
        return fail(e, r->kw, errno, "cannot open a netlink socket");
    if (nl_link_move_pid(fd, r->argv[0], pid) != 0)
        rc = fail(e, r->kw, errno, "cannot move '%s' into the container's network namespace", r->argv[0]);
    close(fd);
    return rc;
}
