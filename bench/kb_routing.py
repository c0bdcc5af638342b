"""Measure how well callflow routes spoken questions to knowledge-base articles.

Usage (from the repository root)::

    .venv/bin/python bench/kb_routing.py                 # report at DEFAULT_CUTOFF + sweep
    .venv/bin/python bench/kb_routing.py --cutoff 50     # report at another cutoff
    .venv/bin/python bench/kb_routing.py --verbose       # list every miss / wrong answer
    .venv/bin/python bench/kb_routing.py --latency 1000,10000   # query latency, synthetic KBs
    .venv/bin/python bench/kb_routing.py --kb other_kb.json --questions other_q.json
    .venv/bin/python bench/kb_routing.py --all           # sample + every held-out eval set
    .venv/bin/python bench/kb_routing.py --all --verbose # failures of the non-blind sets only

Data: ``callflow/data/sample_kb.json`` (published articles only, via
``docs_from_articles``) and ``tests/data/kb_questions.json`` (``expected`` is
an article id, or null when the caller must be escalated to a person).

Outcomes per question, for a given cutoff (score 0..100):

* ``answered right``   -- expected an article and ``best()`` returned it
* ``escalated right``  -- expected null and ``best()`` returned None
* ``wrong article``    -- ``best()`` returned an article other than expected
  (including answering an off-topic or draft-only question)
* ``missed``           -- expected an article but ``best()`` returned None

Routing accuracy = (answered right + escalated right) / questions.  A wrong
answer misleads the caller while a missed one only costs a transfer to a
person, so the cost of a cutoff is ``2 * wrong + missed``; the suggested
cutoff minimises that cost averaged over a +-5 point window (robust to the
small shifts a new knowledge base brings; ties go to the higher cutoff,
which escalates more).

Held-out evaluation sets (``--all``): ``tests/data/kb_eval/<name>_kb.json``
with ``tests/data/kb_eval/<name>_questions.json``, small knowledge bases of
other domains (an online store, an accounting app, a telecom provider) that
the search was *not* tuned on.  ``--all`` reports every set at the cutoff,
then a sweep of the pooled cost over all sets together (the suggested
cutoff is picked on the pool).  Sets named in :data:`BLIND_SETS` are a final
blind check: their per-question failures are never printed (``--verbose``
skips them unless ``--show-blind`` is given), so nobody tunes on them.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from callflow.kb_search import (  # noqa: E402
    DEFAULT_CUTOFF,
    KbDoc,
    KbIndex,
    docs_from_articles,
)

KB_PATH = ROOT / "callflow" / "data" / "sample_kb.json"
QUESTIONS_PATH = ROOT / "tests" / "data" / "kb_questions.json"
EVAL_DIR = ROOT / "tests" / "data" / "kb_eval"
#: Eval sets kept as a blind check: only aggregate numbers are ever shown.
BLIND_SETS = frozenset({"telecom"})
WRONG_COST = 2.0
MISSED_COST = 1.0


def load_index(cutoff: float = DEFAULT_CUTOFF, path: Path | str = KB_PATH) -> KbIndex:
    """Index of a KB file's published articles (default: the sample KB)."""
    with open(path, encoding="utf-8") as fh:
        return KbIndex(docs_from_articles(json.load(fh)), cutoff=cutoff)


