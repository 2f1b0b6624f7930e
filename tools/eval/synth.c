/* Passkey and needle prompts (evaluation.md). A prompt is prefix + body + suffix with one sentence
 * (the key or the needle) inside the body at a sentence boundary. The body is a prefix of a source
 * text (filler sentences, or the haystack repeated) cut at a word boundary; its byte length is found
 * by a bracketed secant search on the token count of the whole prompt. Token counts are nearly
 * linear in bytes, so a 128K-token prompt costs a handful of count-only tokenizer passes. */
#include "synth.h"
#include "errmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Passkey filler: no digits (the key is the only number) and no word "key". */
static const char *const filler[] = {
    "The weather station on the ridge records the wind every hour, and nobody minds the creak of its vane.",
    "Down in the harbour, the fishing boats are painted in colours that fade a little more each summer.",
    "A path of flat stones leads from the school to the library, and children count them on the way home.",
    "In the market square, an old man sells honey in jars that he labels by hand.",
    "The ferry timetable changes twice a year, and the posters announcing it always go up late.",
    "Fog often settles over the valley in the early morning and lifts slowly as the sun climbs.",
    "The baker keeps a notebook of every loaf that failed, because she says mistakes teach more than successes.",
    "Along the canal, herons stand so still that visitors mistake them for statues.",
    "The town council meets in a hall whose roof leaks whenever the rain comes from the east.",
    "On quiet evenings, the sound of a violin drifts from an open window above the hardware shop.",
    "The museum shows a collection of maps drawn before the coast road was built.",
    "Each spring, volunteers repair the dry stone walls that the winter frost has pushed apart.",
    "The train to the city stops here only when someone waves from the platform.",
    "A pair of foxes lives under the footbridge, and the gardeners have given up chasing them away.",
    "The old beacon on the point has not guided a ship in decades, yet its lamp is still polished every week.",
    "Students from the college collect moss on the hillside and argue about what to call each kind.",
    "The postman knows which dogs bark and which ones merely watch him pass.",
    "When the river rises, the stepping stones disappear and the long way round becomes the only way.",
    "Autumn brings the apple harvest, and for a few weeks every kitchen smells of cinnamon.",
    "The chess players in the cafe rarely speak, but they nod to each other when a game is over.",
    /* short ones, so that sentence ends are frequent and the body can end on one near any length */
    "Rain came in the afternoon.", "The bells rang at noon.", "A cart rattled past.", "The wind turned cold.",
    "Gulls circled the pier.", "Someone laughed upstairs.", "The kettle whistled.", "Snow lay on the hills.",
};
#define N_FILLER (sizeof filler / sizeof *filler)

/* Needles: facts that the essays never mention (their answers do not occur in pg_essays). */
typedef struct { const char *fact, *question, *answer; } needle;
static const needle needles[] = {
    {"On Korvin Island, the lighthouse keeper's cat is called Marmalade.",
     "What is the name of the lighthouse keeper's cat on Korvin Island?", "Marmalade"},
    {"The ferry that crosses Lake Omberg each morning is named the Silver Heron.",
     "What is the name of the ferry that crosses Lake Omberg each morning?", "Silver Heron"},
    {"The bell tower of the village of Esker Vale has exactly 342 steps.",
     "How many steps does the bell tower of Esker Vale have?", "342"},
    {"The rowing club of Dunmere keeps its boats in a shed painted tangerine.",
     "What colour is the shed where the rowing club of Dunmere keeps its boats?", "tangerine"},
    {"The beekeeper Ottilie Varga flavours her finest honey with saffron.",
     "What does the beekeeper Ottilie Varga flavour her finest honey with?", "saffron"},
    {"The oldest yew tree in Brannock Forest is known to the locals as Old Wystan.",
     "What do the locals call the oldest yew tree in Brannock Forest?", "Wystan"},
    {"The observatory on Mount Quillon listed the first comet it discovered as number 4817.",
     "Under which number did the observatory on Mount Quillon list the first comet it discovered?", "4817"},
    {"The door of the Bramblewick chess club is painted periwinkle.",
     "What colour is the door of the Bramblewick chess club?", "periwinkle"},
};
#define N_NEEDLES (sizeof needles / sizeof *needles)

#define MAX_SOURCE ((size_t)1 << 30) /* far beyond any context a model here supports */

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

typedef struct {
    const ei_model *m;
    const char *prefix, *insert, *suffix;
    int depth;
    const char *hay; /* needle: the text repeated as the source; NULL: passkey filler */
    size_t hay_len;
    uint64_t rng;    /* passkey: filler sentence order */
    size_t last;     /* passkey: index of the previous sentence (no immediate repeats) */
    char *src;       /* the body source; grows by appending, so its prefix never changes */
    size_t src_len, src_cap;
    char *buf;       /* the prompt being measured */
    size_t buf_cap;
    char *err;
    size_t err_cap;
} layout;

