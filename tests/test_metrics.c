/* LongBench metrics (tools/eval/metrics.c): hand-made cases with values worked out by hand, the
 * rouge package's recursion limit, long and invalid inputs, then every row of
 * tests/data/metric_refs.tsv, whose scores the official Python code computed
 * (scripts/gen_metric_refs.py: LongBench's metrics.py, rouge 1.0.1, rapidfuzz). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tools/eval/metrics.h"
#include "check.h"

#define REFS "tests/data/metric_refs.tsv"
#define TOL 1e-9
#define NEAR(a, b) (fabs((a) - (b)) <= TOL)
/* the rouge package's F of precision p and recall r */
#define ROUGE_F(p, r) (2.0 * (((p) * (r)) / ((p) + (r) + 1e-8)))

static void test_qa_f1(void) {
    TEST_BEGIN();
    /* [cat, sat] against [cat, sat, down]: P 1, R 2/3, F1 0.8 */
    CHECK(NEAR(metric_qa_f1("The cat sat", "a cat sat down"), 0.8), "%g", metric_qa_f1("The cat sat", "a cat sat down"));
    CHECK(NEAR(metric_qa_f1("Paris!", "paris"), 1.0), "case and punctuation");
    CHECK(metric_qa_f1("", "paris") == 0.0 && metric_qa_f1("", "") == 0.0 && metric_qa_f1("the", "a") == 0.0, "empty");
    CHECK(metric_qa_f1("theater", "the ater") == 0.0, "'the' only as a whole word");
    /* [cat] against [cat, cat]: one in common, P 1, R 1/2 */
    CHECK(NEAR(metric_qa_f1("the the cat", "cat cat"), 2.0 / 3), "multiset");
    /* an article becomes a space: “the” -> [“, ”] (curly quotes are not ASCII punctuation) */
    CHECK(NEAR(metric_qa_f1("“The” cat", "“ ” cat"), 1.0), "curly quotes");
    CHECK(NEAR(metric_qa_f1("“The” cat", "“” cat"), 0.4), "curly quotes apart"); /* P 1/3, R 1/2 */
    CHECK(NEAR(metric_qa_f1("ΟΔΥΣΣΕΥΣ", "οδυσσευς"), 1.0), "final sigma");
    CHECK(NEAR(metric_qa_f1("İ", "i\xcc\x87"), 1.0), "dotted capital I lowers to i + U+0307");
    CHECK(NEAR(metric_qa_f1("Ёлка Straße", "ёлка straße"), 1.0), "Cyrillic, sharp s");
    CHECK(metric_qa_f1("the\xcc\x81", "\xcc\x81") == 1.0, "a combining accent is not \\w: 'the' before it goes");
    TEST_END("metrics: qa F1 by hand");
}

/* "w0 w1 ... w(n-1)" with an optional first word */
static char *word_list(const char *first, int n) {
    char *s = malloc((size_t)n * 8 + 16), *p = s;
    if (!s) return NULL;
    p += sprintf(p, "%s", first ? first : "");
    for (int i = first ? 1 : 0; i < n; i++) p += sprintf(p, "%sw%d", p == s ? "" : " ", i);
    return s;
}

