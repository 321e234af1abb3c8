/*
 * Just enough JSON for a forwarding plugin: check that a document is one
 * well-formed object, pick out a few of its top-level members, decode string
 * values, and write escaped strings. Nested values are checked for syntax and
 * otherwise skipped; what they mean is the agent's business.
 */
#ifndef FERRY_CNI_JSON_H
#define FERRY_CNI_JSON_H

#include <stddef.h>

#include "buf.h"

enum json_type { JSON_ABSENT, JSON_STRING, JSON_NUMBER, JSON_OBJECT, JSON_ARRAY, JSON_TRUE, JSON_FALSE, JSON_NULL };

/* A top-level member to look for; the scan fills in its type and raw text (last occurrence wins). */
struct json_field {
    const char *name;
    enum json_type type;
    const char *raw;
    size_t raw_len;
};

/*
 * Scans doc, which must be exactly one JSON object (surrounding whitespace
 * allowed), and records the members named in fields. Returns 0, or -1 with
 * the reason in err.
 */
int json_scan_object(const char *doc, size_t len, struct json_field *fields, size_t nfields,
                     char *err, size_t errlen);

/*
 * Decodes a string token as recorded by json_scan_object (quotes included)
 * into out as UTF-8 with a terminating NUL. Returns the length, or -1 when it
 * does not fit in cap or contains \u0000.
 */
long json_decode_string(const char *raw, size_t raw_len, char *out, size_t cap);

/* Appends s as a quoted JSON string; invalid UTF-8 becomes U+FFFD. */
void json_add_string(struct buf *b, const char *s, size_t n);

#endif
