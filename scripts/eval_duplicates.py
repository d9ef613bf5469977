"""Near-duplicate groups: precision and recall on a folder of labelled article pairs.

    python -m scripts.eval_duplicates demo/duplicates/dev [--method M] [--json] [--errors]

The folder holds `articles/*.txt` and `pairs.jsonl` (`a`, `b`, `same`, `kind`). Articles
are parsed as `clusterchat ingest` parses them; `--method grouped` (the default) runs
index/duplicates.py's `find_duplicates` over all of them, as an index build does, and
predicts "same" when two articles land in one group. The other methods decide each pair
alone and are there to compare: `jaccard` (5-word-shingle Jaccard >= 0.5), `containment`
(>= CONTAINMENT, no figure check), `figures` (containment and the figure check, without the
date window), `sentences` (half of the shorter article's sentences have
an edited counterpart in the other). `--errors` prints the wrong pairs, and refuses to run
on a folder named `blind` (scored once, never looked into).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index import duplicates as dup
from ingest.parse import parse_file

Decide = Callable[[dup.DuplicateInput, dup.DuplicateInput], bool]


def _profiles(a: dup.DuplicateInput, b: dup.DuplicateInput) -> tuple[Any, Any]:
    return dup._profile(a.text), dup._profile(b.text)


def _jaccard(a: dup.DuplicateInput, b: dup.DuplicateInput) -> bool:
    x, y = _profiles(a, b)
    union = x.shingles | y.shingles
    return bool(union) and len(x.shingles & y.shingles) / len(union) >= 0.5


def _containment(a: dup.DuplicateInput, b: dup.DuplicateInput) -> bool:
    x, y = _profiles(a, b)
    return dup.containment(x.shingles, y.shingles) >= dup.CONTAINMENT


def _sentences(a: dup.DuplicateInput, b: dup.DuplicateInput) -> bool:
    x, y = _profiles(a, b)
    short, long_ = sorted((x.sentences, y.sentences), key=len)
    matched = sum(any(len(s & t) / len(s | t) >= dup.SAME_SENTENCE for t in long_) for s in short)
    return bool(short) and matched / len(short) >= 0.5


def _figures(a: dup.DuplicateInput, b: dup.DuplicateInput) -> bool:
    x, y = _profiles(a, b)
    return _containment(a, b) and dup.figure_conflicts(x.sentences, y.sentences) == 0


PAIRWISE: dict[str, Decide] = {
    "figures": _figures,
    "jaccard": _jaccard,
    "containment": _containment,
    "sentences": _sentences,
}
METHODS = ("grouped", *PAIRWISE)


def load(folder: Path) -> tuple[dict[str, dup.DuplicateInput], list[dict[str, Any]]]:
    """The folder's articles by file name (parsed as ingest does) and its labelled pairs."""
    articles = {}
    for path in sorted((folder / "articles").glob("*.txt")):
        article = parse_file(path).articles[0]
        articles[path.name] = dup.DuplicateInput(path.name, article.text, article.published)
    pairs = [json.loads(line) for line in (folder / "pairs.jsonl").read_text().splitlines()]
    return articles, [p for p in pairs if p]


def predict(
    articles: dict[str, dup.DuplicateInput], pairs: list[dict[str, Any]], method: str
) -> list[bool]:
    """Per pair: whether `method` calls it the same news."""
    if method == "grouped":
        original = dup.find_duplicates(list(articles.values()))
        group = {name: original.get(name, name) for name in articles}
        return [group[p["a"]] == group[p["b"]] for p in pairs]
    decide = PAIRWISE[method]
    return [decide(articles[p["a"]], articles[p["b"]]) for p in pairs]


def score(pairs: list[dict[str, Any]], predicted: list[bool]) -> dict[str, Any]:
    """Precision, recall and the confusion counts, overall and per pair kind."""
    counts: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    for pair, same in zip(pairs, predicted, strict=True):
        cell = ("t" if same == pair["same"] else "f") + ("p" if same else "n")
        counts[cell] += 1
        by_kind.setdefault(pair["kind"], Counter())[
            "right" if same == pair["same"] else "wrong"
        ] += 1
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    return {
        "pairs": len(pairs),
        "same": tp + fn,
        "different": counts["tn"] + fp,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": counts["tn"],
        "precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 3) if tp + fn else 1.0,
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
    }


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    """Print the scores of one folder (exit 2 on bad usage)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--method", choices=METHODS, default="grouped")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--errors", action="store_true", help="print the wrong pairs (not blind)")
    parser.add_argument(
        "--margins", action="store_true", help="print each pair's containment and figure conflicts"
    )
    args = parser.parse_args(argv)
    folder: Path = args.folder
    if (args.errors or args.margins) and folder.resolve().name == "blind":
        _err("--errors and --margins are refused on a blind part: it is scored once, not read")
        return 2
    if not (folder / "pairs.jsonl").is_file() or not (folder / "articles").is_dir():
        _err(f"{folder}: no pairs.jsonl and articles/ here")
        return 2
    articles, pairs = load(folder)
    predicted = predict(articles, pairs, args.method)
    result = {"folder": str(folder), "method": args.method, **score(pairs, predicted)}
    if args.json:
        _out(json.dumps(result, indent=1))
    else:
        _out(
            f"{folder} ({args.method}): precision {result['precision']:.3f}, "
            f"recall {result['recall']:.3f}; {result['pairs']} pairs ({result['same']} same, "
            f"{result['different']} different): tp {result['tp']}, fp {result['fp']}, "
            f"fn {result['fn']}, tn {result['tn']}"
        )
    if args.errors:
        for pair, same in zip(pairs, predicted, strict=True):
            if same != pair["same"]:
                wrong = "false positive" if same else "false negative"
                _out(f"{wrong} [{pair['kind']}]: {pair['a']} / {pair['b']}")
    if args.margins:
        _print_margins(articles, pairs)
    return 0


def _print_margins(articles: dict[str, dup.DuplicateInput], pairs: list[dict[str, Any]]) -> None:
    """Per pair, sorted by label and containment: how far each is from the thresholds."""
    rows = []
    for pair in pairs:
        x, y = _profiles(articles[pair["a"]], articles[pair["b"]])
        shared = dup.containment(x.shingles, y.shingles)
        union = x.shingles | y.shingles
        jaccard = len(x.shingles & y.shingles) / len(union) if union else 0.0
        conflicts = dup.figure_conflicts(x.sentences, y.sentences)
        rows.append((pair["same"], shared, jaccard, conflicts, pair["kind"]))
    for same, shared, jaccard, conflicts, kind in sorted(rows):
        _out(
            f"same={same!s:5} containment {shared:.2f} jaccard {jaccard:.2f} "
            f"figure conflicts {conflicts}  {kind}"
        )


if __name__ == "__main__":
    sys.exit(main())
