/* LongBench metrics (tools/eval/metrics.c): hand-made cases, then every row of
 * tests/data/metric_refs.tsv, whose scores the official Python code computed
 * (scripts/gen_metric_refs.py: LongBench metrics, rouge 1.0.1, rapidfuzz). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/eval/metrics.h"
#include "check.h"

#define REFS "tests/data/metric_refs.tsv"
#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static void test_hand(void) {
    TEST_BEGIN();
    /* "The cat sat" -> [cat, sat]; "a cat sat down" -> [cat, sat, down]: P 1, R 2/3 */
    CHECK(NEAR(metric_qa_f1("The cat sat", "a cat sat down"), 0.8), "qa_f1 %g", metric_qa_f1("The cat sat", "a cat sat down"));
    CHECK(NEAR(metric_qa_f1("Paris!", "paris"), 1.0), "punctuation and case");
    CHECK(NEAR(metric_qa_f1("", "paris"), 0.0), "empty prediction");
    CHECK(NEAR(metric_qa_f1("theater", "the ater"), 0.0), "'the' only as a whole word");
    /* rouge-1 on sets: {a,b,c} vs {a,b,d}: P = R = 2/3 */
    CHECK(fabs(metric_rouge_n("a b c", "a b d", 1) - 2.0 / 3) < 1e-7, "rouge1 %g", metric_rouge_n("a b c", "a b d", 1));
    CHECK(NEAR(metric_rouge_n("", "a b", 1), 0.0), "empty hypothesis scores 0");
    CHECK(fabs(metric_rouge_l("a b c d", "a c d") - 2 * (0.75 * 1.0) / 1.75) < 1e-7, "rougeL %g", metric_rouge_l("a b c d", "a c d"));
    const char *cls[] = {"Location", "City", "Country", "Description"};
    CHECK(NEAR(metric_classification("It is a City", "City", cls, 4), 1.0), "one class");
    CHECK(NEAR(metric_classification("City or Country", "City", cls, 4), 0.5), "two classes");
    CHECK(NEAR(metric_classification("Location", "City", cls, 4), 0.0), "wrong class");
    CHECK(NEAR(metric_retrieval("Paragraph 3, or 4", "Paragraph 3"), 0.5), "retrieval");
    CHECK(NEAR(metric_retrieval("none", "Paragraph 3"), 0.0), "retrieval, no numbers");
    CHECK(NEAR(metric_count("7 7 9 17", "7"), 0.5), "count");
    CHECK(NEAR(metric_code_sim("# c\nabcd", "abcd"), 1.0), "code: first line without #");
    CHECK(NEAR(metric_code_sim("abcd", "abce"), 0.75), "code: indel ratio %g", metric_code_sim("abcd", "abce"));
    CHECK(NEAR(metric_code_sim("", ""), 1.0), "code: both empty");
    CHECK(NEAR(metric_score_task("trec", "\nCity\nCountry", "City", cls, 4), 1.0), "first-line rule");
    CHECK(metric_for_task("lcc") && !strcmp(metric_for_task("lcc"), "code_sim") && !metric_for_task("nope"), "task map");
    /* invalid UTF-8 and long inputs do not crash */
    char bad[] = {'a', ' ', (char)0xff, (char)0xc3, ' ', 'b', 0};
    CHECK(metric_qa_f1(bad, "a b") >= 0 && metric_rouge_l(bad, "b") >= 0 && metric_code_sim(bad, "ab") >= 0, "invalid UTF-8");
    TEST_END("metrics: hand-made cases");
}

static char *unescape(char *s) {
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p != '\\' || !p[1]) { *o++ = *p; continue; }
        p++;
        *o++ = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p;
    }
    *o = 0;
    return s;
}

static void test_refs(void) {
    const char *name = "metrics: every reference row equals the Python packages' score (1e-9)";
    FILE *f = fopen(REFS, "r");
    if (!f) { SKIP(name, "%s is absent (python3 scripts/gen_metric_refs.py)", REFS); return; }
    TEST_BEGIN();
    size_t cap = 1 << 16, rows = 0, bad = 0;
    char *line = malloc(cap);
    int n_per[8] = {0};
    static const char *const metrics[8] = {"qa_f1", "rouge1", "rouge2", "rougeL", "classification", "retrieval", "count", "code_sim"};
    while (line && getline(&line, &cap, f) > 0) {
        if (line[0] == '#' || !strncmp(line, "metric\t", 7)) continue;
        line[strcspn(line, "\n")] = 0;
        char *fld[5];
        int k = 0;
        for (char *p = line; k < 5; k++) {
            fld[k] = p;
            char *t = strchr(p, '\t');
            if (!t) { k++; break; }
            *t = 0;
            p = t + 1;
        }
        if (k != 5) { CHECK(0, "row %zu has %d fields", rows + 1, k); break; }
        const char *metric = fld[0], *pred = unescape(fld[2]), *gold = unescape(fld[3]);
        const double want = strtod(fld[4], NULL);
        double got = -1;
        if (!strcmp(metric, "qa_f1")) got = metric_qa_f1(pred, gold);
        else if (!strcmp(metric, "rouge1")) got = metric_rouge_n(pred, gold, 1);
        else if (!strcmp(metric, "rouge2")) got = metric_rouge_n(pred, gold, 2);
        else if (!strcmp(metric, "rougeL")) got = metric_rouge_l(pred, gold);
        else if (!strcmp(metric, "retrieval")) got = metric_retrieval(pred, gold);
        else if (!strcmp(metric, "count")) got = metric_count(pred, gold);
        else if (!strcmp(metric, "code_sim")) got = metric_code_sim(pred, gold);
        else if (!strcmp(metric, "classification")) {
            const char *cls[64];
            int nc = 0;
            for (char *p = unescape(fld[1]); p && nc < 64;) {
                cls[nc++] = p;
                p = strchr(p, '|');
                if (p) *p++ = 0;
            }
            got = metric_classification(pred, gold, cls, nc);
        }
        for (int i = 0; i < 8; i++) n_per[i] += !strcmp(metric, metrics[i]);
        rows++;
        if (!(fabs(got - want) <= 1e-9)) {
            if (bad++ < 8) printf("  %s: got %.12g, want %.12g\n    pred: %.120s\n    gold: %.120s\n", metric, got, want, pred, gold);
        }
    }
    free(line);
    fclose(f);
    printf("  %zu rows:", rows);
    for (int i = 0; i < 8; i++) printf(" %s %d", metrics[i], n_per[i]);
    printf("; %zu differ\n", bad);
    CHECK(rows > 1000 && bad == 0, "%zu of %zu rows differ", bad, rows);
    TEST_END(name);
}

int main(void) {
    test_hand();
    test_refs();
    CHECK_EXIT();
}