static void test_rouge(void) {
    TEST_BEGIN();
    /* n-grams are sets: {a,b,c} vs {a,b,d} share 2 of 3; bigrams {ab,bc} vs {ab,bd} share 1 of 2 */
    CHECK(NEAR(metric_rouge_n("a b c", "a b d", 1), ROUGE_F(2.0 / 3, 2.0 / 3)), "rouge-1");
    CHECK(NEAR(metric_rouge_n("a b c", "a b d", 2), ROUGE_F(0.5, 0.5)), "rouge-2");
    CHECK(NEAR(metric_rouge_n("a a a b", "a b", 1), ROUGE_F(1.0, 1.0)), "repeated words count once");
    CHECK(metric_rouge_n("A", "a", 1) == 0.0, "case-sensitive");
    CHECK(metric_rouge_n("a", "a", 2) == 0.0, "no bigrams");
    /* LCS(a c d, a b c d) = a c d: R 3/3, P 3/4 */
    CHECK(NEAR(metric_rouge_l("a b c d", "a c d"), ROUGE_F(0.75, 1.0)), "rouge-L %g", metric_rouge_l("a b c d", "a c d"));
    /* summary level: LCS(a d, a b) = a and LCS(a d, c d) = d, union {a, d}: R 2/2, P 2/4 */
    CHECK(NEAR(metric_rouge_l("a b. c d", "a d"), ROUGE_F(0.5, 1.0)), "union LCS over sentences");
    CHECK(metric_rouge_n("", "a", 1) == 0.0 && metric_rouge_l("...", "a") == 0.0 && metric_rouge_l("a", "") == 0.0,
          "no sentence: the package raises, LongBench scores 0");
    /* a blank sentence is one empty word, and two of them match */
    CHECK(NEAR(metric_rouge_l("   ", " "), ROUGE_F(1.0, 1.0)) && metric_rouge_l("   ", "a") == 0.0, "blank sentences");
    CHECK(NEAR(metric_rouge_n("x\xe2\x80\x83y", "x y", 1), ROUGE_F(1.0, 1.0)), "em space splits words");
    TEST_END("metrics: ROUGE by hand");

    /* LongBench's rouge_score gets 0 once a sentence pair's LCS traceback needs 991 steps (the
     * package recurses; Python's limit): scripts/gen_metric_refs.py checks the same boundary */
    TEST_BEGIN();
    char *w990 = word_list(NULL, 990), *w991 = word_list(NULL, 991), *z990 = word_list("zz", 990), *z991 = word_list("zz", 991);
    char *e991 = word_list(NULL, 990);
    if (w990 && w991 && z990 && z991 && e991) {
        strcat(e991, " zz");
        CHECK(NEAR(metric_rouge_l(w990, w990), ROUGE_F(1.0, 1.0)), "990 steps: %g", metric_rouge_l(w990, w990));
        CHECK(metric_rouge_l(w991, w991) == 0.0, "991 steps: %g", metric_rouge_l(w991, w991));
        CHECK(NEAR(metric_rouge_n(w991, w991, 1), ROUGE_F(1.0, 1.0)), "ROUGE-1 does not recurse");
        /* "zz" matched at the far end of a 990- or 991-word prediction */
        CHECK(NEAR(metric_rouge_l(z990, "zz"), ROUGE_F(1.0 / 990, 1.0)), "%g", metric_rouge_l(z990, "zz"));
        CHECK(metric_rouge_l(z991, "zz") == 0.0, "%g", metric_rouge_l(z991, "zz"));
        /* the other way round: up 990 rows to the match (too far), or a match at once */
        CHECK(metric_rouge_l("zz", z991) == 0.0, "%g", metric_rouge_l("zz", z991));
        CHECK(NEAR(metric_rouge_l("zz", e991), ROUGE_F(1.0, 1.0 / 991)), "%g", metric_rouge_l("zz", e991));
    } else CHECK(0, "out of memory");
    free(w990), free(w991), free(z990), free(z991), free(e991);
    TEST_END("metrics: ROUGE-L is 0 where the rouge package hits Python's recursion limit");
}

