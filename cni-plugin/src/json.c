#include "json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Deeper nesting is refused rather than risking the stack on hostile input. */
#define JSON_MAX_DEPTH 128

struct scanner {
    const char *start;
    const char *p;
    const char *end;
    const char *why;
};

static bool fail(struct scanner *s, const char *why)
{
    if (!s->why)
        s->why = why;
    return false;
}

static bool at(const struct scanner *s, char c)
{
    return s->p < s->end && *s->p == c;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void skip_ws(struct scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool scan_string(struct scanner *s)
{
    if (!at(s, '"'))
        return fail(s, "expected a string");
    s->p++;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p++;
        if (c == '"')
            return true;
        if (c < 0x20)
            return fail(s, "control character in a string");
        if (c != '\\')
            continue;
        if (s->p >= s->end)
            break;
        char e = *s->p++;
        if (e == 'u') {
            for (int i = 0; i < 4; i++, s->p++)
                if (s->p >= s->end || !is_hex(*s->p))
                    return fail(s, "invalid \\u escape");
        } else if (e == '\0' || !strchr("\"\\/bfnrt", e)) {
            return fail(s, "invalid escape in a string");
        }
    }
    return fail(s, "unterminated string");
}

static bool scan_digits(struct scanner *s)
{
    const char *first = s->p;
    while (s->p < s->end && is_digit(*s->p))
        s->p++;
    return s->p > first || fail(s, "invalid number");
}

static bool scan_number(struct scanner *s)
{
    if (at(s, '-'))
        s->p++;
    if (at(s, '0'))
        s->p++;
    else if (!scan_digits(s))
        return false;
    if (at(s, '.')) {
        s->p++;
        if (!scan_digits(s))
            return false;
    }
    if (at(s, 'e') || at(s, 'E')) {
        s->p++;
        if (at(s, '+') || at(s, '-'))
            s->p++;
        if (!scan_digits(s))
            return false;
    }
    return true;
}

static bool scan_literal(struct scanner *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fail(s, "unexpected character");
    s->p += n;
    return true;
}

static void record(struct json_field *fields, size_t nfields, const char *key, size_t key_len,
                   enum json_type type, const char *raw, size_t raw_len)
{
    char name[64];
    if (json_decode_string(key, key_len, name, sizeof name) < 0)
        return; /* longer than any name we look for */
    for (size_t i = 0; i < nfields; i++) {
        if (strcmp(fields[i].name, name) == 0) {
            fields[i].type = type;
            fields[i].raw = raw;
            fields[i].raw_len = raw_len;
        }
    }
}

static bool scan_value(struct scanner *s, int depth, enum json_type *type);

/* The members of an object whose '{' has been consumed; records matches when fields is set. */
static bool scan_members(struct scanner *s, int depth, struct json_field *fields, size_t nfields)
{
    skip_ws(s);
    if (at(s, '}')) {
        s->p++;
        return true;
    }
    for (;;) {
        skip_ws(s);
        if (!at(s, '"'))
            return fail(s, s->p == s->end ? "unexpected end of input" : "expected a member name");
        const char *key = s->p;
        if (!scan_string(s))
            return false;
        size_t key_len = (size_t)(s->p - key);
        skip_ws(s);
        if (!at(s, ':'))
            return fail(s, "expected ':' after a member name");
        s->p++;
        skip_ws(s);
        const char *value = s->p;
        enum json_type type;
        if (!scan_value(s, depth + 1, &type))
            return false;
        if (fields)
            record(fields, nfields, key, key_len, type, value, (size_t)(s->p - value));
        skip_ws(s);
        if (at(s, ',')) {
            s->p++;
            continue;
        }
        if (at(s, '}')) {
            s->p++;
            return true;
        }
        return fail(s, "expected ',' or '}' in an object");
    }
}

static bool scan_elements(struct scanner *s, int depth)
{
    skip_ws(s);
    if (at(s, ']')) {
        s->p++;
        return true;
    }
    for (;;) {
        enum json_type type;
        skip_ws(s);
        if (!scan_value(s, depth + 1, &type))
            return false;
        skip_ws(s);
        if (at(s, ',')) {
            s->p++;
            continue;
        }
        if (at(s, ']')) {
            s->p++;
            return true;
        }
        return fail(s, "expected ',' or ']' in an array");
    }
}

static bool scan_value(struct scanner *s, int depth, enum json_type *type)
{
    if (depth > JSON_MAX_DEPTH)
        return fail(s, "nested too deeply");
    if (s->p >= s->end)
        return fail(s, "unexpected end of input");
    switch (*s->p) {
    case '{':
        s->p++;
        *type = JSON_OBJECT;
        return scan_members(s, depth, NULL, 0);
    case '[':
        s->p++;
        *type = JSON_ARRAY;
        return scan_elements(s, depth);
    case '"':
        *type = JSON_STRING;
        return scan_string(s);
    case 't':
        *type = JSON_TRUE;
        return scan_literal(s, "true");
    case 'f':
        *type = JSON_FALSE;
        return scan_literal(s, "false");
    case 'n':
        *type = JSON_NULL;
        return scan_literal(s, "null");
    default:
        *type = JSON_NUMBER;
        if (*s->p == '-' || is_digit(*s->p))
            return scan_number(s);
        return fail(s, "unexpected character");
    }
}

int json_scan_object(const char *doc, size_t len, struct json_field *fields, size_t nfields,
                     char *err, size_t errlen)
{
    struct scanner s = {.start = doc, .p = doc, .end = doc + len, .why = NULL};
    for (size_t i = 0; i < nfields; i++)
        fields[i].type = JSON_ABSENT;
    skip_ws(&s);
    if (s.p == s.end) {
        snprintf(err, errlen, "the input is empty, not a JSON object");
        return -1;
    }
    if (*s.p != '{') {
        snprintf(err, errlen, "the input is not a JSON object");
        return -1;
    }
    s.p++;
    if (scan_members(&s, 1, fields, nfields)) {
        skip_ws(&s);
        if (s.p == s.end)
            return 0;
        fail(&s, "unexpected data after the object");
    }
    snprintf(err, errlen, "invalid JSON at byte %zu: %s", (size_t)(s.p - s.start), s.why);
    return -1;
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (unsigned)(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static size_t utf8_encode(unsigned cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

long json_decode_string(const char *raw, size_t raw_len, char *out, size_t cap)
{
    /* raw was validated by the scanner: quotes at both ends, escapes well-formed. */
    const char *p = raw + 1, *end = raw + raw_len - 1;
    size_t n = 0;
    while (p < end) {
        char utf8[4];
        size_t len = 1;
        if (*p != '\\') {
            utf8[0] = *p++;
        } else if (p[1] != 'u') {
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            utf8[0] = to[strchr(from, p[1]) - from];
            p += 2;
        } else {
            unsigned cp = hex4(p + 2);
            p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                unsigned lo = hex4(p + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD; /* a lone surrogate, as Go's decoder does */
            if (cp == 0)
                return -1;
            len = utf8_encode(cp, utf8);
        }
        if (n + len >= cap)
            return -1;
        memcpy(out + n, utf8, len);
        n += len;
    }
    out[n] = '\0';
    return (long)n;
}

/* Length of the valid UTF-8 sequence at p (n bytes available), or 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *p, size_t n)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

void json_add_string(struct buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    buf_add(b, "\"", 1);
    while (p < end) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            buf_add(b, "\\", 1);
            buf_add(b, p++, 1);
        } else if (c == '\n') {
            buf_adds(b, "\\n");
            p++;
        } else if (c == '\t') {
            buf_adds(b, "\\t");
            p++;
        } else if (c < 0x20 || c == 0x7F) {
            buf_addf(b, "\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            buf_add(b, p++, 1);
        } else {
            size_t len = utf8_sequence(p, (size_t)(end - p));
            if (len) {
                buf_add(b, p, len);
                p += len;
            } else {
                buf_adds(b, "\\ufffd");
                p++;
            }
        }
    }
    buf_add(b, "\"", 1);
}
