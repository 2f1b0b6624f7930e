/* SVG heat map and line chart (see svg.h). The document is built in memory, then written to
 * PATH.tmp.PID and renamed over PATH. */
#include "svg.h"
#include "errmsg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct { char *s; size_t len, cap; int failed; } sbuf;

static void put(sbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        const int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { b->failed = 1; return; }
        if (b->s && b->len + (size_t)n < b->cap) { b->len += (size_t)n; return; }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->len + (size_t)n) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) { b->failed = 1; return; }
        b->s = p, b->cap = cap;
    }
}

/* Text content or attribute value, escaped for XML. */
static void put_text(sbuf *b, const char *t) {
    for (const unsigned char *p = (const unsigned char *)(t ? t : ""); *p && !b->failed; p++) {
        switch (*p) {
        case '&': put(b, "&amp;"); break;
        case '<': put(b, "&lt;"); break;
        case '>': put(b, "&gt;"); break;
        case '"': put(b, "&quot;"); break;
        case '\'': put(b, "&apos;"); break;
        default: put(b, "%c", *p < 0x20 && *p != '\t' && *p != '\n' ? '?' : (char)*p); /* XML 1.0 forbids controls */
        }
    }
}

static int finish(sbuf *b, const char *path, char *err, size_t err_cap) {
    put(b, "</svg>\n");
    if (b->failed) {
        free(b->s);
        errmsg_set(err, err_cap, "%s: out of memory", path);
        return -1;
    }
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        free(b->s);
        errmsg_set(err, err_cap, "%s: path too long", path);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    int ok = f && fwrite(b->s, 1, b->len, f) == b->len;
    const int saved = errno;
    ok = f && !fclose(f) && ok;
    free(b->s);
    if (!ok || rename(tmp, path)) {
        errmsg_set(err, err_cap, "%s: cannot write (%s)", path, strerror(ok ? errno : saved));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void open_svg(sbuf *b, int w, int h, const char *title) {
    put(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    put(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
           "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n", w, h, w, h);
    put(b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", w, h);
    if (title) {
        put(b, "<text x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\" text-anchor=\"middle\">", w / 2);
        put_text(b, title);
        put(b, "</text>\n");
    }
}

/* red (0) -> yellow (0.5) -> green (1) */
static void colour(double v, int rgb[3]) {
    static const int stops[3][3] = {{215, 48, 39}, {254, 224, 139}, {26, 152, 80}};
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    const int i = v < 0.5 ? 0 : 1;
    const double t = v < 0.5 ? v * 2 : (v - 0.5) * 2;
    for (int c = 0; c < 3; c++) rgb[c] = (int)lround(stops[i][c] + t * (stops[i + 1][c] - stops[i][c]));
}

static int max_len(const char *const *s, int n) {
    size_t m = 0;
    for (int i = 0; i < n; i++)
        if (s && s[i] && strlen(s[i]) > m) m = strlen(s[i]);
    return (int)(m > 40 ? 40 : m);
}

int svg_heatmap(const char *path, const svg_heatmap_spec *h, char *err, size_t err_cap) {
    if (!path || !h || h->n_rows < 0 || h->n_cols < 0 || ((h->n_rows && h->n_cols) && (!h->values || !h->rows || !h->cols))) {
        errmsg_set(err, err_cap, "svg_heatmap: bad arguments");
        return -1;
    }
    const int cw = 64, ch = 30, left = 40 + 7 * max_len(h->rows, h->n_rows), top = 78;
    const int w = left + cw * (h->n_cols > 1 ? h->n_cols : 1) + 30, hgt = top + ch * (h->n_rows > 1 ? h->n_rows : 1) + 70;
    const int width = w < 360 ? 360 : w;
    sbuf b = {0};
    open_svg(&b, width, hgt, h->title);
    if (h->col_label) {
        put(&b, "<text x=\"%d\" y=\"44\" text-anchor=\"middle\">", left + cw * h->n_cols / 2);
        put_text(&b, h->col_label);
        put(&b, "</text>\n");
    }
    if (h->row_label) {
        put(&b, "<text transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\">", top + ch * h->n_rows / 2);
        put_text(&b, h->row_label);
        put(&b, "</text>\n");
    }
    for (int j = 0; j < h->n_cols; j++) {
        put(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", left + cw * j + cw / 2, top - 8);
        put_text(&b, h->cols[j]);
        put(&b, "</text>\n");
    }
    for (int i = 0; i < h->n_rows; i++) {
        const int y = top + ch * i;
        put(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6, y + ch / 2 + 4);
        put_text(&b, h->rows[i]);
        put(&b, "</text>\n");
        for (int j = 0; j < h->n_cols; j++) {
            const double v = h->values[(size_t)i * (size_t)h->n_cols + (size_t)j];
            int rgb[3] = {200, 200, 200};
            char label[32] = "n/a";
            if (!isnan(v)) {
                colour(v, rgb);
                if (h->percent) snprintf(label, sizeof label, "%.0f%%", 100 * v);
                else snprintf(label, sizeof label, "%.2f", v);
            }
            /* white text on the dark ends of the scale */
            const int dark = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 130;
            put(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" stroke=\"white\"/>", left + cw * j,
                y, cw, ch, rgb[0], rgb[1], rgb[2]);
            put(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">%s</text>\n", left + cw * j + cw / 2,
                y + ch / 2 + 4, dark ? "white" : (isnan(v) ? "#555" : "black"), label);
        }
    }
    if (!h->n_rows || !h->n_cols) put(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no data</text>\n", width / 2, top + 20);
    /* legend: the colour scale in five steps */
    const int ly = top + ch * (h->n_rows > 1 ? h->n_rows : 1) + 24;
    for (int k = 0; k <= 4; k++) {
        int rgb[3];
        colour(k / 4.0, rgb);
        put(&b, "<rect x=\"%d\" y=\"%d\" width=\"36\" height=\"12\" fill=\"rgb(%d,%d,%d)\"/>", left + 36 * k, ly, rgb[0], rgb[1],
            rgb[2]);
        put(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%s</text>\n", left + 36 * k + 18, ly + 26,
            h->percent ? (const char *[]){"0%", "25%", "50%", "75%", "100%"}[k]
                       : (const char *[]){"0", "0.25", "0.5", "0.75", "1"}[k]);
    }
    return finish(&b, path, err, err_cap);
}

/* Axis label of a position: 8192 -> "8K", 1048576 -> "1M", else the shortest form. */
static void num_label(double x, char *out, size_t cap) {
    if (x >= 1024 && fmod(x, 1048576) == 0) snprintf(out, cap, "%gM", x / 1048576);
    else if (x >= 1024 && fmod(x, 1024) == 0) snprintf(out, cap, "%gK", x / 1024);
    else snprintf(out, cap, "%g", x);
}

static double nice_step(double span) {
    const double raw = span / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return mag * (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10);
}

int svg_line_chart(const char *path, const svg_line_spec *c, char *err, size_t err_cap) {
    if (!path || !c || c->n_x < 0 || c->n_series < 0 || (c->n_x && !c->x) || (c->n_series && !c->series)) {
        errmsg_set(err, err_cap, "svg_line_chart: bad arguments");
        return -1;
    }
    for (int i = 0; i < c->n_x; i++)
        if (!isfinite(c->x[i]) || (c->log2_x && c->x[i] <= 0) || (i && c->x[i] <= c->x[i - 1])) {
            errmsg_set(err, err_cap, "svg_line_chart: x must be finite, increasing%s", c->log2_x ? " and positive" : "");
            return -1;
        }
    static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
    const int W = 760, H = 420, L = 70, T = 44, B = 56;
    int name_len = 0;
    for (int s = 0; s < c->n_series; s++)
        if (c->series[s].name && (int)strlen(c->series[s].name) > name_len) name_len = (int)strlen(c->series[s].name);
    const int R = 40 + 7 * (name_len > 40 ? 40 : name_len), PW = W - L - R, PH = H - T - B;
    /* y range: fixed, or the data's with ticks at "nice" steps */
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < c->n_series; s++)
        for (int i = 0; c->series[s].y && i < c->n_x; i++)
            if (isfinite(c->series[s].y[i])) lo = fmin(lo, c->series[s].y[i]), hi = fmax(hi, c->series[s].y[i]);
    if (c->y_fixed) lo = c->y_min, hi = c->y_max;
    if (!(lo < hi)) lo = isfinite(lo) ? lo - 1 : 0, hi = isfinite(hi) ? hi + 1 : 1;
    const double step = nice_step(hi - lo);
    if (!c->y_fixed) lo = floor(lo / step) * step, hi = ceil(hi / step) * step;
    const double x0 = c->n_x ? c->x[0] : 0, x1 = c->n_x ? c->x[c->n_x - 1] : 1;
    const double fx0 = c->log2_x ? log2(x0 > 0 ? x0 : 1) : x0, fx1 = c->log2_x ? log2(x1 > 0 ? x1 : 1) : x1;
    /* points are inset from the frame so that markers at the ends stay whole */
#define PX(x) (L + 12 + (fx1 > fx0 ? ((c->log2_x ? log2(x) : (x)) - fx0) / (fx1 - fx0) * (PW - 24) : (PW - 24) / 2.0))
#define PY(y) (T + PH - ((y) - lo) / (hi - lo) * PH)
    sbuf b = {0};
    open_svg(&b, W, H, c->title);
    put(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", L, T, PW, PH);
    for (double y = lo; y <= hi + step * 1e-9; y += step) {
        char lab[32];
        snprintf(lab, sizeof lab, "%g", fabs(y) < step * 1e-9 ? 0 : y);
        put(&b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>", L, L + PW, PY(y), PY(y));
        put(&b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", L - 6, PY(y) + 4, lab);
    }
    for (int i = 0; i < c->n_x; i++) {
        char lab[32];
        num_label(c->x[i], lab, sizeof lab);
        put(&b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#e5e5e5\"/>", PX(c->x[i]), PX(c->x[i]), T, T + PH);
        put(&b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", PX(c->x[i]), T + PH + 16, lab);
    }
    if (c->x_label) {
        put(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", L + PW / 2, H - 14);
        put_text(&b, c->x_label);
        put(&b, "</text>\n");
    }
    if (c->y_label) {
        put(&b, "<text transform=\"translate(18 %d) rotate(-90)\" text-anchor=\"middle\">", T + PH / 2);
        put_text(&b, c->y_label);
        put(&b, "</text>\n");
    }
    for (int s = 0; s < c->n_series; s++) {
        const char *col = palette[s % (int)(sizeof palette / sizeof *palette)];
        const double *y = c->series[s].y;
        int open = 0; /* a polyline is being written; NaN ends it */
        for (int i = 0; y && i < c->n_x; i++) {
            if (!isfinite(y[i])) {
                if (open) put(&b, "\"/>\n"), open = 0;
                continue;
            }
            if (!open) put(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col), open = 1;
            put(&b, "%.1f,%.1f ", PX(c->x[i]), PY(y[i]));
        }
        if (open) put(&b, "\"/>\n");
        for (int i = 0; y && i < c->n_x; i++)
            if (isfinite(y[i])) put(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", PX(c->x[i]), PY(y[i]), col);
        const int ly = T + 10 + 18 * s;
        put(&b, "\n<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>", L + PW + 12, L + PW + 30,
            ly, ly, col);
        put(&b, "<text x=\"%d\" y=\"%d\">", L + PW + 36, ly + 4);
        put_text(&b, c->series[s].name);
        put(&b, "</text>\n");
    }
    if (!c->n_x || !c->n_series) put(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no data</text>\n", L + PW / 2, T + PH / 2);
#undef PX
#undef PY
    return finish(&b, path, err, err_cap);
}
