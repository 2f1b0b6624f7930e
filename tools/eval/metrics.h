/* LongBench and QMSum scoring (evaluation.md), in C. Each function scores one prediction against one
 * gold answer and returns a value in [0, 1]; a sample's score is the maximum over its gold answers.
 * The scores equal those of LongBench's Python code (metrics.py, rouge 1.0.1, rapidfuzz), checked
 * by tests/test_metrics.c against tests/data/metric_refs.tsv. Text is read as Python's
 * bytes.decode("utf-8", "replace") reads it (each invalid sequence is one U+FFFD), and Python's
 * Unicode rules (str.lower, str.split, re's \w and \d) apply. NULL reads as "". Every function
 * returns NAN if memory runs out. */
#ifndef EI_EVAL_METRICS_H
#define EI_EVAL_METRICS_H

#include <stddef.h>

/* qa F1: lowercase, drop ASCII punctuation and the words a/an/the, split on whitespace,
 * F1 of the multiset overlap. */
double metric_qa_f1(const char *pred, const char *gold);

/* ROUGE-N / ROUGE-L F as the PyPI package `rouge` 1.0.1 computes them (0 on empty input, i.e.
 * when the package raises). Case-sensitive; sentences split on '.', words on white space.
 * ROUGE-L is also 0 where the package's recursive LCS traceback exceeds Python's recursion limit
 * under LongBench's eval.py (a sentence pair needing more than 990 steps), as LongBench scores it. */
double metric_rouge_n(const char *pred, const char *gold, int n);
double metric_rouge_l(const char *pred, const char *gold);

/* trec: class names of all_classes found in pred (dropping those that are a strict substring of
 * gold, with LongBench's skip-after-removal); 1/len(matches) when gold is among them, else 0. */
double metric_classification(const char *pred, const char *gold, const char *const *all_classes, int n_classes);

/* passage_retrieval_en: the number N of "Paragraph N" in gold; share of the numbers in pred equal to N
 * (0 when gold has no "Paragraph N"). Numbers are runs of Unicode decimal digits. */
double metric_retrieval(const char *pred, const char *gold);

/* passage_count: share of the numbers in pred equal to the gold count. */
double metric_count(const char *pred, const char *gold);

/* lcc, repobench-p: first line of pred (after leading newlines) without '`', '#' or '//', then the
 * Indel similarity ratio (rapidfuzz fuzz.ratio / 100) with gold, over code points. LongBench
 * itself uses fuzzywuzzy, which rounds the same ratio to a whole percentage. */
double metric_code_sim(const char *pred, const char *gold);

/* The metric LongBench uses for a task name ("qa_f1", "rouge_l", ...), or NULL for unknown tasks. */
const char *metric_for_task(const char *task);

/* Scores pred for a task by name (applies the first-line rule of trec/triviaqa/samsum); 0 for an
 * unknown task. */
double metric_score_task(const char *task, const char *pred, const char *gold, const char *const *all_classes,
                         int n_classes);

#endif
