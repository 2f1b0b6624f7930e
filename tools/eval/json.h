/* A small JSON reader (RFC 8259, into a tree) and writer, for the evaluation tool's data and run
 * files. Input is untrusted: nesting depth is limited, every allocation is checked, nothing is read
 * past len, strings must be valid UTF-8 and \uXXXX escapes (surrogate pairs too) are decoded.
 * Objects keep their key order; numbers are doubles. */
#ifndef EI_EVAL_JSON_H
#define EI_EVAL_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 256

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

/* The fields may be read directly; the accessors below also accept NULL. */
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

json_type json_kind(const json *v);                      /* JSON_NULL for NULL */
const json *json_get(const json *obj, const char *key);  /* NULL if absent or obj is not an object */
size_t json_len(const json *v);                          /* array/object element count, else 0 */
const json *json_at(const json *arr, size_t i);          /* array element or object value; NULL out of range */
const char *json_key_at(const json *obj, size_t i);      /* object key; NULL out of range */
const char *json_str(const json *v);                     /* NULL unless a string */
size_t json_str_len(const json *v);                      /* bytes of a string (it may contain NUL), else 0 */
const char *json_text(const json *v);                    /* a string without NUL bytes (whole as C text), else NULL */
double json_num(const json *v, double fallback);         /* fallback unless a number */
int json_bool(const json *v, int fallback);              /* fallback unless a bool */

/* Appends the UTF-8 encoding of code point c (at most 4 bytes) at out[*len]. */
void utf8_put(char *out, size_t *len, uint32_t c);

/* Writer: appends to a growing buffer; `failed` is set on allocation failure (later calls do
 * nothing). Strings: quotes, backslashes and control characters are escaped, valid UTF-8 is kept
 * as is and each invalid byte becomes U+FFFD, so the output always parses. */
typedef struct { char *buf; size_t len, cap; int failed; } json_out;
void jo_raw(json_out *o, const char *s);
void jo_str(json_out *o, const char *s);
void jo_strn(json_out *o, const char *s, size_t n); /* n bytes, NUL included as \u0000 */
void jo_num(json_out *o, double x);                 /* %.17g; NaN and infinities are written as null */
void jo_int(json_out *o, int64_t x);
void jo_value(json_out *o, const json *v);          /* a parsed value written back (null for NULL) */
/* Writes the buffer to path through a temporary file in the same directory, fsync and rename: a
 * reader never sees half a file. -1 with errno. */
int jo_write_file_atomic(const json_out *o, const char *path);

#endif
