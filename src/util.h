/* Small shared helpers: the thread-local error message and checked allocation. */
#ifndef EI_UTIL_H
#define EI_UTIL_H
#include <stddef.h>

/* Sets the message returned by ei_last_error(); printf-style. Always returns -1 for brevity. */
int ei_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Allocates n bytes aligned to 64 (cache line / AVX-512), zeroed; NULL on failure or n == 0. */
void *ei_alloc_aligned(size_t n);
void ei_free_aligned(void *p);

#endif