static int append(layout *l, const char *s, size_t n) {
    if (l->src_len + n + 1 > l->src_cap) {
        size_t cap = l->src_cap ? l->src_cap : 4096;
        while (cap < l->src_len + n + 1) cap *= 2;
        char *p = realloc(l->src, cap);
        if (!p) { errmsg_set(l->err, l->err_cap, "out of memory (prompt source of %zu bytes)", cap); return -1; }
        l->src = p, l->src_cap = cap;
    }
    memcpy(l->src + l->src_len, s, n);
    l->src_len += n;
    l->src[l->src_len] = 0;
    return 0;
}

/* Extends the source to at least `need` bytes; it always ends with whitespace. */
static int grow(layout *l, size_t need) {
    if (need > MAX_SOURCE) { errmsg_set(l->err, l->err_cap, "prompt of %zu bytes is too long", need); return -1; }
    while (l->src_len < need) {
        if (l->hay) {
            if (append(l, l->hay, l->hay_len) || append(l, "\n\n", 2)) return -1;
            continue;
        }
        size_t i = (size_t)(splitmix(&l->rng) % (N_FILLER - 1));
        i += i >= l->last; /* any sentence but the previous one */
        l->last = i;
        /* a paragraph break after about one sentence in five */
        const char *sep = splitmix(&l->rng) % 5 == 0 ? "\n\n" : " ";
        if (append(l, filler[i], strlen(filler[i])) || append(l, sep, strlen(sep))) return -1;
    }
    return 0;
}

/* Largest word boundary <= b: 0, or a position after a non-space byte and at a space. */
static size_t snap(const layout *l, size_t b) {
    if (b >= l->src_len) b = l->src_len - 1; /* the source ends with whitespace */
    while (b > 0 && !(is_space(l->src[b]) && !is_space(l->src[b - 1]))) b--;
    return b;
}

/* Smallest word boundary > b (growing the source as needed); 0 on error. */
static size_t next_boundary(layout *l, size_t b) {
    for (size_t p = b + 1;; p++) {
        if (p >= l->src_len && grow(l, l->src_len * 2 + 4096)) return 0;
        if (is_space(l->src[p]) && !is_space(l->src[p - 1])) return p;
    }
}

static int sentence_end(const char *s, size_t p) {
    if (p == 0 || !is_space(s[p])) return 0;
    char c = s[p - 1];
    if ((c == '"' || c == '\'' || c == ')') && p >= 2) c = s[p - 2];
    return c == '.' || c == '!' || c == '?';
}

/* Where the inserted sentence goes in body[0..b): the sentence boundary nearest to depth percent
 * (at 100, the body's last sentence end: a partial sentence left by the cut may follow). */
static size_t insert_at(const layout *l, size_t b) {
    if (l->depth <= 0 || b == 0) return 0;
    const size_t a = (size_t)((double)b * l->depth / 100.0);
    for (size_t d = 0; d <= b; d++) {
        if (d <= a && sentence_end(l->src, a - d)) return a - d;
        if (a + d < b && sentence_end(l->src, a + d)) return a + d;
    }
    return a <= b - a ? 0 : b; /* no sentence end at all: the nearer end of the body */
}

/* Writes the prompt with a body of b bytes into l->buf; returns its length or -1. */
static int64_t build(layout *l, size_t b) {
    const size_t np = strlen(l->prefix), ni = strlen(l->insert), ns = strlen(l->suffix), need = np + b + ni + ns + 3;
    if (need > l->buf_cap) {
        char *p = realloc(l->buf, need);
        if (!p) { errmsg_set(l->err, l->err_cap, "out of memory (prompt of %zu bytes)", need); return -1; }
        l->buf = p, l->buf_cap = need;
    }
    const size_t at = insert_at(l, b);
    size_t n = 0;
    memcpy(l->buf + n, l->prefix, np), n += np;
    memcpy(l->buf + n, l->src, at), n += at;
    if (at > 0 && !is_space(l->buf[n - 1])) l->buf[n++] = ' ';
    memcpy(l->buf + n, l->insert, ni), n += ni;
    if (at < b && !is_space(l->src[at])) l->buf[n++] = ' ';
    memcpy(l->buf + n, l->src + at, b - at), n += b - at;
    memcpy(l->buf + n, l->suffix, ns), n += ns;
    l->buf[n] = 0;
    return (int64_t)n;
}

static int64_t count(layout *l, const char *s, size_t n) {
    const int64_t t = ei_tokenize(l->m, s, n, 0, 0, NULL, 0);
    if (t < 0) errmsg_set(l->err, l->err_cap, "tokenizer: %s", ei_last_error());
    return t;
}

