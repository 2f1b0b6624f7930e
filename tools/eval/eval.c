/* `edgeinf eval ...`: dispatch and help. */
#include <stdio.h>
#include <string.h>

#include "eval.h"
#include "harness.h"

static void usage(FILE *f) {
    fputs("usage: edgeinf eval BENCH -m MODEL [options]      (evaluation.md)\n"
          "benchmarks:\n"
          "  longbench   LongBench (16 English tasks) [--data FILE.jsonl] [--tasks a,b] [--limit N per task]\n"
          "  passkey     pass key in filler text [--lengths 1K,2K,...,128K] [--depths 0,25,50,75,100] [--keys 5] [--seed S]\n"
          "  needle      a fact in the essays (same grid options as passkey)\n"
          "  ppl         perplexity by position band [--corpus wikitext,essays] [--max-tokens N] [--bands 8K,16K,...]\n"
          "  qmsum       QMSum val query-based summaries, ROUGE-1/2/L [--data DIR] [--limit N queries]\n"
          "  report      Markdown tables and heat maps from run files [--runs DIR] [--out FILE.md] [--plots DIR]\n"
          "options:\n"
          "  --method LIST     comma-separated: full (FullKV, middle-truncated to the trained context),\n"
          "                    streaming (StreamingLLM: sink + window), closed (EdgeInfinite, gate bias -8),\n"
          "                    constG (constant gate G, e.g. const0.3), gate:FILE (trained gate)\n"
          "                    default full,streaming,const0.3\n"
          "  --profile NAME    chat|summarize|qa|stream (default: qa; qmsum summarize; ppl stream)\n"
          "  --profile-file F  --chunk L  --sink S  --window W   profile overrides\n"
          "  --threads N (-t)  --out-dir DIR (default bench/out/eval)  --overwrite (restart instead of resuming)\n"
          "Each method writes DIR/BENCH-METHOD.json after every sample; a killed run resumes where it stopped.\n",
          f);
}

int eval_main(int argc, char **argv) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        usage(argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (!strcmp(argv[0], "longbench")) return eval_longbench(argc, argv);
    if (!strcmp(argv[0], "qmsum")) return eval_qmsum(argc, argv);
    if (!strcmp(argv[0], "passkey")) return eval_passkey(argc, argv, 0);
    if (!strcmp(argv[0], "needle")) return eval_passkey(argc, argv, 1);
    if (!strcmp(argv[0], "ppl")) return eval_ppl(argc, argv);
    if (!strcmp(argv[0], "report")) return eval_report(argc, argv);
    eval_err("unknown eval benchmark '%s' (longbench, passkey, needle, ppl, qmsum, report)", argv[0]);
    return 2;
}
