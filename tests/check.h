/* Minimal test harness: each CHECK prints nothing when it holds and a FAIL line when it does not;
 * each TEST(name) block prints "ok name" or "FAIL name"; SKIP prints "skip name: why". The runner
 * (tests/run.sh) counts these lines across all test binaries. */
#ifndef EI_CHECK_H
#define EI_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failed_in_test;
static int check_total_failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("  check failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);                     \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            check_failed_in_test = 1;                                                              \
        }                                                                                          \
    } while (0)

#define TEST_BEGIN() (check_failed_in_test = 0)
#define TEST_END(name)                                                                             \
    do {                                                                                           \
        printf("%s %s\n", check_failed_in_test ? "FAIL" : "ok", name);                              \
        if (check_failed_in_test) check_total_failed++;                                            \
        fflush(stdout);                                                                            \
    } while (0)
#define SKIP(name, ...)                                                                            \
    do {                                                                                           \
        printf("skip %s: ", name);                                                                 \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        fflush(stdout);                                                                            \
    } while (0)
#define CHECK_EXIT() return check_total_failed ? 1 : 0

#endif
