/* Host-side resources: files, cgroups, ptys, loop devices, links. */
#include "sup.h"
#include "netlink.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One write(2) call: cgroup files and uid_map/gid_map need the value in one go. */
int write_file(const char *path, const char *data, size_t len, struct err *e, const char *step)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    ssize_t n;
    if (fd < 0)
        return fail(e, step, errno, "cannot open '%s'", path);
    do
        n = write(fd, data, len);
    while (n < 0 && errno == EINTR);
    if (n < 0 || (size_t)n != len) {
        int err = n < 0 ? errno : EIO;
        close(fd);
        return fail(e, step, err, "cannot write '%.*s' to '%s'", (int)(len > 200 ? 200 : len), data, path);
    }
    if (close(fd) != 0)
        return fail(e, step, errno, "cannot write '%s'", path);
    return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, mode) != 0) {
                struct stat st;
                if (errno != EEXIST)
                    return -1;
                if (stat(buf, &st) != 0)
                    return -1;
                if (!S_ISDIR(st.st_mode)) {
                    errno = ENOTDIR;
                    return -1;
                }
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return 0;
}

int open_pty(int *master, int *slave, char *path, size_t pathsz)
{
    struct termios t;
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), s = -1;
    if (m < 0)
        return -1;
    if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, path, pathsz) != 0)
        goto fail;
    s = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0)
        goto fail;
    /* Raw line discipline like libvirt's virFileOpenTty(rawmode): bytes pass unchanged. */
    if (tcgetattr(s, &t) != 0)
        goto fail;
    cfmakeraw(&t);
    if (tcsetattr(s, TCSANOW, &t) != 0)
        goto fail;
    if (fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK) != 0)
        goto fail;
    *master = m;
    *slave = s;
    return 0;
fail: {
    int err = errno;
    if (s >= 0)
        close(s);
    close(m);
    errno = err;
    return -1;
}
}

int loop_attach(const char *file, bool rdonly, int *num, struct err *e, const char *step)
{
    int ctl = -1, ffd = -1, lfd = -1, n = -1;
    char dev[64];

    ffd = open(file, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (ffd < 0)
        return fail(e, step, errno, "cannot open '%s'", file);
    ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0) {
        fail(e, step, errno, "cannot open '/dev/loop-control'");
        goto out;
    }
    for (int attempt = 0; attempt < 20; attempt++) {
        struct loop_config cfg;
        n = ioctl(ctl, LOOP_CTL_GET_FREE);
        if (n < 0) {
            fail(e, step, errno, "cannot get a free loop device");
            goto out;
        }
        snprintf(dev, sizeof(dev), "/dev/loop%d", n);
        lfd = open(dev, O_RDWR | O_CLOEXEC);
        if (lfd < 0) {
            fail(e, step, errno, "cannot open '%s'", dev);
            goto out;
        }
        memset(&cfg, 0, sizeof(cfg));
        cfg.fd = (unsigned)ffd;
        cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (rdonly ? LO_FLAGS_READ_ONLY : 0);
        snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", file);
        if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
            *num = n;
            goto out;
        }
        int err = errno;
        close(lfd);
        lfd = -1;
        if (err != EBUSY) {
            fail(e, step, err, "cannot attach '%s' to '%s'", file, dev);
            goto out;
        }
    }
    fail(e, step, EBUSY, "no free loop device for '%s'", file);
out:
    if (ctl >= 0)
        close(ctl);
    close(ffd);
    return lfd;
}

void loop_detach(int fd)
{
    if (fd < 0)
        return;
    /* ENXIO: already cleared. With AUTOCLEAR a mounted device detaches when unmounted. */
    (void)ioctl(fd, LOOP_CLR_FD, 0);
    close(fd);
}

static int cgroup_walk(const char *dir, bool kill_tasks)
{
    char path[PATH_MAX];
    int count = 0;
    FILE *f;
    DIR *d;

    if (snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= (int)sizeof(path))
        return 0;
    f = fopen(path, "re");
    if (f != NULL) {
        long pid;
        while (fscanf(f, "%ld", &pid) == 1) {
            count++;
            if (kill_tasks && pid > 0 && pid != (long)getpid())
                (void)kill((pid_t)pid, SIGKILL);
        }
        fclose(f);
    }
    d = opendir(dir);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path))
                count += cgroup_walk(path, kill_tasks);
        }
        closedir(d);
    }
    if (kill_tasks) {
        /* Frozen tasks only die once thawed. */
        struct err ignored;
        snprintf(path, sizeof(path), "%s/freezer.state", dir);
        if (access(path, W_OK) == 0)
            (void)write_file(path, "THAWED", 6, &ignored, "thaw");
        snprintf(path, sizeof(path), "%s/cgroup.freeze", dir);
        if (access(path, W_OK) == 0)
            (void)write_file(path, "0", 1, &ignored, "thaw");
    }
    return count;
}

int cgroup_kill(const char *dir)
{
    return cgroup_walk(dir, true);
}

int cgroup_remove(const char *dir)
{
    char path[PATH_MAX];
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path) && cgroup_remove(path) != 0)
            rc = -1;
    }
    closedir(d);
    if (rmdir(dir) != 0 && errno != ENOENT)
        rc = -1;
    return rc;
}

int link_delete(const char *ifname)
{
    int fd = nl_open(), rc, err;
    if (fd < 0)
        return -1;
    rc = nl_link_delete(fd, ifname);
    err = errno;
    close(fd);
    if (rc != 0 && err == ENODEV)
        return 0; /* already gone (e.g. veth died with its peer's namespace) */
    errno = err;
    return rc;
}

void fd_device_path(int fd, const char *hostpath, char *out, size_t outsz)
{
    struct stat a, b;
    if (hostpath[0] && stat(hostpath, &a) == 0 && fstat(fd, &b) == 0 && a.st_rdev == b.st_rdev &&
        (a.st_mode & S_IFMT) == (b.st_mode & S_IFMT)) {
        snprintf(out, outsz, "%s", hostpath);
        return;
    }
    snprintf(out, outsz, "/proc/self/fd/%d", fd);
}
