/* Small dependency-free SVG charts for the evaluation report: a heat map and a line chart. Files are
 * written through a temporary file and a rename, so a reader never sees half a chart. Text is escaped
 * for XML; it must be UTF-8 (as every string parsed from a run file is). */
#ifndef EI_EVAL_SVG_H
#define EI_EVAL_SVG_H

#include <stddef.h>

/* Rows x columns of values in [0, 1] (row-major; NaN = no data, drawn grey with "n/a"), each cell
 * coloured red (0) - yellow - green (1) and labelled with its value. */
typedef struct {
    const char *title, *row_label, *col_label; /* axis titles; NULL = none */
    const char *const *rows;                   /* n_rows labels, top to bottom */
    const char *const *cols;                   /* n_cols labels, left to right */
    int n_rows, n_cols;
    const double *values;
    int percent; /* cell text "83%" instead of "0.83" */
} svg_heatmap_spec;

/* One line: y[i] belongs to x[i] of the chart; NaN = no point there (the line breaks). */
typedef struct {
    const char *name;
    const double *y;
} svg_series;

typedef struct {
    const char *title, *x_label, *y_label;
    const double *x; /* n_x positions, increasing; > 0 when log2_x */
    int n_x;
    int log2_x;      /* x axis on a log2 scale (context lengths) */
    const svg_series *series;
    int n_series;
    int y_fixed;     /* 1: the y axis spans [y_min, y_max]; 0: fitted to the data */
    double y_min, y_max;
} svg_line_spec;

/* 0, or -1 with a one-line message in err. */
int svg_heatmap(const char *path, const svg_heatmap_spec *h, char *err, size_t err_cap);
int svg_line_chart(const char *path, const svg_line_spec *c, char *err, size_t err_cap);

#endif
