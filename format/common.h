/* common.h - internal helpers shared by format/, converter/, reader/ and the
 * library's public glue. Not installed. */
#ifndef STEPARC_COMMON_H
#define STEPARC_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "steparc.h"

/* Allocation: every library allocation goes through these (see
 * steparc_set_allocator), so tests can inject failures. */
void *sa_malloc(size_t n);
void *sa_calloc(size_t count, size_t size);
void *sa_realloc(void *p, size_t n);
void sa_free(void *p);

/* Ensures b can hold `extra` more bytes. 0 or STEPARC_E_NOMEM. */
int sa_buf_reserve(steparc_buf *b, size_t extra);

/* Growable arrays: makes room for element n of the array *arrp (a T * with
 * room for *cap elements of esize bytes), doubling the capacity (from
 * `first` when empty) with sa_realloc. 0, or STEPARC_E_NOMEM with the array
 * unchanged. Call it as SA_GROW(array, cap, n, first). */
int sa_grow(void *arrp, size_t *cap, size_t n, size_t esize, size_t first);
#define SA_GROW(arr, cap, n, first) \
    ((size_t)(n) < (cap) ? STEPARC_OK : sa_grow(&(arr), &(cap), (n), sizeof *(arr), (first)))
/* Appends n bytes. Inline: the common case (room left) is a compare and a
 * copy, and the codecs append per value. 0 or STEPARC_E_NOMEM. */
static inline int sa_buf_append(steparc_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return STEPARC_OK; /* b->data may be NULL: no pointer arithmetic on it */
    if (b->cap - b->len < n && sa_buf_reserve(b, n) != 0)
        return STEPARC_E_NOMEM;
    unsigned char *d = (unsigned char *)b->data + b->len;
    const unsigned char *s = (const unsigned char *)p;
    /* keys, ids and small values: two overlapping fixed-size copies inside
     * [s, s+n) and [d, d+n), instead of a call to memcpy */
    if (n >= 8 && n <= 16) {
        uint64_t x, y;
        memcpy(&x, s, 8);
        memcpy(&y, s + n - 8, 8);
        memcpy(d, &x, 8);
        memcpy(d + n - 8, &y, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        memcpy(d, &x, 4);
        memcpy(d + n - 4, &y, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++) /* 1..3 */
            d[i] = s[i];
    } else {
        memcpy(d, s, n);
    }
    b->len += n;
    return STEPARC_OK;
}

static inline void sa_put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static inline void sa_put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}
static inline void sa_put_u64(unsigned char *p, uint64_t v)
{
    sa_put_u32(p, (uint32_t)v);
    sa_put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t sa_get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t sa_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline uint64_t sa_get_u64(const unsigned char *p)
{
    return (uint64_t)sa_get_u32(p) | ((uint64_t)sa_get_u32(p + 4) << 32);
}

/* CRC32C (Castagnoli), as in iSCSI/ext4: init 0xFFFFFFFF, final xor. */
uint32_t sa_crc32c(uint32_t crc, const void *data, size_t n);

/* 64-bit FNV-1a, the hash of ids in the index sections. */
static inline uint64_t sa_hash64(const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* MurmurHash3's 64-bit finalizer: spreads FNV-1a's weak high bits. */
static inline uint64_t sa_fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* The 64-bit hash of an id: fmix64(FNV-1a-64(bytes)). Its high half is the
 * index key (sa_key32); the writer's duplicate detection sorts by all of it. */
static inline uint64_t sa_hash_id64(const void *data, size_t n)
{
    return sa_fmix64(sa_hash64(data, n));
}

/* Formats into a fixed buffer, truncating. */
void sa_fmt(char *dst, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
