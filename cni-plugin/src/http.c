#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes; returns 1 ready, 0 timed out, -1 error. */
static int wait_for(int fd, short events, long deadline)
{
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = events};
        int r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/*
 * A blocking connect bounded by SO_SNDTIMEO: for unix sockets the kernel
 * waits on a full listen backlog for the send timeout, then fails with EAGAIN.
 */
static int connect_unix(const char *path, long timeout_ms)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* Sends everything; returns 0, 1 on timeout, -1 on error (errno set). */
static int send_all(int fd, const char *p, size_t len, long deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int r = wait_for(fd, POLLOUT, deadline);
            if (r <= 0)
                return r == 0 ? 1 : -1;
        } else {
            return -1;
        }
    }
    return 0;
}

enum http_outcome http_exchange(const char *path, const char *request, size_t request_len,
                                long connect_ms, long total_ms, struct buf *raw,
                                struct http_response *resp, char *err, size_t errlen)
{
    long deadline = now_ms() + total_ms;
    int fd = connect_unix(path, connect_ms);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EINPROGRESS)
            snprintf(err, errlen, "failed to connect to '%s': the agent did not accept the connection within %ld ms",
                     path, connect_ms);
        else
            snprintf(err, errlen, "failed to connect to '%s': %s", path, strerror(errno));
        return HTTP_UNREACHABLE;
    }

    enum http_outcome outcome;
    /* A send error is kept, not returned at once: the agent may have answered (e.g. 413) and closed. */
    int sent = send_all(fd, request, request_len, deadline);
    int send_errno = errno;
    if (sent == 1) {
        snprintf(err, errlen, "timed out sending the request to '%s' after %ld ms", path, total_ms);
        outcome = HTTP_TIMEOUT;
        goto out;
    }
    /* No shutdown(SHUT_WR) here: a server that is not half-close aware (Netty's default) would drop us. */

    bool eof = false;
    raw->len = 0;
    for (;;) {
        int parsed = http_parse_response(raw->data ? raw->data : "", raw->len, eof, resp, err, errlen);
        if (parsed > 0) {
            outcome = HTTP_OK;
            break;
        }
        if (parsed == -2) {
            /* Connected, then the connection ended before a whole answer: the agent went away mid-request. */
            if (sent < 0)
                snprintf(err, errlen, "failed to send the request to '%s': %s", path, strerror(send_errno));
            outcome = HTTP_CLOSED;
            break;
        }
        if (parsed < 0) {
            if (sent < 0)
                snprintf(err, errlen, "failed to send the request to '%s': %s", path, strerror(send_errno));
            outcome = HTTP_BAD_RESPONSE;
            break;
        }
        if (raw->len >= HTTP_MAX_RESPONSE) {
            snprintf(err, errlen, "the response from '%s' is larger than %u bytes", path, HTTP_MAX_RESPONSE);
            outcome = HTTP_BAD_RESPONSE;
            break;
        }
        int ready = wait_for(fd, POLLIN, deadline);
        if (ready < 0) {
            snprintf(err, errlen, "failed to wait for the response from '%s': %s", path, strerror(errno));
            outcome = HTTP_BAD_RESPONSE;
            break;
        }
        if (ready == 0) {
            snprintf(err, errlen, "no complete response from '%s' within %ld ms (%zu bytes received)", path,
                     total_ms, raw->len);
            outcome = HTTP_TIMEOUT;
            break;
        }
        size_t room = HTTP_MAX_RESPONSE - raw->len;
        buf_reserve(raw, room < 65536 ? room : 65536);
        ssize_t n = read(fd, raw->data + raw->len, room < 65536 ? room : 65536);
        if (n > 0) {
            raw->len += (size_t)n;
            raw->data[raw->len] = '\0';
        } else if (n == 0 || errno == ECONNRESET) {
            eof = true;
        } else if (errno != EAGAIN && errno != EINTR) {
            snprintf(err, errlen, "failed to read the response from '%s': %s", path, strerror(errno));
            outcome = HTTP_BAD_RESPONSE;
            break;
        }
    }
out:
    close(fd);
    return outcome;
}

static int parse_error(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s", what);
    return -1;
}

