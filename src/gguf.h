/* GGUF v2/v3 reader (mmap, every metadata type, full bounds checks) and writer. */
#ifndef EI_GGUF_H
#define EI_GGUF_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3, GGUF_UINT32 = 4, GGUF_INT32 = 5,
    GGUF_FLOAT32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT64 = 10,
    GGUF_INT64 = 11, GGUF_FLOAT64 = 12, GGUF_TYPE_COUNT = 13
} gguf_vtype;

typedef struct { uint64_t len; const char *ptr; } gguf_str; /* points into the mapping; not NUL-terminated */

typedef struct {
    gguf_str key;
    gguf_vtype type;      /* GGUF_ARRAY for arrays */
    gguf_vtype arr_type;  /* element type when type == GGUF_ARRAY */
    uint64_t arr_len;
    const uint8_t *data;  /* scalar value, or first array element (strings: serialized len+bytes) */
    uint64_t *str_offs;   /* string arrays: byte offset of each element from data (built at open) */
} gguf_kv;

typedef struct {
    gguf_str name;
    uint32_t n_dims;
    int64_t ne[4];        /* ne[0] is the contiguous (innermost) dimension; unused dims are 1 */
    int type;             /* ggml type id */
    uint64_t offset;      /* relative to the data section */
    uint64_t nbytes;
    const void *data;     /* inside the mapping */
} gguf_tensor;

typedef struct {
    const char *path;
    uint8_t *map; size_t map_size;
    uint32_t version;
    uint64_t n_kv, n_tensors;
    gguf_kv *kv;
    gguf_tensor *tensors;
    uint64_t alignment;
    uint64_t data_offset;
} gguf_file;

/* Size facts of every ggml type id (not only the ones the engine computes with), so the reader can
 * validate tensor extents and `info` can name them. 0 / NULL for unknown ids. */
int gguf_type_block_size(int type);
size_t gguf_type_block_bytes(int type);
const char *gguf_type_name(int type);

/* Opens and validates the whole file. On failure returns NULL and writes a one-line message naming
 * the file and what is wrong into err. */
gguf_file *gguf_open(const char *path, char *err, size_t errlen);
void gguf_close(gguf_file *f);

const gguf_kv *gguf_find(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters: return 0 on success, -1 when missing or of an incompatible type.
 * Integer getters accept any integer type whose value fits. */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out);
int gguf_get_f32(const gguf_file *f, const char *key, float *out);
int gguf_get_bool(const gguf_file *f, const char *key, int *out);
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
/* Array access: element i of an array kv (bounds-checked; -1 on type mismatch or i out of range). */
int gguf_arr_str(const gguf_kv *kv, uint64_t i, gguf_str *out); /* O(1) after open: index built lazily */
int gguf_arr_f32(const gguf_kv *kv, uint64_t i, float *out);
int gguf_arr_i32(const gguf_kv *kv, uint64_t i, int32_t *out);
int gguf_str_eq(gguf_str s, const char *c);

/* Writer: collect metadata and tensors, then write atomically (temp file + rename). */
typedef struct gguf_writer gguf_writer;
gguf_writer *gguf_writer_new(void);
void gguf_writer_free(gguf_writer *w);
int gguf_w_u32(gguf_writer *w, const char *key, uint32_t v);
int gguf_w_i32(gguf_writer *w, const char *key, int32_t v);
int gguf_w_u64(gguf_writer *w, const char *key, uint64_t v);
int gguf_w_f32(gguf_writer *w, const char *key, float v);
int gguf_w_bool(gguf_writer *w, const char *key, int v);
int gguf_w_str(gguf_writer *w, const char *key, const char *v);
int gguf_w_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n);
int gguf_w_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n);
int gguf_w_arr_i32(gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
/* data is copied; ne has n_dims entries (ne[0] innermost). */
int gguf_w_tensor(gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne,
                  const void *data, size_t nbytes);
int gguf_writer_save(gguf_writer *w, const char *path, char *err, size_t errlen);

#endif