static void test_others(void) {
    TEST_BEGIN();
    const char *cls[] = {"Location", "City", "Country", "Description"};
    CHECK(metric_classification("It is a City", "City", cls, 4) == 1.0, "one class");
    CHECK(metric_classification("City or Country", "City", cls, 4) == 0.5, "two classes");
    CHECK(metric_classification("Location", "City", cls, 4) == 0.0, "wrong class");
    CHECK(metric_classification("city", "City", cls, 4) == 0.0, "case matters");
    /* LongBench removes "York" (part of the gold) while iterating, and so never looks at "New" */
    const char *ny[] = {"New York", "York", "New", "Paris"};
    CHECK(metric_classification("New York, York or New", "New York", ny, 4) == 0.5, "LongBench's list.remove quirk");
    /* [New York, York, New, Paris] -> "York" removed -> "Paris" is looked at next -> 3 left */
    CHECK(NEAR(metric_classification("New York or Paris", "New York", ny, 4), 1.0 / 3), "the skipped name counts");
    CHECK(metric_retrieval("Paragraph 3, or 4", "Paragraph 3") == 0.5, "retrieval");
    CHECK(metric_retrieval("none", "Paragraph 3") == 0.0 && metric_retrieval("3", "no id") == 0.0, "no numbers, no id");
    CHECK(metric_retrieval("Paragraph 3 and \xef\xbc\x93", "Paragraph 3") == 0.5, "a full-width 3 is a number, not 3");
    CHECK(metric_count("7 7 9 17", "7") == 0.5, "count");
    CHECK(metric_count("\xd9\xa7 7", "7") == 0.5, "Arabic-Indic 7 is a number");
    CHECK(metric_count("7\xc2\xb2", "7") == 1.0, "superscript two is not \\d");
    CHECK(metric_code_sim("# c\nabcd", "abcd") == 1.0, "code: first line without #");
    CHECK(metric_code_sim("abcd", "abce") == 0.75, "code: Indel 2 of 8");
    CHECK(metric_code_sim("", "") == 1.0 && metric_code_sim("", "ab") == 0.0, "code: empty");
    CHECK(metric_code_sim("`x`\n# y\n// z", "ab") == 0.0, "code: no acceptable line");
    CHECK(metric_code_sim("\n\na/b\nq", "a/b") == 1.0, "code: one slash is fine");
    CHECK(NEAR(metric_code_sim("日本", "日本語"), 0.8), "code: code points, not bytes");
    CHECK(metric_code_sim("é", "e") == 0.0, "code: é is one code point");
    TEST_END("metrics: classification, retrieval, count, code similarity by hand");

    TEST_BEGIN();
    static const char *const tasks[][2] = {
        {"narrativeqa", "qa_f1"}, {"qasper", "qa_f1"}, {"multifieldqa_en", "qa_f1"}, {"hotpotqa", "qa_f1"}, {"2wikimqa", "qa_f1"},
        {"musique", "qa_f1"}, {"triviaqa", "qa_f1"}, {"gov_report", "rouge_l"}, {"qmsum", "rouge_l"}, {"multi_news", "rouge_l"},
        {"samsum", "rouge_l"}, {"trec", "classification"}, {"passage_retrieval_en", "retrieval"}, {"passage_count", "count"},
        {"lcc", "code_sim"}, {"repobench-p", "code_sim"}};
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++)
        CHECK(metric_for_task(tasks[i][0]) && !strcmp(metric_for_task(tasks[i][0]), tasks[i][1]), "%s", tasks[i][0]);
    CHECK(!metric_for_task("nope") && !metric_for_task("multifieldqa_zh") && !metric_for_task(NULL), "unknown tasks");
    CHECK(metric_score_task("trec", "\nCity\nCountry", "City", cls, 4) == 1.0, "first-line rule (trec)");
    CHECK(metric_score_task("triviaqa", "\n\nParis\nLondon", "London", NULL, 0) == 0.0, "first-line rule (triviaqa)");
    CHECK(NEAR(metric_score_task("samsum", "\n\nx y\nz", "x y", NULL, 0), ROUGE_F(1.0, 1.0)), "first-line rule (samsum)");
    CHECK(NEAR(metric_score_task("hotpotqa", "London\nParis", "Paris", NULL, 0), 2.0 / 3), "no first-line rule");
    CHECK(metric_score_task("lcc", "\n# c\nabcd", "abcd", NULL, 0) == 1.0, "code: its own line rule");
    CHECK(metric_score_task("nope", "a", "a", NULL, 0) == 0.0, "unknown task scores 0");
    TEST_END("metrics: task map and first-line rule");
}

/* Random bytes, half of them from the UTF-8 lead/continuation ranges: nothing may crash (ASan
 * runs this too) and every score stays in [0, 1]. */
