/* A small JSON reader (RFC 8259, into a tree) and writer, for the evaluation tool's data and run
 * files. Input is untrusted: nesting depth is limited, every allocation is checked, strings are
 * checked UTF-8 with \uXXXX escapes (and surrogate pairs) decoded. */
#ifndef EI_EVAL_JSON_H
#define EI_EVAL_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json {
    json_type type;
    double num;           /* number, or 0/1 for a bool */
    char *str;            /* string (NUL-terminated; may contain NUL) */
    size_t len;           /* string bytes, or number of items */
    struct json *items;   /* array elements or object values */
    char **keys;          /* object keys (same order as items) */
} json;

/* NULL on error, with "line L col C: what" in err. */
json *json_parse(const char *text, size_t len, char *err, size_t err_cap);
/* NULL on error, with "FILE: line L col C: what" (or the open error) in err. */
json *json_parse_file(const char *path, char *err, size_t err_cap);
void json_free(json *v);

const json *json_get(const json *obj, const char *key); /* NULL if absent or obj is not an object */
const char *json_str(const json *v);                     /* NULL unless a string */
double json_num(const json *v, double fallback);         /* fallback unless a number */

/* Appends the UTF-8 encoding of code point c (at most 4 bytes) at out[*len]. */
void utf8_put(char *out, size_t *len, uint32_t c);

/* Writer: appends to a growing buffer; `failed` is set on allocation failure. */
typedef struct { char *buf; size_t len, cap; int failed; } json_out;
void jo_raw(json_out *o, const char *s);
void jo_str(json_out *o, const char *s);
void jo_num(json_out *o, double x); /* NaN and infinities are written as null */
void jo_int(json_out *o, int64_t x);
/* Writes the buffer to path through a temporary file and rename: a reader never sees half a file. */
int jo_write_file_atomic(const json_out *o, const char *path);

#endif
