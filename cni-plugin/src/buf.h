/* A growable byte buffer, always NUL-terminated so that text in it can be used as a C string. */
#ifndef FERRY_CNI_BUF_H
#define FERRY_CNI_BUF_H

#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Makes room for `extra` more bytes (plus the terminating NUL). */
void buf_reserve(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);

/* Called when memory runs out; never returns. Defined by the program (it prints a CNI error). */
_Noreturn void out_of_memory(void);

#endif
