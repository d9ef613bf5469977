"""Near-duplicate detection on small hand-made pairs, and its evaluation script."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from index.duplicates import DuplicateInput, figure_conflicts, find_duplicates, same_news

REPO = Path(__file__).resolve().parents[2]
OPENING = "Il cluster Agrifood ha premiato a Parma le tre migliori startup del concorso."
BODY = (
    "La giuria ha scelto i progetti tra 45 candidature arrivate da tutta la regione. "
    "Il primo premio, di 20.000 euro, è andato a Semina Digitale, che usa sensori per "
    "ridurre l'acqua nei campi. Il secondo premio è andato a Latte Chiaro, che controlla "
    "la qualità del latte in stalla con l'analisi delle immagini. Il terzo premio è andato a "
    "Grano Vivo per un sistema di tracciabilità delle farine. Le tre startup seguiranno ora "
    "un percorso di sei mesi con le imprese del cluster."
)


def doc(id_: str, text: str, day: date | None) -> DuplicateInput:
    return DuplicateInput(id_, text, day)


def test_a_reworded_opening_and_an_extra_paragraph_are_the_same_news() -> None:
    original = doc("a", f"{OPENING} {BODY}", date(2025, 3, 3))
    republished = doc(
        "b",
        "Tre startup premiate dal cluster Agrifood: c'è anche una nostra associata. "
        f"{BODY}\n\nLa nostra associazione seguirà da vicino il percorso delle startup.",
        date(2025, 3, 7),
    )
    assert same_news(original, republished)
    assert find_duplicates([republished, original]) == {"b": "a"}


def test_another_edition_with_other_figures_is_other_news() -> None:
    this_year = doc("a", f"{OPENING} {BODY}", date(2025, 3, 3))
    next_year = doc(
        "b",
        f"{OPENING} "
        + BODY.replace("45 candidature", "52 candidature")
        .replace("20.000 euro", "25.000 euro")
        .replace("sei mesi", "otto mesi"),
        date(2025, 9, 1),
    )
    assert not same_news(this_year, next_year)
    assert find_duplicates([this_year, next_year]) == {}


def test_a_figure_swapped_for_another_conflicts_and_a_figure_reworded_does_not() -> None:
    def sentences(*texts: str) -> list[frozenset[str]]:
        return [frozenset(t.lower().split()) for t in texts]

    base = sentences("al workshop hanno partecipato circa 70 tecnici e progettisti")
    reworded = sentences("al workshop hanno partecipato una settantina di tecnici e progettisti")
    swapped = sentences("al workshop hanno partecipato circa 90 tecnici e progettisti")
    assert figure_conflicts(base, reworded) == 0
    assert figure_conflicts(base, swapped) == 1


def test_a_number_written_in_words_or_digits_is_the_same_figure() -> None:
    original = doc("a", f"{OPENING} {BODY}", date(2025, 3, 3))
    digits = doc("b", f"{OPENING} {BODY.replace('sei mesi', '6 mesi')}", date(2025, 3, 5))
    assert same_news(original, digits)
    other = doc("c", f"{OPENING} {BODY.replace('sei mesi', '8 mesi')}", date(2025, 3, 5))
    assert not same_news(original, other)


def test_the_original_is_the_earliest_member_and_ties_go_to_the_smaller_id() -> None:
    text = f"{OPENING} {BODY}"
    members = [doc("c", text, date(2025, 3, 2)), doc("b", text, None), doc("a", text, None)]
    assert find_duplicates(members) == {"a": "c", "b": "c"}
    undated = [doc("z", text, None), doc("y", text, None)]
    assert find_duplicates(undated) == {"z": "y"}
    # Far apart in time (another year's identical notice) is other news.
    assert (
        find_duplicates([doc("a", text, date(2024, 3, 3)), doc("b", text, date(2025, 3, 3))]) == {}
    )


def run_eval(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.eval_duplicates", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_evaluation_script_scores_the_dev_pairs_and_refuses_errors_on_blind(
    tmp_path: Path,
) -> None:
    result = run_eval("demo/duplicates/dev", "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["pairs"] == 48
    assert (scores["precision"], scores["recall"]) == (1.0, 1.0)
    blind = tmp_path / "blind"
    (blind / "articles").mkdir(parents=True)
    (blind / "pairs.jsonl").write_text("")
    refused = run_eval(blind, "--errors")
    assert refused.returncode == 2
    assert "blind" in refused.stderr
