/*
 * One HTTP/1.1 request and its response over a unix stream socket, with a
 * bounded connect and a deadline for the whole exchange. Only what talking
 * to the Ferry agent needs: Content-Length or close-delimited bodies; a
 * chunked response is refused.
 */
#ifndef FERRY_CNI_HTTP_H
#define FERRY_CNI_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Largest response accepted, header included. CNI results are a few KiB. */
#define HTTP_MAX_RESPONSE (4u * 1024 * 1024)
#define HTTP_MAX_HEADER (64u * 1024)

enum http_outcome {
    HTTP_OK,          /* a complete response is in resp */
    HTTP_UNREACHABLE, /* no connection: nothing was delivered to the agent */
    HTTP_TIMEOUT,     /* connected, but no complete response before the deadline */
    HTTP_CLOSED,      /* connected, then closed before a complete response: the agent went away */
    HTTP_BAD_RESPONSE /* connected, but the answer was malformed */
};

struct http_response {
    int status;
    const char *reason;
    size_t reason_len;
    const char *body;
    size_t body_len;
};

/*
 * Connects to the socket at path (giving up after connect_ms), sends request,
 * and reads one response into raw before total_ms have passed since the call;
 * resp points into raw. On any other outcome err says what went wrong.
 */
enum http_outcome http_exchange(const char *path, const char *request, size_t request_len,
                                long connect_ms, long total_ms, struct buf *raw,
                                struct http_response *resp, char *err, size_t errlen);

/*
 * Parses the response bytes received so far; eof says whether the peer has
 * closed. Returns 1 when complete, 0 when more bytes are needed, -1 when
 * malformed, -2 when the peer closed before the response was complete (reason
 * in err for both).
 */
int http_parse_response(const char *data, size_t len, bool eof, struct http_response *resp,
                        char *err, size_t errlen);

#endif
