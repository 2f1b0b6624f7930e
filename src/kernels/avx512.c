/* AVX-512 (F/BW/VL/DQ/VNNI) kernels (work in progress). */
#include "kernels/kernels.h"

const ei_kernels *ei_kernels_avx512(void) { return NULL; }