static void test_garbage(void) {
    TEST_BEGIN();
    uint32_t seed = 12345;
    char a[200], b[200];
    const char *cls[] = {"\xc3", "a", "", "\xff\xfe"};
    int bad = 0;
    for (int it = 0; it < 3000; it++) {
        for (int k = 0; k < 2; k++) {
            char *s = k ? b : a;
            seed = seed * 1103515245u + 12345u;
            const int n = (int)(seed >> 16) % 199;
            for (int i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                const unsigned r = seed >> 16, pick = r % 8;
                s[i] = (char)(pick < 2 ? 0x80 + r % 64 : pick < 4 ? 0xC0 + r % 64 : pick == 4 ? (unsigned char)"a .\n7#`/"[r % 8] : 1 + r % 255);
            }
            s[n] = 0;
        }
        const double v[] = {metric_qa_f1(a, b), metric_rouge_n(a, b, 1), metric_rouge_n(a, b, 2), metric_rouge_n(a, b, 3),
                            metric_rouge_l(a, b), metric_classification(a, b, cls, 4), metric_retrieval(a, b),
                            metric_count(a, b), metric_code_sim(a, b), metric_score_task("samsum", a, b, NULL, 0)};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) bad += !(v[i] >= 0 && v[i] <= 1);
    }
    CHECK(bad == 0, "%d scores outside [0, 1]", bad);
    CHECK(metric_qa_f1(NULL, "a") == 0.0 && metric_rouge_l(NULL, NULL) == 0.0 && metric_code_sim(NULL, NULL) == 1.0, "NULL is empty");
    TEST_END("metrics: invalid UTF-8 and random bytes");
}

/* A 100 KB prediction against a 10 KB gold answer, for every metric, in reasonable time. */
static void test_long(void) {
    TEST_BEGIN();
    const size_t np = 100000, ng = 10000;
    char *p = malloc(np + 1), *g = malloc(ng + 1), *line = malloc(np + 1);
    if (!p || !g || !line) { CHECK(0, "out of memory"); free(p), free(g), free(line); TEST_END("metrics: long inputs"); return; }
    uint32_t seed = 7;
    for (size_t i = 0; i < np; i++) { /* words of 1-8 letters, a sentence every ~15 words */
        seed = seed * 1103515245u + 12345u;
        const unsigned r = seed >> 16;
        p[i] = r % 6 == 0 ? ' ' : r % 97 == 0 ? '.' : (char)('a' + r % 8);
        line[i] = (char)('a' + r % 26);
    }
    p[np] = line[np] = 0;
    memcpy(g, p + 3 * ng, ng), g[ng] = 0;
    const clock_t t0 = clock();
    const double v[] = {metric_qa_f1(p, g), metric_rouge_n(p, g, 1), metric_rouge_n(p, g, 2), metric_rouge_l(p, g),
                        metric_count(p, g), metric_code_sim(p, g)};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) CHECK(v[i] >= (i == 4 ? 0 : 0.01) && v[i] <= 1, "metric %zu: %g", i, v[i]);
    /* one 100 000-letter line against 10 000 of its letters: LCS 10 000, Indel 90 000 of 110 000 */
    memcpy(g, line + 5000, ng);
    CHECK(NEAR(metric_code_sim(line, g), 1.0 - 90000.0 / 110000.0), "code: %.12g", metric_code_sim(line, g));
    /* one 100 KB sentence: far past the package's recursion limit, so 0 (and quick) */
    for (size_t i = 0; i < np; i++) p[i] = p[i] == '.' ? ' ' : p[i];
    for (size_t i = 0; i < ng; i++) g[i] = g[i] == '.' ? ' ' : g[i];
    CHECK(metric_rouge_l(p, g) == 0.0, "one long sentence");
    const double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("  long inputs: %.2f s of CPU\n", secs);
    CHECK(secs < 60, "%.1f s", secs);
    free(p), free(g), free(line);
    TEST_END("metrics: a 100 KB prediction against a 10 KB answer");
}

/* Undoes the TSV escapes in place: \\ \t \n \r \xHH. */
static char *unescape(char *s) {
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p != '\\' || !p[1]) { *o++ = *p; continue; }
        p++;
        if (*p == 'x' && p[1] && p[2]) {
            char hex[3] = {p[1], p[2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            p += 2;
        } else *o++ = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p;
    }
    *o = 0;
    return s;
}

