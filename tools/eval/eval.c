/* Placeholder so the tree builds while the evaluation harness is written. */
#include <stdio.h>

#include "eval.h"

int eval_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "edgeinf: eval is not implemented yet\n");
    return 2;
}
