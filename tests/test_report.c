/* `edgeinf eval report` (tools/eval/report.c) on hand-written run files in a temporary directory. The
 * numbers below are made up for this test; they only check that the report copies and averages what
 * the files say, in both score layouts (the harness's "groups" and the planned "tasks"/"cells"/bands),
 * marks partial runs, survives missing fields and skips malformed files with a warning. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tools/eval/report.h"
#include "edgeinf.h"
#include "check.h"

#define HEAD(bench, method, extra)                                                                                  \
    "{\"tool\": \"edgeinf eval\", \"bench\": \"" bench "\", \"command\": \"edgeinf eval " bench " --x a|b\", "        \
    "\"model\": {\"name\": \"TestModel\", \"sha256\": \"0123456789abcdef0123\"}, \"method\": {\"name\": \"" method   \
    "\"}, \"profile\": {\"name\": \"qa\", \"sink\": 64, \"window\": 2048, \"chunk\": 256, \"update\": \"linear\", "   \
    "\"kv\": \"f16\"}, \"threads\": 2, \"wall_s\": 754, " extra

static const struct { const char *name, *text; } files[] = {
    {"longbench-full.json", HEAD("longbench", "full", "\"complete\": true, \"requested\": 3, \"done\": 3,")
     "\"scores\": {\"groups\": {\"narrativeqa\": {\"n\": 2, \"mean\": 0.25}, \"lcc\": {\"n\": 1, \"mean\": 0.5}}}, \"samples\": [{\"key\": \"narrativeqa/0\", "
     "\"task\": \"narrativeqa\", \"score\": 0.5}, {\"key\": \"narrativeqa/1\", \"task\": \"narrativeqa\", \"score\": 0}, "
     "{\"key\": \"lcc/0\", \"task\": \"lcc\", \"score\": 0.5}]}"},
    /* the planned layout, interrupted after one of four samples */
    {"longbench-streaming.json", HEAD("longbench", "streaming", "\"complete\": false, \"options\": {\"requested\": 4},")
     "\"scores\": {\"tasks\": {\"narrativeqa\": {\"n\": 1, \"score\": 10.0}}}, \"samples\": [{\"key\": \"narrativeqa/0\", \"task\": \"narrativeqa\", "
     "\"score\": 0.1}]}"},
    {"passkey-full.json", HEAD("passkey", "full", "\"complete\": true,")
     "\"scores\": {\"groups\": {\"1024/0\": {\"n\": 2, \"mean\": 1}, \"1024/100\": {\"n\": 2, \"mean\": 0.5}, "
     "\"2048/0\": {\"n\": 1, \"mean\": 0}}, \"groups2\": {\"1024\": {\"n\": 4, \"mean\": 0.75}}}}"},
    {"passkey-const0.3.json", HEAD("passkey", "const0.3", "\"complete\": true,")
     "\"scores\": {\"cells\": [{\"length\": 2048, \"depth\": 50, \"n\": 5, \"accuracy\": 0.6}, "
     "{\"length\": 4096, \"depth\": 50, \"n\": 5, \"accuracy\": 0.2}]}}"},
    /* a run with no scores at all */
    {"needle-streaming.json", HEAD("needle", "streaming", "\"complete\": false, \"requested\": 10, \"done\": 0}")},
    {"ppl-full.json", HEAD("ppl", "full", "\"complete\": true,")
     "\"samples\": [{\"key\": \"wikitext\", \"bands\": [{\"from\": 0, \"to\": 256, \"tokens\": 255, \"ppl\": 12.5}, "
     "{\"from\": 256, \"to\": null, \"tokens\": 100, \"ppl\": 14}]}]}"},
    {"ppl-streaming.json", HEAD("ppl", "streaming", "\"complete\": true,")
     "\"scores\": {\"wikitext\": [{\"from\": 0, \"to\": 256, \"tokens\": 255, \"nll_sum\": 510}], "
     "\"essays\": [{\"from\": 0, \"to\": 256, \"tokens\": 10, \"ppl\": 3}]}}"},
    {"qmsum-full.json", HEAD("qmsum", "full", "\"complete\": true,")
     "\"samples\": [{\"rouge1\": 0.2, \"rouge2\": 0.05, \"rougeL\": 0.1}, {\"rouge1\": 0.4, \"rouge2\": 0.15, \"rougeL\": 0.3}]}"},
    {"qmsum-streaming.json", HEAD("qmsum", "streaming", "\"complete\": true,")
     "\"scores\": {\"rouge1\": 31.5, \"rouge2\": 7.25, \"rougeL\": 20, \"n\": 3}}"},
    /* a trained gate's path: escaped in the SVG, a safe file name for the chart */
    {"passkey-gate.json", HEAD("passkey", "gate:/g/a&b<1>.gguf", "\"complete\": true,")
     "\"scores\": {\"groups\": {\"1024/50\": {\"n\": 1, \"mean\": 1}}}}"},
    {"broken.json", "{\"bench\": \"passkey\", \"method\": "},
    {"other.json", "{\"hello\": 1}"},
    {"notes.txt", "not a run file and not read"},
};

