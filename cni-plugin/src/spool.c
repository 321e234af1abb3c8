#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copies src into dst, replacing anything outside [A-Za-z0-9._-]; false when it does not fit. */
static bool sanitize(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        dst[i] = ok ? c : '_';
    }
    dst[n] = '\0';
    return true;
}

/* mkdir -p with the given mode for every directory it creates. */
static int make_dirs(const char *dir, mode_t mode)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, mode);
        *p = '/';
        if (r < 0 && errno != EEXIST)
            return -1;
    }
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}

static int spool_write(const char *dir, const char *name, const char *data, size_t len, char *path,
                        size_t path_cap, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (snprintf(path, path_cap, "%s/%s", dir, name) >= (int)path_cap ||
        snprintf(tmp, sizeof tmp, "%s/.tmp-del.XXXXXX", dir) >= (int)sizeof tmp) {
        snprintf(err, errlen, "failed to spool to '%s': path too long", dir);
        return -1;
    }
    if (make_dirs(dir, 0700) < 0) {
        snprintf(err, errlen, "failed to create spool directory '%s': %s", dir, strerror(errno));
        return -1;
    }
    int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
    if (fd < 0) {
        snprintf(err, errlen, "failed to create a temporary file in '%s': %s", dir, strerror(errno));
        return -1;
    }
    const char *step = "write";
    if (write_all(fd, data, len) < 0 || (step = "fsync", fsync(fd) < 0)) {
        snprintf(err, errlen, "failed to %s '%s': %s", step, tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) < 0) {
        snprintf(err, errlen, "failed to close '%s': %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "failed to rename '%s' to '%s': %s", tmp, path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (fsync_dir(dir) < 0) {
        /* The file is in place under its final name; only its durability is in doubt. */
        snprintf(err, errlen, "failed to fsync spool directory '%s': %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int spool_request(const char *dir, const char *container_id, const char *ifname, const char *data,
                  size_t len, char *path, size_t path_cap, char *err, size_t errlen)
{
    char id[NAME_MAX], ifn[NAME_MAX], name[NAME_MAX + 1];
    if (!sanitize(id, sizeof id, container_id) || !sanitize(ifn, sizeof ifn, ifname) ||
        snprintf(name, sizeof name, "del-%s-%s.req", id, ifn) >= (int)sizeof name) {
        snprintf(err, errlen, "failed to spool to '%s': container id and interface name make a file name longer than %d bytes",
                 dir, NAME_MAX);
        return -1;
    }
    /* Signals that usually end a process wait until the temporary file is renamed or removed. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGQUIT);
    sigprocmask(SIG_BLOCK, &block, &old);
    int r = spool_write(dir, name, data, len, path, path_cap, err, errlen);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return r;
}