enum { M_QA, M_R1, M_R2, M_RL, M_CLS, M_RET, M_CNT, M_CODE, M_SCORE, M_N };
static const char *const metric_names[M_N] = {"qa_f1", "rouge1", "rouge2", "rougeL", "classification",
                                              "retrieval", "count", "code_sim", "score"};

static void test_refs(void) {
    const char *name = "metrics: every reference row equals the score of LongBench's Python code";
    FILE *f = fopen(REFS, "r");
    if (!f) { SKIP(name, "%s is absent (python3 scripts/gen_metric_refs.py makes it)", REFS); return; }
    TEST_BEGIN();
    char *line = NULL, *classes = NULL;
    size_t cap = 0, checks = 0, exact = 0, bad = 0, lineno = 0;
    int per[M_N] = {0}, nc = 0;
    const char *cls[128];
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        if (line[0] == '#' || !strncmp(line, "metric\t", 7)) continue;
        line[strcspn(line, "\n")] = 0;
        char *fld[5];
        int k = 0;
        for (char *p = line; p && k < 5; k++) {
            fld[k] = p;
            p = strchr(p, '\t');
            if (p) *p++ = 0;
        }
        if (k != 5) { CHECK(0, "line %zu: %d fields", lineno, k); bad++; continue; }
        const char *metric = fld[0], *task = fld[1], *pred = unescape(fld[2]), *gold = unescape(fld[3]);
        if (!strcmp(metric, "classes")) { /* the class list of the rows that follow */
            free(classes);
            classes = strdup(pred);
            nc = 0;
            for (char *p = classes; p && nc < 128;) {
                cls[nc++] = p;
                if ((p = strchr(p, '|'))) *p++ = 0;
            }
            continue;
        }
        double want[3], got[3];
        int n = 1, m[3];
        want[0] = strtod(fld[4], NULL);
        if (!strcmp(metric, "rouge")) {
            char *e;
            n = 3, m[0] = M_R1, m[1] = M_R2, m[2] = M_RL;
            want[0] = strtod(fld[4], &e), want[1] = strtod(e, &e), want[2] = strtod(e, NULL);
            got[0] = metric_rouge_n(pred, gold, 1), got[1] = metric_rouge_n(pred, gold, 2), got[2] = metric_rouge_l(pred, gold);
        } else if (!strcmp(metric, "qa_f1")) m[0] = M_QA, got[0] = metric_qa_f1(pred, gold);
        else if (!strcmp(metric, "classification")) m[0] = M_CLS, got[0] = metric_classification(pred, gold, cls, nc);
        else if (!strcmp(metric, "retrieval")) m[0] = M_RET, got[0] = metric_retrieval(pred, gold);
        else if (!strcmp(metric, "count")) m[0] = M_CNT, got[0] = metric_count(pred, gold);
        else if (!strcmp(metric, "code_sim")) m[0] = M_CODE, got[0] = metric_code_sim(pred, gold);
        else if (!strcmp(metric, "score")) m[0] = M_SCORE, got[0] = metric_score_task(task, pred, gold, cls, nc);
        else { CHECK(0, "line %zu: unknown metric '%s'", lineno, metric); bad++; continue; }
        for (int i = 0; i < n; i++) {
            checks++, per[m[i]]++;
            exact += got[i] == want[i];
            if (fabs(got[i] - want[i]) <= TOL) continue;
            if (bad++ < 10)
                printf("  line %zu %s (%s): got %.17g, want %.17g\n    pred: %.150s\n    gold: %.150s\n", lineno,
                       metric_names[m[i]], task, got[i], want[i], pred, gold);
        }
    }
    free(line), free(classes);
    fclose(f);
    printf("  %zu reference scores from %s match to %g (%zu of them bit-identical):", checks - bad, REFS, TOL, exact);
    for (int i = 0; i < M_N; i++) printf(" %s %d%s", metric_names[i], per[i], i + 1 < M_N ? "," : "\n");
    CHECK(bad == 0 && checks > 1000, "%zu of %zu differ", bad, checks);
    TEST_END(name);
}

int main(void) {
    test_qa_f1();
    test_rouge();
    test_others();
    test_garbage();
    test_long();
    test_refs();
    CHECK_EXIT();
}
