"""Italian sentence splitting: abbreviations, initials and decimals do not end a sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.parse import parse_file
from ingest.sentences import sentence_spans

DATA = Path(__file__).resolve().parents[1] / "data"


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Il dott. Rossi ha aperto i lavori. Poi ha parlato la sindaca.",
            ["Il dott. Rossi ha aperto i lavori.", "Poi ha parlato la sindaca."],
        ),
        (
            "Ha parlato la prof.ssa Bianchi. Era presente anche la prof.ssa. Verdi.",
            ["Ha parlato la prof.ssa Bianchi.", "Era presente anche la prof.ssa. Verdi."],
        ),
        (
            "Servono dati, p.es. Bologna e Modena hanno sensori. Il resto manca.",
            ["Servono dati, p.es. Bologna e Modena hanno sensori.", "Il resto manca."],
        ),
        (
            "Il fondo vale 2,5 milioni di euro. La crescita è del 3.2 per cento. Bene.",
            ["Il fondo vale 2,5 milioni di euro.", "La crescita è del 3.2 per cento.", "Bene."],
        ),
        (
            "Lo ha detto M. Rossi ieri. Lo conferma la U.E. con una nota. Bene.",
            ["Lo ha detto M. Rossi ieri.", "Lo conferma la U.E. con una nota.", "Bene."],
        ),
        (
            "Arrivano l'ing. Serra e il sig. Neri. Chi manca? Nessuno! Si parte… Alle 9.",
            [
                "Arrivano l'ing. Serra e il sig. Neri.",
                "Chi manca?",
                "Nessuno!",
                "Si parte…",
                "Alle 9.",
            ],
        ),
        ("Ha detto: «Siamo pronti.» Poi è uscito.", ["Ha detto: «Siamo pronti.»", "Poi è uscito."]),
        (
            "Il piano è pronto. nel 2024 si parte.",  # lower case after the period: one sentence
            ["Il piano è pronto. nel 2024 si parte."],
        ),
        (
            "Primo paragrafo senza punto\n\nSecondo paragrafo\nterza riga",
            ["Primo paragrafo senza punto", "Secondo paragrafo", "terza riga"],
        ),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]):
    assert sentences(text) == expected


def test_spans_are_trimmed_offsets_in_order():
    text = "  Uno. Due.\n\n   Tre?  "
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["Uno.", "Due.", "Tre?"]
    assert spans == sorted(spans)
    assert all(not text[s].isspace() and not text[e - 1].isspace() for s, e in spans)


def test_spans_within_a_range_stay_in_the_range():
    text = "Prima. Seconda frase. Terza."
    start, end = text.index("Seconda"), len(text)
    spans = sentence_spans(text, start, end)
    assert [text[s:e] for s, e in spans] == ["Seconda frase.", "Terza."]


def test_html_fixture_abbreviation_paragraph_is_one_sentence():
    article = parse_file(DATA / "articolo.html").articles[0]
    found = sentences(article.text)
    assert (
        "Il dott. Giulio Neri, direttore del Centro Ricerche Estensi, ha presentato un "
        "programma di investimenti da 2,5 milioni di euro per nuovi laboratori."
    ) in found
    assert (
        "Secondo il dott. Neri, i laboratori saranno aperti alle PMI entro la fine dell'anno."
        in found
    )
    p_es = [s for s in found if "p.es." in s]
    assert len(p_es) == 1
    assert p_es[0].startswith("La prof.ssa Carla Fontana")
    assert p_es[0].endswith("ecc.")
