"""Answers on the events set (demo/events): accuracy by question kind and language.

    python -m scripts.eval_events dev-a dev-b [--data-dir data-events] [--json] [--errors]
    python -m scripts.eval_events blind-2        # once, when a change is finished

The data folder holds demo/corpus and every part of demo/events (the other parts are
distractors); it is built on first use and updated when a file changes. A question is right
when the answer names every person of `answers_all` (or, without it, contains one of
`answers`) and cites its gold article; an unanswerable one is right when the answer abstains.
`--errors` prints the wrong answers: never use it on the blind part.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from server.answer.evaluate import citation_as_hit, load_questions, normalise
from server.pipeline import ingest_paths, update_index
from server.settings import Settings
from server.wiring import build_services

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "demo" / "events"
PARTS = ("dev-a", "dev-b", "blind", "blind-2")
BLIND = re.compile(r"/blind[^/]*/")
WHO_KINDS = {"speaker", "moderator", "opening", "closing", "keynote", "award", "which_session"}


def prepare(data_dir: Path) -> Settings:
    """A data folder with the demo corpus and every events part, indexed."""
    settings = Settings(data_dir=data_dir)
    services = build_services(settings)
    try:
        paths = [ROOT / "demo" / "corpus", *(EVENTS / part / "corpus" for part in PARTS)]
        report = ingest_paths(
            paths,
            services.store,
            chunk_chars=settings.chunk_chars,
            chunk_overlap=settings.chunk_overlap,
            do_prune=True,
        )
        if report.failed:
            raise SystemExit(f"ingest failed: {report.failed}")
        update_index(
            services.store,
            services.embedder,
            settings.index_dir,
            faiss_kind=settings.faiss_index,
            sentence_vectors=settings.sentence_vectors,
        )
    finally:
        services.close()
    return settings


def _right(record: dict[str, Any], answer: Any, is_gold: Any) -> bool:
    if not record.get("answerable", True):
        return bool(answer.abstained)
    if answer.abstained:
        return False
    text = normalise(answer.text)
    wanted = record.get("answers_all") or []
    if wanted:
        named = all(normalise(a) in text for a in wanted)
    else:
        named = any(normalise(a) and normalise(a) in text for a in record.get("answers", []))
    return named and any(is_gold(citation_as_hit(c)) for c in answer.citations)


def evaluate(
    settings: Settings, parts: list[str], show_errors: bool, sentences_only: bool = False
) -> dict[str, Any]:
    """Ask every question of `parts`; tallies by kind, by language and for who-questions.

    `sentences_only` asks the extractive answerer alone, without the facts (a baseline).
    """
    services = build_services(settings)
    answerer = services.extractive if sentences_only else services.answerer
    tallies: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    times: list[float] = []
    wrong_quotes_en = 0
    try:
        for part in parts:
            path = EVENTS / part / "questions.jsonl"
            records = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
            for record, question in zip(records, load_questions(path), strict=True):
                hits = services.searcher.search(question.question, k=settings.top_k)
                started = time.perf_counter()
                answer = answerer.answer(question.question, hits)
                times.append((time.perf_counter() - started) * 1000)
                right = _right(record, answer, question.is_gold)
                kind = record.get("kind", "other")
                keys = ["all", f"kind:{kind}", f"lang:{record.get('lang', 'it')}"]
                if kind in WHO_KINDS and record.get("answerable", True):
                    keys.append("who")
                if not record.get("answerable", True):
                    keys.append("unanswerable")
                for key in keys:
                    tallies[key][0] += right
                    tallies[key][1] += 1
                if record.get("lang") == "en" and not right and not answer.abstained:
                    wrong_quotes_en += 1
                blind = any(BLIND.search(c.source) for c in answer.citations)
                if show_errors and not right and blind:
                    sys.stdout.write(f"✗ {record['id']} (cites a blind article: hidden)\n")
                elif show_errors and not right:
                    sys.stdout.write(
                        f"✗ {record['id']} [{kind}] {record['question']}\n"
                        f"    gold: {record.get('answers_all') or record.get('answers')}\n"
                        f"    got ({answer.answerer}): {answer.text[:300]}\n"
                    )
    finally:
        services.close()
    times.sort()
    out: dict[str, Any] = {
        key: {"right": r, "of": n, "share": round(r / n, 3)}
        for key, (r, n) in sorted(tallies.items())
    }
    out["english_answered_wrong"] = wrong_quotes_en
    out["answer_ms_p50"] = round(times[len(times) // 2], 1) if times else None
    return out


def main(argv: list[str] | None = None) -> int:
    """Build or update the data folder, then score the parts named."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="+", choices=PARTS)
    parser.add_argument("--data-dir", type=Path, default=Path("data-events"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--errors", action="store_true", help="print wrong answers (dev only)")
    parser.add_argument(
        "--sentences-only", action="store_true", help="the extractive answerer alone (baseline)"
    )
    args = parser.parse_args(argv)
    if args.errors and any(part.startswith("blind") for part in args.parts):
        sys.stderr.write(
            "--errors is for the dev parts only: the blind parts are never inspected\n"
        )
        return 2
    settings = prepare(args.data_dir)
    result = evaluate(settings, args.parts, args.errors, args.sentences_only)
    if args.json:
        sys.stdout.write(json.dumps(result, indent=1) + "\n")
    else:
        for key, value in result.items():
            if isinstance(value, dict):
                sys.stdout.write(
                    f"{key:28} {value['right']:3d}/{value['of']:<3d} {value['share']:.3f}\n"
                )
            else:
                sys.stdout.write(f"{key:28} {value}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
