"""Person–role–session triples: precision and recall of the extractor against gold facts.

    python -m scripts.eval_facts demo/events/dev-a demo/events/dev-b [--json] [--errors]

Each folder holds articles and a `facts.jsonl` of gold facts (demo/events/SPEC.md). A triple
is right when the person (accents and case aside), the role and the session (same title, or
both none) match; `pairs` scores (person, role) alone. `--errors` prints the misses (never use
it on the blind part).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ingest.facts.extract import extract_facts
from ingest.facts.names import fold
from ingest.facts.sessions import same_title
from ingest.parse import parse_file

Triple = tuple[str, str, str | None]


def _same_session(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return same_title(a, b)


def _matches(predicted: Triple, gold: Triple) -> bool:
    return (
        fold(predicted[0]) == fold(gold[0])
        and predicted[1] == gold[1]
        and _same_session(predicted[2], gold[2])
    )


def _gold_triples(record: dict[str, Any]) -> list[Triple]:
    return [
        (person["name"], role["role"], role.get("session"))
        for person in record.get("people", [])
        for role in person.get("roles", [])
    ]


_TIMES: list[float] = []


def _predicted(path: Path) -> list[Triple]:
    article = parse_file(path).articles[0]
    started = time.perf_counter()
    facts = extract_facts(article)
    _TIMES.append(time.perf_counter() - started)
    titles = {s.id: s.title for s in facts.sessions}
    return [
        (p.name, r.role, titles.get(r.session) if r.session else None)
        for p in facts.people
        for r in p.roles
    ]


def _score(found: list[Triple], gold: list[Triple], pairs: bool) -> tuple[int, int, int]:
    key = (lambda t: (fold(t[0]), t[1])) if pairs else None
    if key is not None:
        found_set, gold_set = {key(t) for t in found}, {key(t) for t in gold}
        return len(found_set & gold_set), len(found_set), len(gold_set)
    unmatched = list(gold)
    right = 0
    for triple in found:
        hit = next((g for g in unmatched if _matches(triple, g)), None)
        if hit is not None:
            unmatched.remove(hit)
            right += 1
    return right, len(found), len(gold)


def evaluate(folder: Path, show_errors: bool) -> dict[str, Any]:
    """Triple and pair precision/recall over one part of the events set."""
    totals = {"triples": [0, 0, 0], "pairs": [0, 0, 0]}
    for line in (folder / "facts.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        found = _predicted(folder / "corpus" / record["source"])
        gold = _gold_triples(record)
        for name, pairs in (("triples", False), ("pairs", True)):
            for n, value in enumerate(_score(found, gold, pairs)):
                totals[name][n] += value
        if show_errors:
            extra = [t for t in found if not any(_matches(t, g) for g in gold)]
            missed = [g for g in gold if not any(_matches(t, g) for t in found)]
            sys.stdout.write(f"== {record['source']}\n")
            sys.stdout.writelines(f"  + {t}\n" for t in extra)
            sys.stdout.writelines(f"  - {t}\n" for t in missed)
    out: dict[str, Any] = {"part": folder.name}
    # The first article also pays for loading the first-name gazetteer once.
    out["extract_ms_per_article"] = round(1000 * sorted(_TIMES)[len(_TIMES) // 2], 1)
    for name, (right, found_n, gold_n) in totals.items():
        out[name] = {
            "precision": round(right / found_n, 3) if found_n else 0.0,
            "recall": round(right / gold_n, 3) if gold_n else 0.0,
            "right": right,
            "found": found_n,
            "gold": gold_n,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """Print precision and recall for each folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--errors", action="store_true", help="print misses (dev parts only)")
    args = parser.parse_args(argv)
    for folder in args.folders:
        if not (folder / "facts.jsonl").is_file():
            sys.stderr.write(f"{folder}: no facts.jsonl\n")
            return 2
        result = evaluate(folder, args.errors)
        if args.json:
            sys.stdout.write(json.dumps(result) + "\n")
        else:
            t, p = result["triples"], result["pairs"]
            sys.stdout.write(
                f"{result['part']}: triples P {t['precision']:.3f} R {t['recall']:.3f} "
                f"({t['right']}/{t['found']} found, {t['gold']} gold); "
                f"person-role P {p['precision']:.3f} R {p['recall']:.3f}; "
                f"extraction p50 {result['extract_ms_per_article']} ms per article\n"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
