/*
 * net-apply (docs/plan-format.md, "Control protocol"): a network change to
 * a running container, and the list of host links such changes made that the
 * supervisor deletes when it exits.
 */
#ifndef NSVIRT_NETCHANGE_H
#define NSVIRT_NETCHANGE_H

#include "sup.h"

/* A host link made by net-apply: deleted at exit if NAME still has INDEX. */
struct net_link {
    char *name;
    unsigned index;
};

struct net_links {
    struct net_link *links;
    size_t n, cap;
};

/*
 * Apply the network change P (plan_load_kind PLAN_NETWORK) to the container
 * whose init is INIT_PID (USERNS: init has a user namespace of its own). On
 * success the host links it made that stayed in the supervisor's namespace
 * are added to KEPT; on failure every link it made is deleted again.
 */
int net_change_apply(const struct plan *p, pid_t init_pid, bool userns, struct net_links *kept, struct err *e);

int net_links_add(struct net_links *l, const char *name, unsigned index);
/* Drop NAME from the list (it was deleted on request). */
void net_links_forget(struct net_links *l, const char *name);
bool net_links_contains(const struct net_links *l, const char *name);
/* Empty the list (the links stay). */
void net_links_clear(struct net_links *l);
/* Delete every listed link that still exists as made, and empty the list. */
void net_links_delete_all(struct net_links *l);

#endif