/* Token count of the prompt with a body of b bytes (b a word boundary), or -1. */
static int64_t measure(layout *l, size_t b) {
    const int64_t n = build(l, b);
    return n < 0 ? -1 : count(l, l->buf, (size_t)n);
}

/* Finds the body length whose prompt is closest to target tokens; returns the prompt or NULL. */
static char *fit(layout *l, int64_t target) {
    if (grow(l, 16384)) return NULL;
    const int64_t fixed = measure(l, 0);
    if (fixed < 0) return NULL;
    if (fixed > target) {
        errmsg_set(l->err, l->err_cap, "target of %lld tokens is too small: the question and the inserted sentence alone take %lld",
             (long long)target, (long long)fixed);
        return NULL;
    }
    const size_t sample = snap(l, 16384);
    const int64_t sample_tokens = sample ? count(l, l->src, sample) : 0;
    if (sample_tokens < 0) return NULL;
    double bytes_per_token = sample_tokens > 0 ? (double)sample / (double)sample_tokens : 4.0;
    const int64_t tol = target / 1000; /* stop when this close; whole words decide the rest */
    size_t lo = 0, hi = 0, best = 0;   /* hi = 0: no upper bracket yet */
    int64_t flo = fixed, fhi = 0, fbest = fixed;
    double guess = (double)(target - fixed) * bytes_per_token;
    for (int it = 0; it < 64 && llabs(fbest - target) > tol; it++) {
        if (guess >= (double)l->src_len && grow(l, (size_t)(guess * 1.25) + 4096)) return NULL;
        size_t b = snap(l, (size_t)(guess > 0 ? guess : 0));
        if (b <= lo || (hi && b >= hi)) b = hi ? snap(l, lo + (hi - lo) / 2) : lo;
        if (b <= lo) b = next_boundary(l, lo);
        if (b == 0) return NULL;
        if (hi && b >= hi) break; /* no word boundary between the brackets */
        const int64_t f = measure(l, b);
        if (f < 0) return NULL;
        if (llabs(f - target) < llabs(fbest - target)) best = b, fbest = f;
        if (f <= target) lo = b, flo = f;
        else hi = b, fhi = f;
        if (!hi) { /* extrapolate from the density seen so far, a little past the target */
            if (flo > fixed) bytes_per_token = (double)lo / (double)(flo - fixed);
            guess = (double)lo + (double)(target - flo) * bytes_per_token * 1.02 + 16;
        } else {
            guess = (double)lo + (double)(target - flo) * (double)(hi - lo) / (double)(fhi - flo);
        }
    }
    /* end the body with a whole sentence when one ends within 1% (or 3 tokens) of the target, so that
     * the question (or a key at depth 100) does not follow half a sentence */
    const int64_t slack = target / 100 > 3 ? target / 100 : 3;
    size_t below = best, above = best + 1;
    while (below > 0 && best - below < 4096 && !sentence_end(l->src, below)) below--;
    while (above + 1 < l->src_len && above - best < 4096 && !sentence_end(l->src, above)) above++;
    const size_t cands[2] = {below, above};
    size_t whole = 0;
    int64_t fwhole = 0;
    for (int c = 0; c < 2; c++) {
        if (cands[c] == 0 || cands[c] >= l->src_len || !sentence_end(l->src, cands[c])) continue;
        const int64_t f = measure(l, cands[c]);
        if (f < 0) return NULL;
        if (llabs(f - target) <= slack && (!whole || llabs(f - target) < llabs(fwhole - target))) whole = cands[c], fwhole = f;
    }
    if (whole) best = whole, fbest = fwhole;
    /* whole words can leave a small remainder; anything beyond 2% means the source cannot be cut finer */
    if (llabs(fbest - target) > 8 && llabs(fbest - target) * 50 > target) {
        errmsg_set(l->err, l->err_cap, "could not reach %lld tokens (closest: %lld)", (long long)target, (long long)fbest);
        return NULL;
    }
    const int64_t n = build(l, best);
    if (n < 0) return NULL;
    char *out = l->buf; /* exactly the prompt: hand the buffer over */
    l->buf = NULL;
    return out;
}

static void layout_free(layout *l) {
    free(l->src);
    free(l->buf);
}

static int check_args(const ei_model *m, int64_t target, int depth, int key, char *err, size_t cap) {
    if (!m) { errmsg_set(err, cap, "no model"); return -1; }
    if (target <= 0) { errmsg_set(err, cap, "target length must be positive, got %lld", (long long)target); return -1; }
    if (target > ((int64_t)1 << 24)) { errmsg_set(err, cap, "target length %lld is beyond 16M tokens", (long long)target); return -1; }
    if (depth < 0 || depth > 100) { errmsg_set(err, cap, "depth must be 0..100 percent, got %d", depth); return -1; }
    if (key < 0) { errmsg_set(err, cap, "key index must be 0 or more, got %d", key); return -1; }
    return 0;
}