static const char *const want[] = {
    "| task | full | streaming (partial: 1 of 4) |",
    "| narrativeqa | 25.0 (2) | 10.0 (1) |",
    "| lcc | 50.0 (1) | — |",
    "| qasper | — | — |",
    "| **Average** | **37.5** (2 of 16 tasks) | **10.0** (1 of 16 tasks) |",
    /* the two runs compared on the one sample both have */
    "### LongBench on the 1 sample every run has",
    "| narrativeqa | 50.0 (1) | 10.0 (1) |",
    "| **Average** | **50.0** (1 of 16 tasks) | **10.0** (1 of 16 tasks) |",
    "`edgeinf eval longbench --x a\\|b`",
    "`0123456789ab`",
    "qa (64 / 2048 / 256, linear, f16)",
    "12.6 min",
    "| tokens | full | const0.3 | gate:/g/a&b&lt;1>.gguf |",
    "| 1K | 75.0 (4) | — | 100.0 (1) |",
    "| 2K | 0.0 (1) | 60.0 (5) | — |",
    "| 4K | — | 20.0 (5) | — |",
    "![passkey heat map, full](plots/passkey-full.svg)",
    "(plots/passkey-by-length.svg)",
    "| tokens | streaming (partial: 0 of 10) |",
    "### wikitext",
    "| 0–256 | 12.50 (255) | 7.39 (255) |",
    "| 256–end | 14.00 (100) | — |",
    "### essays",
    "| 0–256 | — | 3.00 (10) |",
    "(plots/ppl-wikitext.svg)",
    "| ROUGE-1 | 30.00 (2) | 31.50 (3) |",
    "| ROUGE-L | 20.00 (2) | 20.00 (3) |",
};

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = calloc(1, 1 << 20);
    if (s) s[fread(s, 1, (1 << 20) - 1, f)] = 0;
    fclose(f);
    return s;
}

/* Runs the report with stderr captured in dir/err. */
static int run_report(const char *dir, char **argv, int argc) {
    char err[512];
    snprintf(err, sizeof err, "%s/err", dir);
    fflush(stderr);
    const int saved = dup(2), fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (saved < 0 || fd < 0) return -1;
    dup2(fd, 2), close(fd);
    const int rc = eval_report_main(argc, argv);
    fflush(stderr);
    dup2(saved, 2), close(saved);
    return rc;
}

