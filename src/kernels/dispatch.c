/* Run-time choice of the kernel table. Each ISA getter (ei_kernels_avx2, ei_kernels_avx512,
 * ei_kernels_amx) checks the CPU itself and returns NULL when the CPU, the OS or the build lacks it;
 * this file picks the best available one, honouring EI_ISA=scalar|avx2|avx512|amx. The choice is
 * made once. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

const ei_kernels *ei_kernels_by_name(const char *isa) {
    if (!isa) return NULL;
    if (strcmp(isa, "scalar") == 0) return ei_kernels_scalar();
    if (strcmp(isa, "avx2") == 0) return ei_kernels_avx2();
    if (strcmp(isa, "avx512") == 0) return ei_kernels_avx512();
    if (strcmp(isa, "amx") == 0) return ei_kernels_amx();
    return NULL;
}

static const ei_kernels *pick_best(void) {
    const ei_kernels *k = ei_kernels_amx();
    if (!k) k = ei_kernels_avx512();
    if (!k) k = ei_kernels_avx2();
    if (!k) k = ei_kernels_scalar();
    return k;
}

static _Atomic(const ei_kernels *) g_best;

const ei_kernels *ei_kernels_best(void) {
    const ei_kernels *k = atomic_load_explicit(&g_best, memory_order_acquire);
    if (k) return k;
    const char *want = getenv("EI_ISA");
    const ei_kernels *best = pick_best();
    k = best;
    if (want && *want) {
        const ei_kernels *forced = ei_kernels_by_name(want);
        if (forced) {
            k = forced;
        } else {
            /* Only the first caller to publish prints, so the warning appears once. */
            const ei_kernels *expected = NULL;
            if (atomic_compare_exchange_strong(&g_best, &expected, best)) {
                fprintf(stderr,
                        "edgeinf: EI_ISA=%s is unknown or not supported by this CPU/build "
                        "(scalar|avx2|avx512|amx); using %s\n",
                        want, best->isa);
                return best;
            }
            return expected;
        }
    }
    const ei_kernels *expected = NULL;
    if (!atomic_compare_exchange_strong(&g_best, &expected, k)) return expected;
    return k;
}
