#!/usr/bin/env python3
"""Reference scores for the C LongBench metrics (tests/test_metrics.c).

Writes tests/data/metric_refs.tsv: one row per (metric, prediction, gold) with the score the
official Python code gives:
  qa_f1, classification, retrieval, count: LongBench v1 metrics.py, transcribed below from its rules
      (normalize_answer = lower, drop string.punctuation, drop \\b(a|an|the)\\b, collapse whitespace);
  rouge1, rouge2, rougeL: the PyPI package rouge==1.0.1, Rouge().get_scores([pred], [gold])[0][...]['f'],
      0.0 when it raises (as LongBench's rouge_score does);
  code_sim: LongBench's first-line rule, then rapidfuzz fuzz.ratio / 100.
Pairs come from the data: each LongBench sample's gold answers against predictions made from them
(the answer itself, perturbed copies, another sample's answer, a cut of the prompt, multi-line
text, empty strings) and QMSum reference answers against each other. Seeded: the file is
deterministic. Columns: metric, task (for classification: the trec sample id), prediction, gold,
expected (repr of a float). Fields escape backslash, tab, CR and LF as \\\\ \\t \\r \\n.

usage: python3 scripts/gen_metric_refs.py   (needs: pip install rouge==1.0.1 rapidfuzz)
"""
import json
import os
import random
import re
import string
from collections import Counter

from rapidfuzz import fuzz
from rouge import Rouge

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/work/shared/data"
OUT = os.path.join(ROOT, "tests", "data", "metric_refs.tsv")


def normalize_answer(s):
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def qa_f1(pred, gold):
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    same = sum((Counter(p) & Counter(g)).values())
    if same == 0:
        return 0.0
    prec, rec = same / len(p), same / len(g)
    return 2 * prec * rec / (prec + rec)


def rouge(pred, gold, key):
    try:
        return Rouge().get_scores([pred], [gold], avg=True)[key]["f"]
    except Exception:
        return 0.0


def classification(pred, gold, classes):
    m = [c for c in classes if c in pred]
    for t in m[:]:
        if t in gold and t != gold:
            m.remove(t)
    return 1.0 / len(m) if gold in m else 0.0


def retrieval(pred, gold):
    gid = re.findall(r"Paragraph (\d+)", gold)[0]
    nums = re.findall(r"\d+", pred)
    return sum(n == gid for n in nums) / len(nums) if nums else 0.0


def count(pred, gold):
    nums = re.findall(r"\d+", pred)
    return sum(str(n) == str(gold) for n in nums) / len(nums) if nums else 0.0


def code_sim(pred, gold):
    line = ""
    for l in pred.lstrip("\n").split("\n"):
        if "`" not in l and "#" not in l and "//" not in l:
            line = l
            break
    return fuzz.ratio(line, gold) / 100


def perturb(rng, s):
    w = s.split()
    k = rng.randrange(6)
    if k == 0 and len(w) > 2:
        del w[rng.randrange(len(w))]
    elif k == 1:
        rng.shuffle(w)
    elif k == 2:
        return s.upper()
    elif k == 3:
        return "The answer is: " + s + "!"
    elif k == 4:
        return s + ". " + " ".join(w[: max(1, len(w) // 2)]) + "."
    else:
        return "“" + s + "” — café naïve 東京 🙂"
    return " ".join(w)


def esc(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def main():
    rng = random.Random(20261125)
    rows = [json.loads(l) for l in open(os.path.join(DATA, "longbench", "longbench_mini_en.jsonl"), encoding="utf-8")]
    by_task = {}
    for r in rows:
        by_task.setdefault(r["task"], []).append(r)
    out = []

    def add(metric, task, pred, gold, value):
        out.append((metric, task, pred, gold, repr(float(value))))

    for r in rows:
        t, gold = r["task"], r["answers"][0]
        other = rng.choice(by_task[t])["answers"][0]
        cut = r["prompt"][rng.randrange(max(1, len(r["prompt"]) - 300)):][:rng.randrange(20, 300)]
        preds = [gold, perturb(rng, gold), other, cut, "", "\n\n" + gold + "\nmore text"]
        if t in ("narrativeqa", "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "musique", "triviaqa"):
            for p in preds:
                add("qa_f1", t, p, gold, qa_f1(p, gold))
        elif t in ("gov_report", "qmsum", "multi_news", "samsum"):
            for p in preds[:4]:
                p = p[:600]
                g = gold[:600]
                for key, name in (("rouge-1", "rouge1"), ("rouge-2", "rouge2"), ("rouge-l", "rougeL")):
                    add(name, t, p, g, rouge(p, g, key))
        elif t == "trec":
            classes = r["all_classes"]
            for p in preds + [rng.choice(classes), " ".join(rng.sample(classes, 2))]:
                add("classification", "|".join(classes), p, gold, classification(p, gold, classes))
        elif t == "passage_retrieval_en":
            for p in preds + ["Paragraph 3 and Paragraph 12", "paragraph 05", "It is 7, 7 or 17"]:
                add("retrieval", t, p, gold, retrieval(p, gold))
        elif t == "passage_count":
            for p in preds + ["There are " + gold + " unique paragraphs, out of 30.", "12 12 3"]:
                add("count", t, p, gold, count(p, gold))
        elif t in ("lcc", "repobench-p"):
            g = gold
            for p in [g, perturb(rng, g), other, "# comment\n" + g, "```python\n" + g + "\n```", "\n\n// c\n" + other, ""]:
                add("code_sim", t, p, g, code_sim(p, g))
    # QMSum reference answers against each other (long multi-sentence texts)
    qdir = os.path.join(DATA, "qmsum", "val")
    answers = []
    for name in sorted(os.listdir(qdir))[:6]:
        if name.endswith(".json"):
            d = json.load(open(os.path.join(qdir, name), encoding="utf-8"))
            answers += [q["answer"] for q in d["general_query_list"] + d["specific_query_list"]][:4]
    for i in range(0, len(answers) - 1, 2):
        for key, name in (("rouge-1", "rouge1"), ("rouge-2", "rouge2"), ("rouge-l", "rougeL")):
            add(name, "qmsum_val", answers[i], answers[i + 1], rouge(answers[i], answers[i + 1], key))
    # hand-picked edge cases of the rouge package's preprocessing
    for p, g in [("...", "a b c"), ("   ", "a"), ("a. .b", "a b"), ("A b C.", "a B c."), ("x y z", ""),
                 ("the the the cat", "the cat the cat"), ("één twee. drie", "twee drie één")]:
        for key, name in (("rouge-1", "rouge1"), ("rouge-2", "rouge2"), ("rouge-l", "rougeL")):
            add(name, "edge", p, g, rouge(p, g, key))
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("# reference scores for tests/test_metrics.c, made by scripts/gen_metric_refs.py (rouge 1.0.1, rapidfuzz)\n")
        f.write("metric\ttask\tprediction\tgold\texpected\n")
        for row in out:
            f.write("\t".join(esc(x) for x in row) + "\n")
    print(f"wrote {OUT}: {len(out)} rows, " + ", ".join(f"{k} {v}" for k, v in Counter(r[0] for r in out).items()))


if __name__ == "__main__":
    main()