int main(void) {
    const char *name = "eval report: tables from both score layouts, partial runs, charts, bad files skipped";
    TEST_BEGIN();
    char dir[] = "/tmp/ei_report_XXXXXX", runs[600], out[600], plots[600], path[700];
    if (!mkdtemp(dir)) { printf("FAIL %s: mkdtemp\n", name); return 1; }
    snprintf(runs, sizeof runs, "%s/runs", dir), snprintf(out, sizeof out, "%s/r.md", dir);
    snprintf(plots, sizeof plots, "%s/plots", dir);
    mkdir(runs, 0755);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", runs, files[i].name);
        FILE *f = fopen(path, "w");
        CHECK(f && fputs(files[i].text, f) >= 0 && !fclose(f), "cannot write %s", path);
    }
    char *argv[] = {"report", "--runs", runs, "--out", out, "--plots", plots};
    const double t0 = ei_time_s();
    const int rc = run_report(dir, argv, 7);
    printf("  report of %zu files in %.1f ms\n", sizeof files / sizeof *files, 1e3 * (ei_time_s() - t0));
    CHECK(rc == 0, "exit code %d", rc);
    char *md = slurp(out), *err;
    snprintf(path, sizeof path, "%s/err", dir);
    err = slurp(path);
    CHECK(md != NULL, "no report written");
    for (size_t i = 0; md && i < sizeof want / sizeof *want; i++) CHECK(strstr(md, want[i]), "missing: %s", want[i]);
    CHECK(md && strstr(md, "## LongBench") < strstr(md, "## Passkey") && strstr(md, "## Passkey") < strstr(md, "## Needle") &&
              strstr(md, "## Needle") < strstr(md, "## Perplexity") && strstr(md, "## Perplexity") < strstr(md, "## QMSum"),
          "sections out of order");
    CHECK(err && strstr(err, "broken.json") && strstr(err, "other.json: not a run file") && !strstr(err, "notes"),
          "warnings: %s", err ? err : "(none)");
    static const char *const svgs[] = {"passkey-full.svg", "passkey-const0.3.svg", "passkey-by-length.svg", "needle-streaming.svg",
                                       "needle-by-length.svg", "ppl-wikitext.svg", "ppl-essays.svg",
                                       "passkey-gate__g_a_b_1_.gguf.svg"};
    char cmd[4096] = "python3 -c \"import sys,xml.dom.minidom as x;[x.parse(f) for f in sys.argv[1:]]\"";
    for (size_t i = 0; i < sizeof svgs / sizeof *svgs; i++) {
        snprintf(path, sizeof path, "%s/%s", plots, svgs[i]);
        CHECK(access(path, R_OK) == 0, "%s missing", svgs[i]);
        strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1), strncat(cmd, path, sizeof cmd - strlen(cmd) - 1);
    }
    char *svg = (snprintf(path, sizeof path, "%s/passkey-full.svg", plots), slurp(path));
    CHECK(svg && strstr(svg, ">100%<") && strstr(svg, ">50%<") && strstr(svg, ">n/a<") && strstr(svg, "</svg>"),
          "heat map cells (100%%, 50%%, n/a)");
    if (system("python3 -c 'import xml.dom.minidom' 2>/dev/null") == 0) CHECK(system(cmd) == 0, "an SVG is not well-formed XML");
    else printf("  (python3 absent: SVGs not parsed as XML)\n");
    free(md), free(err), free(svg);
    /* errors: a missing directory, an unknown option */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/none", dir);
    char *a2[] = {"report", "--runs", missing, "--plots", plots};
    CHECK(run_report(dir, a2, 5) == 2, "a missing run directory must fail");
    char *a3[] = {"report", "--frob"};
    CHECK(run_report(dir, a3, 2) == 2, "an unknown option must fail");
    snprintf(path, sizeof path, "%s/err", dir);
    err = slurp(path);
    CHECK(err && strstr(err, "unknown option '--frob'"), "message: %s", err ? err : "");
    free(err);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (getenv("KEEP_REPORT")) printf("  kept %s\n", dir); /* to look at the report and charts */
    else CHECK(system(cmd) == 0, "cleanup");
    TEST_END(name);
    CHECK_EXIT();
}