#define PASSKEY_FILLER_SEED 0x5EED0F111E2ull /* the filler's sentence order (any fixed value) */

/* A key's random stream: the run's seed, the key's index and the cell (length and depth), so that
 * a caller reusing one seed across cells still varies. */
static uint64_t key_rng(uint64_t seed, int key, int64_t target, int depth) {
    uint64_t s = (seed * 1000003u + (uint64_t)key) ^ ((uint64_t)target * 0xD6E8FEB86659FD93ull) ^
                 ((uint64_t)depth * 0xA0761D6478BD642Full);
    splitmix(&s);
    return s;
}

void synth_passkey_answer(uint64_t seed, int key, int64_t target_tokens, int depth_pct, char out[16]) {
    uint64_t rng = key_rng(seed, key, target_tokens, depth_pct);
    snprintf(out, 16, "%05u", (unsigned)(10000 + splitmix(&rng) % 90000));
}

/* The needle of a key: its own draw, moved on to the next needle that no earlier key of the cell
 * took, so that the keys of a cell ask different questions (each run of N_NEEDLES keys asks all of
 * them once). A key whose draw was free keeps it: the draw of every key used to be the plain one,
 * and those keys' prompts are unchanged. */
static const needle *needle_of(uint64_t seed, int key, int64_t target_tokens, int depth_pct) {
    int taken[N_NEEDLES] = {0};
    size_t pick = 0;
    for (int j = key - key % (int)N_NEEDLES; j <= key; j++) {
        uint64_t rng = key_rng(seed, j, target_tokens, depth_pct);
        pick = (size_t)(splitmix(&rng) % N_NEEDLES);
        while (taken[pick]) pick = (pick + 1) % N_NEEDLES;
        taken[pick] = 1;
    }
    return &needles[pick];
}

const char *synth_needle_answer(uint64_t seed, int key, int64_t target_tokens, int depth_pct) {
    return needle_of(seed, key, target_tokens, depth_pct)->answer;
}

char *synth_passkey(const ei_model *m, int64_t target_tokens, int depth_pct, uint64_t seed, int key_index, char key_out[16],
                    char *err, size_t err_cap) {
    if (check_args(m, target_tokens, depth_pct, key_index, err, err_cap)) return NULL;
    char key[16], insert[96];
    synth_passkey_answer(seed, key_index, target_tokens, depth_pct, key);
    /* one filler stream for every cell, as in the original test's repeated filler: prompts differ
     * only in the key, where it sits and where the filler is cut, so a prompt's beginning is
     * shared with the other cells' (and prefilled once by the harness) */
    uint64_t filler_rng = PASSKEY_FILLER_SEED;
    snprintf(insert, sizeof insert, "Note this carefully: the pass key is %s.", key);
    layout l = {.m = m,
                .prefix = "Somewhere in the long text below there is a pass key, a number you will need later. "
                          "Read everything, find the pass key and remember it.\n\n",
                .insert = insert,
                .suffix = "\n\nWhat is the pass key given in the text above? Reply with the five-digit number only.",
                .depth = depth_pct,
                .rng = filler_rng,
                .last = N_FILLER,
                .err = err,
                .err_cap = err_cap};
    char *out = fit(&l, target_tokens);
    layout_free(&l);
    if (out && key_out) memcpy(key_out, key, sizeof key);
    return out;
}

char *synth_needle(const ei_model *m, const char *haystack, size_t haystack_len, int64_t target_tokens, int depth_pct,
                   uint64_t seed, int key, char answer_out[64], char *err, size_t err_cap) {
    if (check_args(m, target_tokens, depth_pct, key, err, err_cap)) return NULL;
    if (!haystack || haystack_len == 0) { errmsg_set(err, err_cap, "empty haystack"); return NULL; }
    if (memchr(haystack, 0, haystack_len)) { errmsg_set(err, err_cap, "haystack contains a NUL byte"); return NULL; }
    size_t words = 0;
    for (size_t i = 0; i < haystack_len && !words; i++) words = !is_space(haystack[i]);
    if (!words) { errmsg_set(err, err_cap, "haystack has no words"); return NULL; }
    const needle *nd = needle_of(seed, key, target_tokens, depth_pct);
    char suffix[256];
    snprintf(suffix, sizeof suffix, "\n\nQuestion: %s Answer in a few words, using the text above.", nd->question);
    layout l = {.m = m,
                .prefix = "Read the text below carefully; a question about it follows at the end.\n\n",
                .insert = nd->fact,
                .suffix = suffix,
                .depth = depth_pct,
                .hay = haystack,
                .hay_len = haystack_len,
                .err = err,
                .err_cap = err_cap};
    char *out = fit(&l, target_tokens);
    layout_free(&l);
    if (out && answer_out) snprintf(answer_out, 64, "%s", nd->answer);
    return out;
}
