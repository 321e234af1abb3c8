/*
 * ferry-cni: Ferry's CNI plugin. The container runtime execs it on the host
 * for every pod sandbox and command.
 *
 * It only forwards. VERSION is answered here. ADD, DEL, CHECK, STATUS and GC
 * become one HTTP/1.1 request to the Ferry agent over its unix socket:
 * POST /v1/cni, the CNI_* environment as CNI-* headers, and the network
 * configuration from stdin as the body, byte for byte. The agent's answer is
 * printed as it came: its result (exit 0) or its CNI error object (exit 1).
 * All CNI semantics (validation, IPAM, netlink, BPF maps) live in the agent;
 * of the configuration this program reads only cniVersion, agentSocket and
 * spoolDir. When the agent cannot be reached, ADD, CHECK, STATUS and GC fail
 * with code 11 ("try again later"), while DEL is spooled to disk for the agent
 * to replay when it starts, so that pods can be torn down during an agent
 * restart.
 *
 * Why C and not Java like the rest of Ferry: it runs on every node's host,
 * where no JVM may exist, once per pod and command, and a JVM start alone
 * costs more than a whole reference ptp ADD. A static binary that needs only
 * the kernel has nothing to install beside it and starts in about a
 * millisecond.
 *
 * Files: ferry-cni.c (environment, configuration, dispatch, output), json.c
 * (a minimal JSON scanner), http.c (the exchange with the agent), spool.c
 * (the DEL spool), buf.c (a growable buffer).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "json.h"
#include "spool.h"

#define MAX_CONFIG_BYTES (1024 * 1024)
#define DEFAULT_AGENT_SOCKET "/run/ferry/ferry.sock"
#define DEFAULT_SPOOL_DIR "/var/lib/ferry/cni-spool"
#define DEFAULT_TIMEOUT_SECONDS 300
#define CONNECT_TIMEOUT_SECONDS 5
#define DEFAULT_CNI_VERSION "1.1.0"
#define SUPPORTED_VERSIONS "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]"

/* The CNI error codes of the plugin's own errors; the agent's pass through untouched. */
enum {
    CNI_ERR_INVALID_ENV = 4,
    CNI_ERR_IO = 5,
    CNI_ERR_DECODE = 6,
    CNI_ERR_INVALID_CONFIG = 7,
    CNI_ERR_TRY_AGAIN_LATER = 11,
    CNI_ERR_FERRY = 999, /* no usable answer from the agent, or ferry-cni itself failed */
};

/* The variables a command requires: as pkg/skel for ADD, CHECK and DEL; as SPEC 1.1.0 for the others. */
enum { NEED_CONTAINERID = 1, NEED_NETNS = 2, NEED_IFNAME = 4, NEED_PATH = 8 };

struct command {
    const char *name;
    unsigned need;
};

static const struct command commands[] = {
    {"ADD", NEED_CONTAINERID | NEED_NETNS | NEED_IFNAME | NEED_PATH},
    {"CHECK", NEED_CONTAINERID | NEED_NETNS | NEED_IFNAME | NEED_PATH},
    {"DEL", NEED_CONTAINERID | NEED_IFNAME | NEED_PATH},
    {"STATUS", 0},
    {"GC", NEED_PATH},
    {"VERSION", 0},
};

/* The CNI environment, in the order its headers are sent. */
enum { VAR_COMMAND, VAR_CONTAINERID, VAR_NETNS, VAR_IFNAME, VAR_ARGS, VAR_PATH, VAR_COUNT };

static const struct {
    const char *env;
    const char *header;
    unsigned need;
} vars[VAR_COUNT] = {
    {"CNI_COMMAND", "CNI-Command", 0},
    {"CNI_CONTAINERID", "CNI-ContainerID", NEED_CONTAINERID},
    {"CNI_NETNS", "CNI-Netns", NEED_NETNS},
    {"CNI_IFNAME", "CNI-IfName", NEED_IFNAME},
    {"CNI_ARGS", "CNI-Args", 0},
    {"CNI_PATH", "CNI-Path", NEED_PATH},
};

/* The cniVersion of every error the plugin prints: the configuration's once it is known. */
static char cni_version[64] = DEFAULT_CNI_VERSION;

