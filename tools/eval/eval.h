/* `edgeinf eval ...`: long-context evaluation (evaluation.md), built on the public API only. */
#ifndef EI_EVAL_H
#define EI_EVAL_H

/* argv[0] is the first argument after "eval". Returns the process exit code. */
int eval_main(int argc, char **argv);

#endif
