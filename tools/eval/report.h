/* `edgeinf eval report` (report.c: run files, LongBench, QMSum, output; report_grid.c: passkey and
 * needle grids, perplexity bands, and their charts). */
#ifndef EI_EVAL_REPORT_H
#define EI_EVAL_REPORT_H

#include <stdio.h>

#include "json.h"

#define RP_PATH 4096 /* longest path handled */

/* argv[0] is "report" (the word after "eval"); options follow. Returns the exit code. */
int eval_report_main(int argc, char **argv);

/* One run file. */
typedef struct {
    json *v;
    const char *bench, *method; /* inside v */
    char file[208];             /* base name without .json */
    char label[320];            /* table column: method [file] (partial: n of N) */
    char slug[320];             /* the same for chart file names: [A-Za-z0-9.-_] only */
} rp_run;

typedef struct {
    FILE *o;
    const rp_run *rs;
    int n;
    const char *plots;   /* directory the charts are written to */
    char img[RP_PATH];  /* the same directory as the Markdown refers to it */
} rp_ctx;

/* Table header with one column per run of bench. */
void rp_header(FILE *o, const char *first, const rp_run *rs, int n, const char *bench);
/* The runs of bench: state, wall time, model and sha256, profile, threads, command. */
void rp_details(FILE *o, const rp_run *rs, int n, const char *bench);
/* Passkey or needle section; ppl section. 0, or -1 (message printed) when a chart cannot be written. */
int rp_grid(rp_ctx *c, const char *bench);
int rp_ppl(rp_ctx *c);
/* Chart file-name form of a label, in place: [A-Za-z0-9.-] kept, anything else becomes _ */
void rp_slugify(char *s);

#endif
