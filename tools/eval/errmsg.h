/* errmsg.h: fill a caller's error buffer, the one way the eval tool's file writers
 * (svg.c, synth.c) report a failure. A NULL or empty buffer means "no message wanted". */
#ifndef EI_EVAL_ERRMSG_H
#define EI_EVAL_ERRMSG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline void errmsg_set(char *err, size_t cap, const char *fmt, ...) {
    if (!err || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

#endif
