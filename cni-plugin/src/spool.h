/*
 * The DEL spool: while the agent is down, a DEL is written to disk as the
 * exact HTTP request that would have been sent, and the agent replays the
 * spool when it starts. The runtime can then tear pods down during an agent
 * restart; DEL is idempotent, so a replay that finds nothing left is harmless.
 */
#ifndef FERRY_CNI_SPOOL_H
#define FERRY_CNI_SPOOL_H

#include <stddef.h>

/*
 * Writes data to <dir>/del-<container_id>-<ifname>.req atomically (a temporary
 * file in the same directory, fsync, rename, fsync of the directory), creating
 * dir with mode 0700 when missing. Characters outside [A-Za-z0-9._-] in the
 * id and interface name become '_'. Returns 0 with the file's path in path, or
 * -1 with the reason in err; no temporary file is left behind either way.
 */
int spool_request(const char *dir, const char *container_id, const char *ifname, const char *data,
                  size_t len, char *path, size_t path_cap, char *err, size_t errlen);

#endif
