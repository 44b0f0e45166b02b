/*
 * Raw rtnetlink (NETLINK_ROUTE): create, configure, move and delete links,
 * add addresses and routes. Mechanism only: names, addresses and modes come
 * from the plan. Link names are resolved in the calling process's network
 * namespace.
 *
 * The nl_* functions return 0 (or a count), or -1 with errno set; an error
 * the kernel answers (struct nlmsgerr) becomes errno.
 */
#ifndef NSVIRT_NETLINK_H
#define NSVIRT_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct record;
struct err;

/* An IPv4 or IPv6 address. */
struct nl_addr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char bytes[16];
};

/* NETLINK_ROUTE socket of the current network namespace, close-on-exec. */
int nl_open(void);
/* The same, in the network namespace NSFD (the caller's own is kept). */
int nl_open_in(int nsfd);

int nl_veth_add(int fd, const char *name, const char *peer);
int nl_macvlan_add(int fd, const char *name, const char *lower, uint32_t mode);
int nl_link_set_mac(int fd, const char *name, const unsigned char *mac, size_t len);
int nl_link_set_mtu(int fd, const char *name, uint32_t mtu);
int nl_link_set_master(int fd, const char *name, const char *master);
int nl_link_set_up(int fd, const char *name, bool up);
int nl_link_rename(int fd, const char *name, const char *newname);
/* Move a link into the network namespace of process PID. */
int nl_link_move_pid(int fd, const char *name, pid_t pid);
int nl_link_delete(int fd, const char *name);
int nl_link_delete_index(int fd, int idx);
/* Index of link NAME in the namespace of socket FD (RTM_GETLINK; ENODEV when there is none). */
int nl_link_index(int fd, const char *name);
int nl_addr_add(int fd, const char *name, const struct nl_addr *addr, unsigned prefix, const struct nl_addr *peer);
int nl_route_add(int fd, const char *name, const struct nl_addr *dst, unsigned prefix, const struct nl_addr *gw,
                 uint32_t metric);
/*
 * Empty the namespace of socket FD: delete every link but loopback; links
 * that cannot be deleted (physical devices) are moved into the network
 * namespace HOMEFD instead. Returns the number of links left behind.
 */
int nl_flush_links(int fd, int homefd);

/* ---- plan records (docs/plan-format.md, "Network records") ---- */

/* Whether KW is a network record applied by net_apply (host or child side). */
bool net_is_record(const char *kw);
/* Problem with a network record's fields, or NULL when it is valid. */
const char *net_check(const struct record *r);
/* A valid interface name (what the kernel accepts). */
bool net_ifname_ok(const char *name);
/* Apply one network record (any but link-netns) in the current namespace; link-del/link-remove of a missing link succeed. */
int net_apply(const struct record *r, struct err *e);
/* link-netns: move the record's link into process PID's network namespace. */
int net_move(const struct record *r, pid_t pid, struct err *e);

#endif
