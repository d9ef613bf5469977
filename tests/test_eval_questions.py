"""Question files for `clusterchat eval`: every field in use is read, a typo is an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.answer.evaluate import load_questions, percentile

REPO = Path(__file__).resolve().parent.parent
SHIPPED = [
    REPO / "demo" / "questions.jsonl",
    REPO / "demo" / "questions-blind.jsonl",
    REPO / "demo" / "followups.jsonl",
    REPO.parent / "shared" / "eval" / "squad_it_dev" / "questions.jsonl",
]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_question_files_load(path):
    if not path.is_file():
        pytest.skip(f"{path} is not on this machine")
    questions = load_questions(path)
    assert questions
    assert all(q.question for q in questions)
    assert all(q.doc_id is not None or q.source is not None or not q.answerable for q in questions)


def test_the_events_set_format_loads(tmp_path):
    record = {
        "id": "a-07",
        "question": "Chi ha moderato la tavola rotonda?",
        "lang": "it",
        "answerable": True,
        "source": "forum-energia-torino-2024.md",
        "kind": "moderator",
        "answers": ["Laura Gatti"],
        "answers_all": ["Laura Gatti"],
    }
    path = tmp_path / "questions.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    [question] = load_questions(path)
    assert question.source == "forum-energia-torino-2024.md"
    assert question.answers == ("Laura Gatti",)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"question": "Chi?", "article_id": "abc"}', "unknown field 'article_id'"),
        ('{"question": "Chi?", "answers": "Neri"}', "`answers` must be a list of strings"),
        ('{"question": "Chi?", "doc_id": 7}', "`doc_id` must be a string"),
        ('{"question": "Chi?", "answerable": "no"}', "`answerable` must be true or false"),
        ('{"question": "Chi?", "source": {"a": 1}}', "`source` must be a file name"),
        ('{"question": ""}', "`question` must be a non-empty string"),
        ('["Chi?"]', "a line must be a JSON object"),
        ('{"id": "q2"}', "`question` must be a non-empty string"),
        ('{"question": ', "not a question record"),
    ],
)
def test_a_bad_record_is_rejected_with_its_line_number(tmp_path, line, reason):
    path = tmp_path / "domande.jsonl"
    path.write_text('{"question": "Chi è il direttore?", "doc_id": "x"}\n' + line + "\n")
    with pytest.raises(ValueError, match=r"domande\.jsonl:2: ") as caught:
        load_questions(path)
    assert reason in str(caught.value)


def test_percentiles_interpolate_and_never_invert():
    assert percentile([10.0, 20.0], 50) == 15.0
    assert percentile([10.0, 20.0], 95) == pytest.approx(19.5)
    assert percentile([7.0], 95) == 7.0
    assert percentile([5.0, 1.0, 3.0], 0) == 1.0
    assert percentile([5.0, 1.0, 3.0], 100) == 5.0
    for n in range(1, 30):
        values = [float((i * 37) % 11) for i in range(n)]
        assert percentile(values, 95) >= percentile(values, 50)
    with pytest.raises(ValueError, match="percentile 50 of 0 values"):
        percentile([], 50)


@pytest.mark.parametrize("part", ["blind", "blind-2"])
def test_wrong_answers_are_never_printed_for_a_blind_events_part(part: str) -> None:
    from scripts.eval_events import main

    assert main([part, "--errors"]) == 2