def load_questions(path: Path | str = QUESTIONS_PATH) -> list[dict]:
    """Labelled questions: ``[{"question": str, "expected": id | None}]``."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def eval_sets() -> list[tuple[str, Path, Path]]:
    """``(name, kb path, questions path)`` of the sample set, then every
    ``tests/data/kb_eval/<name>_kb.json`` that has a ``<name>_questions.json``,
    sorted by name."""
    out = [("sample", KB_PATH, QUESTIONS_PATH)]
    if EVAL_DIR.is_dir():
        for kb in sorted(EVAL_DIR.glob("*_kb.json")):
            name = kb.name[: -len("_kb.json")]
            qs = EVAL_DIR / f"{name}_questions.json"
            if qs.is_file():
                out.append((name, kb, qs))
    return out


def top_hits(index: KbIndex, questions: list[dict]) -> list[tuple[dict, list]]:
    """Each question with its top-3 hits (cutoff not applied)."""
    return [(q, index.search(q["question"], limit=3)) for q in questions]


def evaluate(results: list[tuple[dict, list]], cutoff: float) -> dict:
    """Count routing outcomes at ``cutoff``; returns counts and accuracy (0..1)."""
    c = {"answered_right": 0, "escalated_right": 0, "wrong": 0, "missed": 0, "failures": []}
    for q, hits in results:
        expected = None if q["expected"] is None else str(q["expected"])
        pred = hits[0].id if hits and hits[0].score >= cutoff else None
        if pred is None and expected is None:
            c["escalated_right"] += 1
        elif pred is None:
            c["missed"] += 1
            c["failures"].append(("missed", q, hits))
        elif pred == expected:
            c["answered_right"] += 1
        else:
            c["wrong"] += 1
            c["failures"].append(("wrong", q, hits))
    n = len(results)
    c["n"] = n
    c["accuracy"] = (c["answered_right"] + c["escalated_right"]) / n if n else 0.0
    c["cost"] = WRONG_COST * c["wrong"] + MISSED_COST * c["missed"]
    return c


def ranking(results: list[tuple[dict, list]]) -> tuple[int, int, int]:
    """(answerable questions, right article ranked 1st, right article in top 3)."""
    answerable = [(q, h) for q, h in results if q["expected"] is not None]
    top1 = sum(1 for q, h in answerable if h and h[0].id == str(q["expected"]))
    top3 = sum(1 for q, h in answerable if any(x.id == str(q["expected"]) for x in h))
    return len(answerable), top1, top3


def suggest_cutoff(results, cutoffs, window: float = 5.0) -> float:
    """Cutoff with the lowest cost averaged over ``[c - window, c + window]``.

    Cost is ``WRONG_COST * wrong + MISSED_COST * missed``.  Smoothing over a
    window keeps the choice away from the edge of a cliff (a cutoff whose
    neighbours just below it answer many wrong articles), which matters
    because unseen knowledge bases shift the score distribution a little.
    Ties go to the higher cutoff (escalate more).
    """
    costs = {cut: evaluate(results, cut)["cost"] for cut in cutoffs}
    best = None
    for cut in cutoffs:
        near = [c for k, c in costs.items() if abs(k - cut) <= window + 1e-9]
        smooth = sum(near) / len(near)
        if best is None or smooth <= best[0] + 1e-9:
            best = (smooth, cut)
    return best[1]


def print_report(results, cutoff: float, verbose: bool) -> None:
    c = evaluate(results, cutoff)
    n = c["n"]
    n_ans, top1, top3 = ranking(results)
    print(f"questions: {n} ({n_ans} answerable, {n - n_ans} should escalate)")
    print(f"ranking (no cutoff): right article 1st {top1}/{n_ans} "
          f"({100 * top1 / max(n_ans, 1):.1f}%), in top 3 {top3}/{n_ans} "
          f"({100 * top3 / max(n_ans, 1):.1f}%)")
    print(f"\nrouting at cutoff {cutoff:g}:")
    print(f"  answered right   {c['answered_right']:3d}")
    print(f"  escalated right  {c['escalated_right']:3d}")
    print(f"  wrong article    {c['wrong']:3d}")
    print(f"  missed           {c['missed']:3d}")
    print(f"  routing accuracy {100 * c['accuracy']:.1f}%")
    if verbose:
        print("\nfailures:")
        for kind, q, hits in c["failures"]:
            shown = ", ".join(f"{h.id}:{h.score:.1f}" for h in hits) or "-"
            print(f"  [{kind:6s}] expected {q['expected']}: {q['question']!r} -> {shown}")


def print_all(sets: list[tuple[str, list]], cutoff: float, cutoffs, verbose: bool,
              show_blind: bool = False) -> None:
    """Per-set report at ``cutoff`` plus a pooled sweep over all sets.

    ``sets`` is ``[(name, results)]``; results as from :func:`top_hits`.
    Failures are listed (``verbose``) for non-blind sets only, unless
    ``show_blind``.
    """
    print(f"routing at cutoff {cutoff:g} (cost = {WRONG_COST:g}*wrong + {MISSED_COST:g}*missed):")
    print(f"  {'set':<16} {'n':>4} {'acc%':>6} {'right':>5} {'esc':>4} {'wrong':>5} "
          f"{'missed':>6} {'cost':>5} {'top1%':>6} {'top3%':>6}")
    pooled: list = []
    for name, results in sets:
        c = evaluate(results, cutoff)
        n_ans, top1, top3 = ranking(results)
        label = name + (" (blind)" if name in BLIND_SETS else "")
        print(f"  {label:<16} {c['n']:4d} {100 * c['accuracy']:6.1f} {c['answered_right']:5d} "
              f"{c['escalated_right']:4d} {c['wrong']:5d} {c['missed']:6d} {c['cost']:5g} "
              f"{100 * top1 / max(n_ans, 1):6.1f} {100 * top3 / max(n_ans, 1):6.1f}")
        pooled.extend(results)
    c = evaluate(pooled, cutoff)
    n_ans, top1, top3 = ranking(pooled)
    print(f"  {'ALL':<16} {c['n']:4d} {100 * c['accuracy']:6.1f} {c['answered_right']:5d} "
          f"{c['escalated_right']:4d} {c['wrong']:5d} {c['missed']:6d} {c['cost']:5g} "
          f"{100 * top1 / max(n_ans, 1):6.1f} {100 * top3 / max(n_ans, 1):6.1f}")
    held = [r for name, results in sets if name != "sample" for r in results]
    if held:
        h = evaluate(held, cutoff)
        print(f"  held-out acc {100 * h['accuracy']:.1f}%, wrong {h['wrong']}, missed {h['missed']}")

    print("\npooled cutoff sweep (per-set accuracy% / wrong / missed):")
    names = [name for name, _ in sets]
    print(f"  {'cutoff':>6} {'ALL acc':>7} {'wrong':>5} {'miss':>4} {'cost':>5}  "
          + "  ".join(f"{n[:10]:>12}" for n in names))
    for cut in cutoffs:
        c = evaluate(pooled, cut)
        cells = []
        for _, results in sets:
            e = evaluate(results, cut)
            cells.append(f"{100 * e['accuracy']:5.1f}/{e['wrong']:2d}/{e['missed']:2d}")
        print(f"  {cut:6g} {100 * c['accuracy']:7.1f} {c['wrong']:5d} {c['missed']:4d} {c['cost']:5g}  "
              + "  ".join(f"{x:>12}" for x in cells))
    print(f"suggested cutoff on the pool (lowest cost averaged over +-5 points): "
          f"{suggest_cutoff(pooled, cutoffs):g} (DEFAULT_CUTOFF = {DEFAULT_CUTOFF:g})")

    if verbose:
        for name, results in sets:
            if name in BLIND_SETS and not show_blind:
                print(f"\n{name}: blind set, failures not shown")
                continue
            c = evaluate(results, cutoff)
            print(f"\n{name} failures:")
            for kind, q, hits in c["failures"]:
                shown = ", ".join(f"{h.id}:{h.score:.1f}" for h in hits) or "-"
                print(f"  [{kind:6s}] expected {q['expected']}: {q['question']!r} -> {shown}")


def print_sweep(results, cutoffs) -> None:
    print(f"\ncutoff sweep (cost = {WRONG_COST:g}*wrong + {MISSED_COST:g}*missed):")
    print(f"  {'cutoff':>6} {'acc%':>6} {'right':>5} {'esc':>4} {'wrong':>5} {'missed':>6} {'cost':>5}")
    for cut in cutoffs:
        c = evaluate(results, cut)
        print(f"  {cut:6g} {100 * c['accuracy']:6.1f} {c['answered_right']:5d} "
              f"{c['escalated_right']:4d} {c['wrong']:5d} {c['missed']:6d} {c['cost']:5g}")
    print(f"suggested cutoff (lowest cost averaged over +-5 points): "
          f"{suggest_cutoff(results, cutoffs):g} (DEFAULT_CUTOFF = {DEFAULT_CUTOFF:g})")


# --------------------------------------------------------------------------
# Latency on synthetic knowledge bases
# --------------------------------------------------------------------------


def synthetic_docs(n: int, seed: int = 7) -> list[KbDoc]:
    """``n`` articles with a Zipf-like vocabulary: the sample KB's words plus
    made-up words (one per article, at least 2000), 150-word bodies."""
    rng = random.Random(seed)
    with open(KB_PATH, encoding="utf-8") as fh:
        base = docs_from_articles(json.load(fh))
    real = sorted({w.lower().strip(".,:;?!()\"'") for d in base for w in (d.title + " " + d.text).split()})
    real = [w for w in real if w.isalpha()]
    syll = ["ka", "lo", "mi", "ter", "van", "sol", "pre", "dex", "ri", "na", "tor", "quin", "bel", "stra"]
    fake = set()
    while len(fake) < max(2000, n):
        fake.add("".join(rng.choice(syll) for _ in range(rng.randint(2, 5))))  # 580k possible
    vocab = real + sorted(fake)
    cum, total = [], 0.0
    for r in range(len(vocab)):
        total += 1.0 / (r + 1) ** 1.05
        cum.append(total)
    rng.shuffle(vocab)
    docs = []
    for i in range(n):
        words = rng.choices(vocab, cum_weights=cum, k=160)
        title = " ".join(words[:rng.randint(3, 7)]).capitalize()
        tags = tuple(rng.sample(vocab[:3000], 3))
        body = ". ".join(" ".join(words[j:j + 12]) for j in range(10, 160, 12)) + "."
        docs.append(KbDoc(id=str(i), title=title, text=body, tags=tags))
    # The real articles are in there too, so realistic queries find matches.
    docs.extend(KbDoc(id=f"real-{d.id}", title=d.title, text=d.text, tags=d.tags) for d in base)
    return docs


def measure_latency(sizes: list[int], repeats: int = 3) -> None:
    queries = [q["question"] for q in load_questions()]
    print("\nquery latency, search(q, limit=3) over the labelled questions:")
    print(f"  {'articles':>9} {'vocab':>7} {'build s':>8} {'cold med':>9} {'cold p99':>9} "
          f"{'median ms':>10} {'p99 ms':>8} {'max ms':>8}")
    for n in sizes:
        docs = synthetic_docs(n)
        t0 = time.perf_counter()
        index = KbIndex(docs)
        build = time.perf_counter() - t0
        cold = []
        for q in queries:  # first sight of each query: fuzzy vocabulary scans run
            t = time.perf_counter()
            index.search(q, limit=3)
            cold.append((time.perf_counter() - t) * 1000.0)
        cold.sort()
        times = []
        for _ in range(repeats):
            for q in queries:
                t = time.perf_counter()
                index.search(q, limit=3)
                times.append((time.perf_counter() - t) * 1000.0)
        times.sort()
        p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))]
        cold_p99 = cold[min(len(cold) - 1, int(round(0.99 * (len(cold) - 1))))]
        print(f"  {len(index):9d} {len(index._vocab):7d} {build:8.2f} {statistics.median(cold):9.3f} "
              f"{cold_p99:9.3f} {statistics.median(times):10.3f} {p99:8.3f} {times[-1]:8.3f}")
    print("  cold = first time each question is seen (unknown words run the fuzzy vocabulary\n"
          "  scan); the other columns repeat the questions with that cache warm.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cutoff", type=float, default=DEFAULT_CUTOFF, help="score cutoff 0..100")
    ap.add_argument("--verbose", action="store_true", help="list failures")
    ap.add_argument("--sweep", default="20:80:1", help="start:stop:step of the cutoff sweep")
    ap.add_argument("--latency", default="", help="comma-separated synthetic KB sizes, e.g. 1000,10000")
    ap.add_argument("--kb", default=str(KB_PATH), help="KB JSON (sample_kb.json shape)")
    ap.add_argument("--questions", default=str(QUESTIONS_PATH), help="labelled questions JSON")
    ap.add_argument("--all", action="store_true",
                    help="report the sample set and every tests/data/kb_eval set, pooled sweep")
    ap.add_argument("--show-blind", action="store_true",
                    help="with --all --verbose, also list failures of the blind sets")
    args = ap.parse_args(argv)

    start, stop, step = (float(x) for x in args.sweep.split(":"))
    cutoffs = []
    x = start
    while x <= stop + 1e-9:
        cutoffs.append(round(x, 4))
        x += step
    if args.all:
        sets = [(name, top_hits(load_index(args.cutoff, kb), load_questions(qs)))
                for name, kb, qs in eval_sets()]
        print_all(sets, args.cutoff, cutoffs, args.verbose, args.show_blind)
    else:
        index = load_index(args.cutoff, args.kb)
        results = top_hits(index, load_questions(args.questions))
        print_report(results, args.cutoff, args.verbose)
        print_sweep(results, cutoffs)
    if args.latency:
        measure_latency([int(s) for s in args.latency.split(",") if s.strip()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
