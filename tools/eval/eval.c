/* `edgeinf eval ...`: dispatch and help (the options are options.c's: this file is left out of the tests). */
#include <stdio.h>
#include <string.h>

#include "eval.h"
#include "report.h"
#include "harness.h"

static void usage(FILE *f) {
    fputs("usage: edgeinf eval BENCH -m MODEL [options]        (docs: evaluation.md)\n"
          "benchmarks:\n"
          "  longbench  LongBench, 16 English tasks, scored as the official harness scores them\n"
          "             [--data FILE.jsonl] [--maxlen dataset2maxlen.json] [--tasks a,b] [--limit N per task]\n"
          "             [--count-only: print each task's prompt tokens per method, run nothing]\n"
          "  qmsum      QMSum val: query-based meeting summaries, ROUGE-1/2/L\n"
          "             [--data DIR] [--limit N queries] [--max-new N (default: the profile's, 512)]\n"
          "  passkey    a 5-digit pass key in filler text; accuracy by length x depth\n"
          "             [--lengths 1K,2K,...,128K] [--depths 0,25,50,75,100] [--keys 5] [--seed S]\n"
          "  needle     a fact hidden in Paul Graham's essays (same grid options) [--essays DIR]\n"
          "  ppl        perplexity by position band over one long stream\n"
          "             [--corpus wikitext|essays|both] [--max-tokens N (32768)] [--bands 8K,16K,32K,...]\n"
          "             [--wikitext FILE] [--essays DIR]\n"
          "  report     Markdown tables and charts from run files (edgeinf eval report --help)\n"
          "options:\n"
          "  -m MODEL          GGUF model\n"
          "  --method LIST     comma-separated, repeatable; one run file per method (default full,streaming,const0.3):\n"
          "                      full       FullKV: full attention over the trained context; longer prompts are cut in\n"
          "                                 the middle (LongBench), longer passkey/needle cells skipped, ppl stops there\n"
          "                      streaming  StreamingLLM: sink + window, evicted tokens dropped\n"
          "                      h2o        H2O: the same sink + window budget, the least-attended window tokens\n"
          "                                 dropped (half the window, the newest tokens, always kept)\n"
          "                      snapkv     SnapKV: the same budget, the window tokens least attended by the 32\n"
          "                                 queries before each eviction (max-pooled over 7 neighbours) dropped\n"
          "                      closed     EdgeInfinite with a closed gate (bias -8: memory written, read ~0)\n"
          "                      constG     EdgeInfinite with a constant gate G in [0, 1], e.g. const0.3\n"
          "                      gate:FILE  EdgeInfinite with a trained gate adapter\n"
          "  --profile NAME    chat|summarize|qa|stream (default qa; qmsum: summarize; ppl: stream); a profile\n"
          "                    not named is scaled down to a short-context model, a named one must fit\n"
          "  --profile-file F  --chunk L  --sink S  --window W   profile overrides\n"
          "  --threads N, -t N threads (default 2)\n"
          "  --out-dir DIR     run files DIR/BENCH-METHOD.json (default bench/out/eval)\n"
          "  --overwrite       start the run files over instead of resuming them\n"
          "  --no-reuse        prefill every prompt from scratch (by default a prompt that begins as the\n"
          "                    previous one did starts from the saved session state: the same numbers)\n"
          "Run files are rewritten after every sample; a run that is stopped resumes where it stopped when\n"
          "started again with the same model, method and profile. Data defaults: " EVAL_DATA_ROOT ".\n",
          f);
}

int eval_main(int argc, char **argv) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h") || !strcmp(argv[0], "help")) {
        usage(argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[0], "report") && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
            usage(stdout);
            return 0;
        }
    if (!strcmp(argv[0], "longbench")) return eval_longbench(argc, argv);
    if (!strcmp(argv[0], "qmsum")) return eval_qmsum(argc, argv);
    if (!strcmp(argv[0], "passkey")) return eval_passkey(argc, argv, 0);
    if (!strcmp(argv[0], "needle")) return eval_passkey(argc, argv, 1);
    if (!strcmp(argv[0], "ppl")) return eval_ppl(argc, argv);
    if (!strcmp(argv[0], "report")) return eval_report_main(argc, argv);
    eval_err("unknown eval benchmark '%s' (longbench, qmsum, passkey, needle, ppl, report; edgeinf eval --help)", argv[0]);
    return 2;
}