static bool is_status_line(const char *line, size_t len)
{
    /* HTTP/1.x SP 3DIGIT [SP reason] */
    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' || line[8] != ' ')
        return false;
    if (line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' || line[11] < '0' || line[11] > '9')
        return false;
    return len == 12 || line[12] == ' ';
}

/* Parses a Content-Length value; -1 when it is not a plain decimal within HTTP_MAX_RESPONSE. */
static long parse_length(const char *v, size_t n)
{
    long value = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        value = value * 10 + (v[i] - '0');
        if (value > (long)HTTP_MAX_RESPONSE)
            return -1;
    }
    return value;
}

int http_parse_response(const char *data, size_t len, bool eof, struct http_response *resp,
                        char *err, size_t errlen)
{
    const char *head_end = memmem(data, len, "\r\n\r\n", 4);
    if (!head_end) {
        /* Fail early on a reply that cannot become a status line, rather than waiting for more. */
        size_t n = len < 5 ? len : 5;
        if (memcmp(data, "HTTP/", n) != 0) {
            const char *nl = memchr(data, '\n', len);
            int shown = (int)(nl ? (size_t)(nl - data) : len < 80 ? len : 80);
            snprintf(err, errlen, "the agent's answer does not start with an HTTP status line: '%.*s'", shown, data);
            return -1;
        }
        if (len > HTTP_MAX_HEADER)
            return parse_error(err, errlen, "the response header is larger than 64 KiB");
        if (eof) {
            parse_error(err, errlen, len == 0 ? "the agent closed the connection without answering"
                                              : "the agent closed the connection in the middle of the response header");
            return -2;
        }
        return 0;
    }

    const char *line = data, *line_end = memmem(data, len, "\r\n", 2);
    if (!is_status_line(line, (size_t)(line_end - line))) {
        int shown = (int)(line_end - line < 80 ? line_end - line : 80);
        snprintf(err, errlen, "invalid HTTP status line from the agent: '%.*s'", shown, line);
        return -1;
    }
    resp->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    resp->reason = line_end - line > 12 ? line + 13 : line + 12;
    resp->reason_len = (size_t)(line_end - resp->reason);

    long content_length = -1;
    for (line = line_end + 2; line < head_end; line = line_end + 2) {
        line_end = memmem(line, (size_t)(head_end + 2 - line), "\r\n", 2);
        size_t n = (size_t)(line_end - line);
        const char *colon = memchr(line, ':', n);
        if (line[0] == ' ' || line[0] == '\t' || !colon || colon == line) {
            snprintf(err, errlen, "malformed header line in the agent's response: '%.*s'", (int)(n < 80 ? n : 80), line);
            return -1;
        }
        size_t name_len = (size_t)(colon - line);
        const char *v = colon + 1, *v_end = line_end;
        while (v < v_end && (*v == ' ' || *v == '\t'))
            v++;
        while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
            v_end--;
        if (name_len == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
            snprintf(err, errlen,
                     "the agent answered with Transfer-Encoding '%.*s', which ferry-cni does not support "
                     "(it reads a Content-Length or a close-delimited body)",
                     (int)(v_end - v < 80 ? v_end - v : 80), v);
            return -1;
        }
        if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
            long value = parse_length(v, (size_t)(v_end - v));
            if (value < 0 || (content_length >= 0 && value != content_length)) {
                snprintf(err, errlen, "invalid Content-Length in the agent's response: '%.*s'",
                         (int)(v_end - v < 80 ? v_end - v : 80), v);
                return -1;
            }
            content_length = value;
        }
    }

    const char *body = head_end + 4;
    size_t have = len - (size_t)(body - data);
    resp->body = body;
    if ((resp->status >= 100 && resp->status < 200) || resp->status == 204 || resp->status == 304) {
        resp->body_len = 0; /* these never carry a body */
        return 1;
    }
    if (content_length >= 0) {
        if (have >= (size_t)content_length) {
            resp->body_len = (size_t)content_length;
            return 1;
        }
        if (eof) {
            snprintf(err, errlen, "the agent closed the connection after %zu of the body's %ld bytes", have, content_length);
            return -2;
        }
        return 0;
    }
    if (!eof)
        return 0;
    resp->body_len = have;
    return 1;
}