static void write_stdout(const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "ferry-cni: failed to write to stdout: %s\n", strerror(errno));
            exit(1);
        }
        p += n;
        len -= (size_t)n;
    }
}

/* Prints a CNI error object on stdout and exits 1. */
__attribute__((format(printf, 3, 4))) _Noreturn static void cni_fail(int code, const char *msg,
                                                                      const char *details_fmt, ...)
{
    char details[4096];
    va_list ap;
    va_start(ap, details_fmt);
    vsnprintf(details, sizeof details, details_fmt, ap);
    va_end(ap);

    struct buf out = {0};
    buf_adds(&out, "{\"cniVersion\":");
    json_add_string(&out, cni_version, strlen(cni_version));
    buf_addf(&out, ",\"code\":%d,\"msg\":", code);
    json_add_string(&out, msg, strlen(msg));
    if (details[0]) {
        buf_adds(&out, ",\"details\":");
        json_add_string(&out, details, strlen(details));
    }
    buf_adds(&out, "}\n");
    write_stdout(out.data, out.len);
    exit(1);
}

_Noreturn void out_of_memory(void)
{
    static const char msg[] = "{\"cniVersion\":\"" DEFAULT_CNI_VERSION "\",\"code\":999,\"msg\":\"ferry-cni ran out of memory\"}\n";
    write_stdout(msg, sizeof msg - 1);
    exit(1);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FERRY_CNI_TIMEOUT_SECONDS bounds the whole exchange with the agent; a bad value is reported later. */
static long read_timeout(char *err, size_t errlen)
{
    const char *v = getenv("FERRY_CNI_TIMEOUT_SECONDS");
    if (!v || !*v)
        return DEFAULT_TIMEOUT_SECONDS;
    char *end;
    errno = 0;
    long seconds = strtol(v, &end, 10);
    if (errno || *end || seconds < 1 || seconds > 86400) {
        snprintf(err, errlen, "FERRY_CNI_TIMEOUT_SECONDS must be a whole number of seconds from 1 to 86400, not '%s'", v);
        return DEFAULT_TIMEOUT_SECONDS;
    }
    return seconds;
}

/* Reads all of stdin, at most MAX_CONFIG_BYTES, within timeout_s. */
static void read_config(struct buf *conf, long timeout_s)
{
    long deadline = now_ms() + timeout_s * 1000;
    for (;;) {
        buf_reserve(conf, 65536);
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        long left = deadline - now_ms();
        int ready = left > 0 ? poll(&pfd, 1, left > 60000 ? 60000 : (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            cni_fail(CNI_ERR_IO, "failed to read the network configuration", "failed to poll stdin: %s",
                     strerror(errno));
        if (ready == 0) {
            if (now_ms() < deadline)
                continue;
            cni_fail(CNI_ERR_IO, "failed to read the network configuration",
                     "stdin was not closed within %ld s", timeout_s);
        }
        ssize_t n = read(STDIN_FILENO, conf->data + conf->len, 65536);
        if (n == 0)
            return;
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            cni_fail(CNI_ERR_IO, "failed to read the network configuration", "failed to read stdin: %s",
                     strerror(errno));
        conf->len += (size_t)n;
        conf->data[conf->len] = '\0';
        if (conf->len > MAX_CONFIG_BYTES)
            cni_fail(CNI_ERR_IO, "failed to read the network configuration",
                     "the configuration on stdin is larger than %d bytes", MAX_CONFIG_BYTES);
    }
}

/*
 * A string member of the configuration into out, or fallback when it is absent
 * or empty. Returns -1 with the reason in err when it is not a usable string.
 */
static int string_field(const struct json_field *f, char *out, size_t cap, const char *fallback, char *err,
                        size_t errlen)
{
    char value[PATH_MAX];
    if (f->type == JSON_ABSENT) {
        snprintf(out, cap, "%s", fallback);
        return 0;
    }
    if (f->type != JSON_STRING) {
        snprintf(err, errlen, "'%s' must be a string", f->name);
        return -1;
    }
    long n = json_decode_string(f->raw, f->raw_len, value, sizeof value);
    if (n < 0 || (size_t)n >= cap) {
        snprintf(err, errlen, "'%s' is too long or contains \\u0000", f->name);
        return -1;
    }
    snprintf(out, cap, "%s", n ? value : fallback);
    return 0;
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static bool is_blank(const struct buf *b)
{
    for (size_t i = 0; i < b->len; i++)
        if (!strchr(" \t\r\n", b->data[i]) || b->data[i] == '\0')
            return false;
    return true;
}

/* HTTP field values may hold tabs but no other control character; CR and LF would split the header. */
static bool has_control_char(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return true;
    }
    return false;
}

static void check_environment(const struct command *cmd, const char *const env[VAR_COUNT])
{
    struct buf missing = {0}, required = {0};
    for (int i = 0; i < VAR_COUNT; i++) {
        if (!(vars[i].need & cmd->need))
            continue;
        buf_addf(&required, "%s%s", required.len ? ", " : "", vars[i].env);
        if (!env[i])
            buf_addf(&missing, "%s%s", missing.len ? "," : "", vars[i].env);
    }
    if (missing.len) {
        char msg[256];
        snprintf(msg, sizeof msg, "required env variables [%s] missing", missing.data);
        cni_fail(CNI_ERR_INVALID_ENV, msg, "CNI_COMMAND=%s requires %s", cmd->name, required.data);
    }
    for (int i = 0; i < VAR_COUNT; i++) {
        if (env[i] && has_control_char(env[i])) {
            char msg[64];
            snprintf(msg, sizeof msg, "invalid env variable %s", vars[i].env);
            cni_fail(CNI_ERR_INVALID_ENV, msg,
                     "its value contains a CR, LF or other control character, which cannot be forwarded "
                     "to the agent in an HTTP header");
        }
    }
    buf_free(&missing);
    buf_free(&required);
}

/* The request forwarded to the agent, and the exact bytes of a spooled DEL. */
static void build_request(struct buf *req, const char *const env[VAR_COUNT], const struct buf *conf)
{
    buf_adds(req, "POST /v1/cni HTTP/1.1\r\nHost: ferry\r\n");
    for (int i = 0; i < VAR_COUNT; i++)
        if (env[i])
            buf_addf(req, "%s: %s\r\n", vars[i].header, env[i]);
    buf_addf(req, "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", conf->len);
    buf_add(req, conf->data, conf->len);
}

/* Prints the agent's answer: a 2xx body as the result, a CNI error object as the error. */
static int print_answer(const struct http_response *resp, const char *agent_socket)
{
    if (resp->status >= 200 && resp->status < 300) {
        write_stdout(resp->body, resp->body_len);
        return 0;
    }
    struct json_field code = {.name = "code"};
    char why[256];
    if (json_scan_object(resp->body, resp->body_len, &code, 1, why, sizeof why) == 0 && code.type == JSON_NUMBER) {
        write_stdout(resp->body, resp->body_len);
        return 1;
    }
    int shown = (int)(resp->body_len < 200 ? resp->body_len : 200);
    cni_fail(CNI_ERR_FERRY, "invalid response from the ferry agent",
             "'%s' answered HTTP %d %.*s without a CNI error object in the body: '%.*s'", agent_socket,
             resp->status, (int)resp->reason_len, resp->reason, shown, resp->body);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);

    const char *env[VAR_COUNT];
    for (int i = 0; i < VAR_COUNT; i++) {
        const char *v = getenv(vars[i].env);
        env[i] = v && *v ? v : NULL; /* empty counts as unset, as in pkg/skel */
    }
    char timeout_err[256] = "";
    long timeout_s = read_timeout(timeout_err, sizeof timeout_err);

    struct buf conf = {0};
    read_config(&conf, timeout_s);

    struct json_field fields[] = {{.name = "cniVersion"}, {.name = "agentSocket"}, {.name = "spoolDir"}};
    char agent_socket[PATH_MAX] = DEFAULT_AGENT_SOCKET, spool_dir[PATH_MAX] = DEFAULT_SPOOL_DIR, conf_err[512] = "";
    if (json_scan_object(conf.data, conf.len, fields, 3, conf_err, sizeof conf_err) == 0) {
        char version[sizeof cni_version];
        if (string_field(&fields[0], version, sizeof version, DEFAULT_CNI_VERSION, conf_err, sizeof conf_err) == 0)
            memcpy(cni_version, version, sizeof version);
        if (!conf_err[0])
            string_field(&fields[1], agent_socket, sizeof agent_socket, DEFAULT_AGENT_SOCKET, conf_err, sizeof conf_err);
        if (!conf_err[0])
            string_field(&fields[2], spool_dir, sizeof spool_dir, DEFAULT_SPOOL_DIR, conf_err, sizeof conf_err);
    }

    if (!env[VAR_COMMAND])
        cni_fail(CNI_ERR_INVALID_ENV, "required env variables [CNI_COMMAND] missing",
                 "ferry-cni is a CNI plugin: the container runtime runs it with CNI_COMMAND set to "
                 "ADD, DEL, CHECK, STATUS, GC or VERSION");
    const struct command *cmd = find_command(env[VAR_COMMAND]);
    if (!cmd) {
        char msg[128];
        snprintf(msg, sizeof msg, "unknown CNI_COMMAND: %.100s", env[VAR_COMMAND]);
        cni_fail(CNI_ERR_INVALID_ENV, msg, "ferry-cni supports ADD, DEL, CHECK, STATUS, GC and VERSION");
    }

    if (strcmp(cmd->name, "VERSION") == 0) {
        if (conf_err[0] && !is_blank(&conf))
            cni_fail(CNI_ERR_DECODE, "failed to decode the network configuration", "%s", conf_err);
        struct buf out = {0};
        buf_adds(&out, "{\"cniVersion\":");
        json_add_string(&out, cni_version, strlen(cni_version));
        buf_adds(&out, ",\"supportedVersions\":" SUPPORTED_VERSIONS "}\n");
        write_stdout(out.data, out.len);
        return 0;
    }

    check_environment(cmd, env);
    if (timeout_err[0])
        cni_fail(CNI_ERR_INVALID_ENV, "invalid env variable FERRY_CNI_TIMEOUT_SECONDS", "%s", timeout_err);
    if (conf_err[0])
        cni_fail(CNI_ERR_DECODE, "failed to decode the network configuration", "%s", conf_err);
    if (strlen(agent_socket) >= sizeof ((struct sockaddr_un *)0)->sun_path)
        cni_fail(CNI_ERR_INVALID_CONFIG, "invalid network configuration",
                 "agentSocket '%s' is longer than a unix socket path may be (%zu bytes)", agent_socket,
                 sizeof ((struct sockaddr_un *)0)->sun_path - 1);

    struct buf req = {0}, raw = {0};
    build_request(&req, env, &conf);
    struct http_response resp;
    char err[1024];
    long total_ms = timeout_s * 1000;
    long connect_ms = total_ms < CONNECT_TIMEOUT_SECONDS * 1000 ? total_ms : CONNECT_TIMEOUT_SECONDS * 1000;
    switch (http_exchange(agent_socket, req.data, req.len, connect_ms, total_ms, &raw, &resp, err, sizeof err)) {
    case HTTP_OK:
        return print_answer(&resp, agent_socket);
    case HTTP_UNREACHABLE:
        if (strcmp(cmd->name, "DEL") == 0) {
            /* Nothing reached the agent, so it can safely replay this DEL when it starts. */
            char path[PATH_MAX], spool_err[1024];
            if (spool_request(spool_dir, env[VAR_CONTAINERID], env[VAR_IFNAME], req.data, req.len, path,
                              sizeof path, spool_err, sizeof spool_err) == 0) {
                fprintf(stderr, "ferry-cni: %s; DEL spooled to '%s' for the agent to replay\n", err, path);
                return 0;
            }
            cni_fail(CNI_ERR_TRY_AGAIN_LATER, "ferry agent is not reachable and the DEL could not be spooled",
                     "%s; %s", err, spool_err);
        }
        cni_fail(CNI_ERR_TRY_AGAIN_LATER, "ferry agent is not reachable", "%s", err);
    case HTTP_TIMEOUT:
        cni_fail(CNI_ERR_TRY_AGAIN_LATER, "ferry agent did not answer in time", "%s", err);
    case HTTP_CLOSED:
        /* The agent died or restarted mid-request. Whatever it did is undone or finished by its
           reconcile at start or by the retried command (ADD and DEL are idempotent): try again. */
        cni_fail(CNI_ERR_TRY_AGAIN_LATER, "ferry agent went away before answering", "%s", err);
    case HTTP_BAD_RESPONSE:
        break;
    }
    cni_fail(CNI_ERR_FERRY, "invalid response from the ferry agent", "%s", err);
}
