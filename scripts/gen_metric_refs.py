#!/usr/bin/env python3
"""Reference scores and Unicode tables for the C LongBench metrics (tools/eval/metrics.c).

Writes two files (both committed, both deterministic for a given Python and package versions):

tests/data/metric_refs.tsv -- rows that tests/test_metrics.c checks one by one. Columns:
    metric  task  prediction  gold  expected
  metric is one of
    qa_f1, retrieval, count, code_sim, classification -- LongBench v1 metrics.py, transcribed below
        (qa_f1_score, retrieval_score, count_score, code_sim_score, classification_score); code_sim
        uses rapidfuzz fuzz.ratio / 100 (LongBench itself imports fuzzywuzzy, whose ratio is the
        same Indel similarity rounded to an integer percentage);
    rouge -- expected holds three numbers "R1 R2 RL": ROUGE-1 and ROUGE-2 F of the PyPI package
        rouge==1.0.1 (Rouge(metrics=[...]).get_scores([pred], [gold], avg=True), 0.0 when it
        raises), and ROUGE-L F exactly as LongBench's rouge_score() gets it at the stack depth it
        has under LongBench's eval.py (longbench_rouge_l below: the package's LCS traceback is
        recursive, a long sentence pair hits Python's recursion limit, and rouge_score's bare
        `except` turns that into 0.0);
    score -- LongBench eval.py's scorer for one gold answer: the first-line rule of trec, triviaqa
        and samsum, then the task's metric (metric_score_task in C); the task column names the task;
    classes -- not a check: sets the all_classes list ('|'-separated, in the prediction column) of
        the classification and score rows that follow it.
  Fields are UTF-8. Escapes: backslash as \\\\, tab \\t, LF \\n, CR \\r, and \\xHH for a raw
  byte that is not valid UTF-8 (rows that test invalid input: Python scores them on
  bytes.decode("utf-8", "replace"), the C code gets the raw bytes). Lines starting with '#' are
  comments; the line starting with "metric<TAB>" is the header.
  Pairs are built from the data: every LongBench-mini sample's gold answers against the answer
  itself, perturbed copies (words dropped or shuffled, case changed, punctuation, quotes, accents,
  CJK, emoji added), another sample's answer, a cut of the prompt, an empty string, multi-line
  text and code lines with comments or backticks; QMSum val reference answers against each other;
  hand-picked edge cases (Unicode digits, final sigma, dotted I, NFD accents, invalid UTF-8).

tools/eval/metrics_unicode.h -- the character tables of the Python that runs this script
  (str.lower, re's \\w and \\d, and the Cased / Case_Ignorable properties that str.lower's final
  sigma rule reads), so the C code classifies every code point as LongBench's Python does.

usage: python3 scripts/gen_metric_refs.py [--tables-only]
       (needs: pip install rouge==1.0.1 rapidfuzz; the committed files came from Python 3.11)
"""
import json
import os
import random
import re
import string
import sys
import unicodedata
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("EI_SHARED_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))
OUT_TSV = os.path.join(ROOT, "tests", "data", "metric_refs.tsv")
OUT_H = os.path.join(ROOT, "tools", "eval", "metrics_unicode.h")

# ---------------------------------------------------------------- LongBench metrics.py (v1)


def normalize_answer(s):
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def qa_f1(pred, gold):
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    same = sum((Counter(p) & Counter(g)).values())
    if same == 0:
        return 0
    prec, rec = 1.0 * same / len(p), 1.0 * same / len(g)
    return (2 * prec * rec) / (prec + rec)


def classification(pred, gold, classes):
    matches = [c for c in classes if c in pred]
    # LongBench removes from the list it is iterating over: the element after a removed one is
    # never examined. Kept, since the official scores include it.
    for term in matches:
        if term in gold and term != gold:
            matches.remove(term)
    return 1.0 / len(matches) if gold in matches else 0.0


def retrieval(pred, gold):
    gid = re.findall(r"Paragraph (\d+)", gold)[0]
    nums = re.findall(r"\d+", pred)
    return float(0.0 if not nums else sum(str(n) == str(gid) for n in nums) / len(nums))


def count(pred, gold):
    nums = re.findall(r"\d+", pred)
    return float(0.0 if not nums else sum(str(n) == str(gold) for n in nums) / len(nums))


def code_sim(pred, gold):
    from rapidfuzz import fuzz
    line = ""
    for l in pred.lstrip("\n").split("\n"):
        if "`" not in l and "#" not in l and "//" not in l:
            line = l
            break
    return fuzz.ratio(line, gold) / 100


def rouge_score(prediction, ground_truth):
    """LongBench's rouge_score."""
    from rouge import Rouge
    try:
        scores = Rouge().get_scores([prediction], [ground_truth], avg=True)
    except:  # noqa: E722 -- as LongBench: any exception, RecursionError included, scores 0
        return 0.0
    return scores["rouge-l"]["f"]


def longbench_rouge_l(pred, gold):
    """rouge_score() with the recursion headroom it has under LongBench's eval.py, where it is the
    third frame (<module> -> scorer -> rouge_score). Here it is called one frame below this one."""
    depth, f = 1, sys._getframe()  # frames, counting the rouge_score call about to be made
    while f:
        depth, f = depth + 1, f.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(old + depth - 3)
    try:
        return rouge_score(pred, gold)
    finally:
        sys.setrecursionlimit(old)


def rouge_n(pred, gold, n):
    from rouge import Rouge
    try:
        return Rouge(metrics=[f"rouge-{n}"]).get_scores([pred], [gold], avg=True)[f"rouge-{n}"]["f"]
    except Exception:
        return 0.0


METRIC = {"narrativeqa": qa_f1, "qasper": qa_f1, "multifieldqa_en": qa_f1, "hotpotqa": qa_f1,
          "2wikimqa": qa_f1, "musique": qa_f1, "triviaqa": qa_f1, "gov_report": longbench_rouge_l,
          "qmsum": longbench_rouge_l, "multi_news": longbench_rouge_l, "samsum": longbench_rouge_l,
          "passage_retrieval_en": retrieval, "passage_count": count, "lcc": code_sim, "repobench-p": code_sim}


def score(task, pred, gold, classes):
    """LongBench eval.py's scorer for one (prediction, gold answer)."""
    if task in ("trec", "triviaqa", "samsum", "lsht"):
        pred = pred.lstrip("\n").split("\n")[0]
    if task == "trec":
        return classification(pred, gold, classes)
    return METRIC[task](pred, gold)


# ---------------------------------------------------------------- Unicode tables for the C code


def ranges(pred):
    """Inclusive ranges of the code points above U+007F (surrogates excluded) where pred holds."""
    out, start = [], None
    for cp in range(0x80, 0x110001):
        on = cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF and pred(cp)
        if on and start is None:
            start = cp
        elif not on and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def lower_runs():
    """str.lower of single code points above U+007F as runs (first, last, stride, delta): every
    stride-th code point of [first, last] lowers to itself + delta. The runs do not overlap.
    U+0130 (two code points) and U+03A3 (context) are left to the C code."""
    runs = []
    for cp in range(0x80, 0x110000):
        if 0xD800 <= cp <= 0xDFFF or cp in (0x130, 0x3A3):
            continue
        low = chr(cp).lower()
        if low == chr(cp):
            continue
        assert len(low) == 1, hex(cp)
        d = ord(low) - cp
        if runs:
            lo, hi, st, dd = runs[-1]
            if dd == d and (cp - hi == st or (st == 0 and cp - hi in (1, 2))):
                runs[-1] = (lo, cp, cp - hi, d)
                continue
        runs.append((cp, cp, 0, d))
    runs = [(lo, hi, st or 1, d) for lo, hi, st, d in runs]
    assert all(a[1] < b[0] for a, b in zip(runs, runs[1:]))
    return runs


def sigma_final(s):
    return s.lower()[-1] == "\u03c2"


def write_tables():
    assert "\u0130".lower() == "i\u0307" and "\u03a3".lower() == "\u03c3"
    word = ranges(lambda cp: re.match(r"\w", chr(cp)) is not None)
    digit = ranges(lambda cp: re.match(r"\d", chr(cp)) is not None)
    # Final_Sigma: U+03A3 lowers to U+03C2 after a cased letter (skipping case-ignorable ones) and
    # not before one. Probed through str.lower itself: c is case-ignorable when "A" c SIGMA ends in
    # final sigma but c SIGMA does not; cased (and not ignorable) when c SIGMA does.
    ignorable = ranges(lambda cp: sigma_final("A" + chr(cp) + "\u03a3") and not sigma_final(chr(cp) + "\u03a3"))
    cased = ranges(lambda cp: sigma_final(chr(cp) + "\u03a3"))
    # ASCII is spelled out in metrics.c: check it here
    assert [c for c in map(chr, range(128)) if sigma_final("A" + c + "\u03a3") and not sigma_final(c + "\u03a3")] \
        == ["'", ".", ":", "^", "`"]
    assert [c for c in map(chr, range(128)) if sigma_final(c + "\u03a3")] == sorted(string.ascii_letters)
    assert [c for c in map(chr, range(128)) if c.lower() != c] == list(string.ascii_uppercase)
    assert [c for c in map(chr, range(128)) if c.isspace()] == list("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f ")
    runs = lower_runs()

    def table(name, rs):
        lines = [f"static const uint32_t {name}[][2] = {{"]
        for i in range(0, len(rs), 6):
            lines.append("    " + ", ".join("{0x%X, 0x%X}" % r for r in rs[i:i + 6]) + ",")
        return "\n".join(lines + ["};", ""])

    ver = f"Python {sys.version.split()[0]}, Unicode {unicodedata.unidata_version}"
    with open(OUT_H, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"""/* Generated by scripts/gen_metric_refs.py from {ver}: do not edit.
 * Character classes above U+007F as LongBench's Python sees them (metrics.c does ASCII itself):
 * uc_word = re's \\w (str.isalnum() or '_'), uc_digit = re's \\d (category Nd), uc_cased and
 * uc_case_ignorable = the properties str.lower reads for the final sigma (uc_cased: the cased code
 * points that are not case-ignorable), uc_lower = str.lower of one code point (except U+0130 and
 * U+03A3, see metrics.c). Ranges are sorted, disjoint and inclusive. */
#ifndef EI_EVAL_METRICS_UNICODE_H
#define EI_EVAL_METRICS_UNICODE_H
#include <stdint.h>

#define UC_TABLES_VERSION "{ver}"

""")
        for name, rs in (("uc_word", word), ("uc_digit", digit), ("uc_cased", cased), ("uc_case_ignorable", ignorable)):
            f.write(table(name, rs) + "\n")
        f.write("/* every stride-th code point of [lo, hi] lowers to itself + delta */\n")
        f.write("typedef struct { uint32_t lo, hi; uint8_t stride; int32_t delta; } uc_run;\n")
        f.write("static const uc_run uc_lower[] = {\n")
        for i in range(0, len(runs), 4):
            f.write("    " + ", ".join("{0x%X, 0x%X, %d, %d}" % r for r in runs[i:i + 4]) + ",\n")
        f.write("};\n\n#endif\n")
    print(f"wrote {OUT_H}: {ver}; word {len(word)}, digit {len(digit)}, cased {len(cased)}, "
          f"case-ignorable {len(ignorable)} ranges, lower {len(runs)} runs")


# ---------------------------------------------------------------- pairs


DECOR = ["“{}”", "‘{}’", "{} — café naïve 東京 🙂", "«{}»", "{}…", "**{}**", "{} 👍🏽", "Answer:\u00a0{}",
         "{}\u200b", "The answer is: {}!", "(the) {}.", "ＴＨＥ {}", "{}, Zoë Ångström", "北京大学: {}"]
INVALID = [b"caf\xc3", b"\xff\xfe", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80",
           b"\xf0\x9f\x99", b"\xe0\x80\x80", b"\xf0\x9f\x99\x82", b"\xc3\xa9\x80", b"\xf1\x80\x80"]


def perturb(rng, s):
    w = s.split()
    k = rng.randrange(8)
    if k == 0 and len(w) > 2:
        del w[rng.randrange(len(w))]
    elif k == 1:
        rng.shuffle(w)
    elif k == 2:
        return s.upper()
    elif k == 3:
        return s.lower() + rng.choice([".", "!", "?", ";", " ."])
    elif k == 4:
        return s + ". " + " ".join(w[: max(1, len(w) // 2)]) + "."
    elif k == 5:
        return rng.choice(DECOR).format(s)
    elif k == 6:
        return "  the\t" + "  ".join(w) + " \n"
    return " ".join(w)


def perturb_code(rng, s):
    c = list(s)
    k = rng.randrange(5)
    if k == 0 and c:
        for _ in range(1 + len(c) // 10):
            if c:
                del c[rng.randrange(len(c))]
    elif k == 1:
        return "\t" + s.strip()
    elif k == 2 and len(c) > 3:
        i = rng.randrange(len(c) - 1)
        c[i], c[i + 1] = c[i + 1], c[i]
    elif k == 3:
        return s.replace("(", "( ").replace("=", "==")
    else:
        return s + "  # done"
    return "".join(c)


def cut(rng, text, lo, hi):
    a = rng.randrange(max(1, len(text) - hi))
    return text[a:a + rng.randrange(lo, hi)]


def esc(s):
    out = []
    for ch in s:
        o = ord(ch)
        if ch in "\\\t\n\r":
            out.append({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}[ch])
        elif 0xDC80 <= o <= 0xDCFF:  # a raw byte carried by surrogateescape
            out.append("\\x%02X" % (o - 0xDC00))
        else:
            out.append(ch)
    return "".join(out)


def py(s):
    """The string Python's metrics see: raw bytes (surrogateescape) decoded with errors=replace."""
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def main():
    write_tables()
    if "--tables-only" in sys.argv:
        return
    import rapidfuzz
    import importlib.metadata
    assert rapidfuzz.__version__.split(".")[0] == "3", "rapidfuzz 3.x expected"
    assert importlib.metadata.version("rouge") == "1.0.1", "rouge 1.0.1 expected"
    # the recursion limit is met when a sentence pair's LCS traceback takes 991 steps
    words = " ".join("w%d" % i for i in range(991))
    assert longbench_rouge_l(words[: words.rindex(" ")], words[: words.rindex(" ")]) > 0.99
    assert longbench_rouge_l(words, words) == 0.0 and rouge_n(words, words, 1) > 0.99

    rng = random.Random(20261125)
    samples = [json.loads(l) for l in open(os.path.join(DATA, "longbench", "longbench_mini_en.jsonl"), encoding="utf-8")]
    by_task = {}
    for r in samples:
        by_task.setdefault(r["task"], []).append(r)
    out, seen = [], set()

    def add(metric, task, pred, gold, classes=None):
        key = (metric, task, pred, gold)
        if key in seen:
            return
        seen.add(key)
        p, g = py(pred), py(gold)
        if metric == "rouge":
            value = "%r %r %r" % (rouge_n(p, g, 1), rouge_n(p, g, 2), longbench_rouge_l(p, g))
        elif metric == "score":
            value = repr(float(score(task, p, g, classes)))
        elif metric == "classification":
            value = repr(float(classification(p, g, classes)))
        else:
            value = repr(float({"qa_f1": qa_f1, "retrieval": retrieval, "count": count, "code_sim": code_sim}[metric](p, g)))
        out.append((metric, task, pred, gold, value))

    trec_classes = by_task["trec"][0]["all_classes"]
    assert all(r["all_classes"] == trec_classes for r in by_task["trec"])
    out.append(("classes", "trec", "|".join(trec_classes), "", "0"))
    for r in samples:
        t = r["task"]
        for gold in r["answers"][:2]:
            other = rng.choice(by_task[t])["answers"][0]
            first_line = "\n\n" + gold + "\nmore text on a second line"
            if t in ("narrativeqa", "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "musique", "triviaqa"):
                for p in [gold, perturb(rng, gold), perturb(rng, gold), rng.choice(DECOR).format(gold), other,
                          cut(rng, r["prompt"], 20, 140), ""]:
                    add("qa_f1", t, p, gold)
                add("score", t, first_line, gold)
                add("score", t, perturb(rng, gold) + "\n" + other, gold)
            elif t in ("gov_report", "qmsum", "multi_news", "samsum"):
                g = gold[:rng.randrange(150, 420)]
                for p in [g, perturb(rng, g), other[:300], cut(rng, r["prompt"], 60, 300)]:
                    add("rouge", t, p, g)
                add("score", t, "\n" + perturb(rng, g)[:200] + "\n" + g[:100], g)
            elif t == "trec":
                a, b = rng.sample(trec_classes, 2)
                for p in [gold, gold + " or " + a, a, "Type: " + gold + ".", gold.lower(), "the " + b + " " + gold,
                          cut(rng, r["prompt"], 20, 120), ""]:
                    add("classification", t, p, gold, trec_classes)
                add("score", t, "\n" + gold + "\n" + a, gold, trec_classes)
                add("score", t, a + "\n" + gold, gold, trec_classes)
            elif t == "passage_retrieval_en":
                n = re.findall(r"\d+", gold)[0]
                for p in [gold, "The answer is " + gold + ".", "Paragraph 3 and " + gold, other, "paragraph 0" + n,
                          "Paragraph " + n.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
                          "Paragraph " + n.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
                          gold + "²", n + "th", "", cut(rng, r["prompt"], 20, 120)]:
                    add("retrieval", t, p, gold)
                add("score", t, "\n\n" + other + "\n" + gold, gold)
            elif t == "passage_count":
                for p in [gold, "There are " + gold + " unique paragraphs out of 30.", gold + " " + gold + " 1" + gold,
                          gold.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
                          "0" + gold, other, "", cut(rng, r["prompt"], 20, 120), "１ and " + gold]:
                    add("count", t, p, gold)
            elif t in ("lcc", "repobench-p"):
                for p in [gold, perturb_code(rng, gold), perturb_code(rng, gold), other, "# comment\n" + gold,
                          "```python\n" + gold + "\n```", "\n\n// c\n" + other, "", "\n\n" + gold + "\nnext()",
                          "x = '#'\n" + gold, "print('héllo wörld 🙂 東京')", gold.replace("e", "é")]:
                    add("code_sim", t, p, gold)
                add("score", t, "`" + gold + "`\n" + perturb_code(rng, gold), gold)
    # QMSum: reference answers of one meeting against each other, and against shuffled copies
    qdir = os.path.join(DATA, "qmsum", "val")
    for name in sorted(os.listdir(qdir))[:12]:
        if not name.endswith(".json"):
            continue
        d = json.load(open(os.path.join(qdir, name), encoding="utf-8"))
        ans = [q["answer"][:500] for q in d["general_query_list"] + d["specific_query_list"]]
        a, b = rng.sample(ans, 2)
        add("rouge", "qmsum_val", a, b)
        sents = a.split(". ")
        rng.shuffle(sents)
        add("rouge", "qmsum_val", ". ".join(sents[: max(1, len(sents) - 1)]), a)
    # edge cases: the rouge package's sentence split and its empty-input errors, Unicode rules
    edges = [("...", "a b c"), ("   ", "a"), ("   ", " "), ("a. .b", "a b"), ("A b C.", "a B c."), ("x y z", ""),
             ("the the the cat", "the cat the cat"), ("één twee. drie", "twee drie één"), (".", "."),
             ("a.b.c", "a b c"), ("a\u00a0b\u3000c\u2028d", "a b c d"), ("x\u200by z", "x y z"), ("Σ σ ς", "σ"),
             ("東京 大阪。京都", "東京 京都"), ("x\x1cy z", "x y z"), ("a\x85b", "a b")]
    for p, g in edges:
        add("rouge", "edge", p, g)
    qa_edges = [("ΟΔΥΣΣΕΥΣ", "οδυσσευς"), ("ΣΑΣ ΣΑΣ.", "σας"), ("ΑΣ\u0301 Σ", "ας\u0301 σ"), ("İstanbul", "i̇stanbul"),
                ("STRASSE ẞ", "strasse ß"), ("\u212a", "k"), ("Ⅻ Ⓐ", "ⅻ ⓐ"), ("the\u0301 end", "\u0301 end"),
                ("“the” cat", "“ ” cat"), ("—the—", "— —"), ("ａ the ａn", "ａ ａn"), ("the_end a-the", "the_end"),
                ("An apple, a pear & the fig", "apple pear fig"), ("théâtre the", "théâtre"), ("ＴＨＥ cat", "ｔｈｅ cat"),
                ("2ª the", "2ª"), ("a\u00a0cat", "cat"), ("x\u200bthe y", "x\u200b y"), ("ǅ ǈ", "ǆ ǉ"), ("Ａ", "ａ"),
                ("A:Σ", "a:ς"), ("ΑΣ'Β", "ας'β"), ("東Σ", "東σ"), ("Σ", "σ"), ("ʰΣ x", "ʰσ x")]
    for p, g in qa_edges:
        add("qa_f1", "edge", p, g)
    for raw in INVALID:
        s = raw.decode("utf-8", "surrogateescape")
        add("qa_f1", "invalid", s + " cat", "caf\ufffd cat")
        add("code_sim", "invalid", s + "x = 1", "\ufffdx = 1")
        add("rouge", "invalid", s + " a b", "\ufffd a b")
        add("count", "invalid", s + "7" + s + "12", "7")
    for p in ["7 ٧ ७ ７ 𝟕", "7²", "1٧2", "77 7"]:
        add("count", "edge", p, "7")
    cls = ["New York", "York", "New", "Paris"]
    out.append(("classes", "edge", "|".join(cls), "", "0"))
    for p, g in [("New York", "New York"), ("New York, York or New", "New York"), ("York New", "New York"),
                 ("Paris, New York", "Paris"), ("nothing", "York"), ("New York", "York")]:
        add("classification", "edge", p, g, cls)
    with open(OUT_TSV, "w", encoding="utf-8", newline="\n") as f:
        f.write("# reference scores for tests/test_metrics.c, made by scripts/gen_metric_refs.py (Python %s, "
                "rouge 1.0.1, rapidfuzz %s)\n" % (sys.version.split()[0], rapidfuzz.__version__))
        f.write("metric\ttask\tprediction\tgold\texpected\n")
        for row in out:
            f.write("\t".join(esc(x) for x in row) + "\n")
    counts = Counter(r[0] for r in out)
    print(f"wrote {OUT_TSV}: {len(out)} rows ({os.path.getsize(OUT_TSV)} bytes): "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
