"""Settings are checked when they are read: one line naming the variable, exit 2, nothing done."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from server.http.app import app_from_env
from server.settings import Settings, settings_error

CLI = Path(sys.executable).parent / "clusterchat"
TESTS = Path(__file__).resolve().parent


def cli(*args: str | Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERCHAT_")}
    return subprocess.run(
        [str(CLI), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**clean, **env},
        cwd=cwd,
        check=False,
    )


def rejected(**values: object) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(**values)  # type: ignore[arg-type]
    message = settings_error(caught.value)
    assert "\n" not in message
    return message


def test_overlap_must_be_smaller_than_the_chunk_size():
    message = rejected(chunk_chars=1200, chunk_overlap=1500)
    assert "CLUSTERCHAT_CHUNK_OVERLAP (1500)" in message
    assert "CLUSTERCHAT_CHUNK_CHARS (1200)" in message
    assert "CLUSTERCHAT_CHUNK_OVERLAP (1200)" in rejected(chunk_chars=1200, chunk_overlap=1200)
    assert Settings(chunk_chars=1200, chunk_overlap=1199).chunk_overlap == 1199


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"embedder": "bogus"}, "CLUSTERCHAT_EMBEDDER='bogus'"),
        ({"embedder": "st:"}, "CLUSTERCHAT_EMBEDDER='st:'"),
        ({"log_level": "LOUD"}, "CLUSTERCHAT_LOG_LEVEL='LOUD'"),
        ({"threads": 0}, "CLUSTERCHAT_THREADS=0"),
        ({"threads": 100_000}, "CLUSTERCHAT_THREADS=100000"),
        ({"query_cache": -1}, "CLUSTERCHAT_QUERY_CACHE=-1"),
        ({"chunk_chars": 50}, "CLUSTERCHAT_CHUNK_CHARS=50"),
        ({"rrf_k": 0}, "CLUSTERCHAT_RRF_K=0"),
        ({"dense_weight": float("inf")}, "CLUSTERCHAT_DENSE_WEIGHT=inf"),
        ({"bm25_weight": float("nan")}, "CLUSTERCHAT_BM25_WEIGHT=nan"),
        ({"top_k": 0}, "CLUSTERCHAT_TOP_K=0"),
        ({"abstain_threshold": 1.5}, "CLUSTERCHAT_ABSTAIN_THRESHOLD=1.5"),
        ({"answerer": "neural"}, "CLUSTERCHAT_ANSWERER='neural'"),
        ({"llm_timeout": 0}, "CLUSTERCHAT_LLM_TIMEOUT=0"),
        ({"llm_retries": 9}, "CLUSTERCHAT_LLM_RETRIES=9"),
    ],
)
def test_out_of_range_values_name_the_variable(values, variable):
    assert variable in rejected(**values)


def test_both_fusion_weights_zero_is_rejected():
    message = rejected(dense_weight=0, bm25_weight=0)
    assert "CLUSTERCHAT_DENSE_WEIGHT" in message
    assert "CLUSTERCHAT_BM25_WEIGHT" in message
    assert Settings(dense_weight=0, bm25_weight=1).dense_weight == 0


def test_log_level_is_case_insensitive_and_secrets_are_never_echoed():
    assert Settings(log_level="debug").log_level == "DEBUG"
    message = rejected(api_keys="sekrit-not-a-list")
    assert "CLUSTERCHAT_API_KEYS" in message
    assert "sekrit" not in message


def test_folders_must_be_folders(tmp_path):
    afile = tmp_path / "file.txt"
    afile.write_text("x", encoding="utf-8")
    assert "CLUSTERCHAT_DATA_DIR=" in rejected(data_dir=afile)
    assert "not a folder" in rejected(data_dir=afile)
    assert "CLUSTERCHAT_WEB_DIR=" in rejected(web_dir=tmp_path)
    assert Settings(data_dir=tmp_path / "new").data_dir == tmp_path / "new"


def test_a_data_dir_option_that_is_a_file_is_one_line(tmp_path):
    afile = tmp_path / "file.txt"
    afile.write_text("x", encoding="utf-8")
    result = cli("documents", "--data-dir", afile, env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "not a folder" in result.stderr


def test_the_server_factory_refuses_bad_settings_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("CLUSTERCHAT_CHUNK_OVERLAP", "1500")
    with pytest.raises(SystemExit) as stopped:
        app_from_env()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "CLUSTERCHAT_CHUNK_OVERLAP (1500) must be smaller than" in err


@pytest.mark.slow
def test_every_command_rejects_a_bad_overlap_in_one_line(tmp_path):
    questions = tmp_path / "domande.jsonl"
    questions.write_text('{"question": "Chi?", "source": "nota.txt"}\n', encoding="utf-8")
    data = tmp_path / "data"
    commands = [
        ("ingest", TESTS / "data" / "nota.txt"),
        ("documents",),
        ("delete", "abc"),
        ("reindex",),
        ("search", "cluster"),
        ("ask", "Chi?"),
        ("eval", questions),
        ("serve", "--port", "1"),
    ]
    for command in commands:
        result = cli(
            *command, "--data-dir", data, env={"CLUSTERCHAT_CHUNK_OVERLAP": "1500"}, cwd=tmp_path
        )
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.count("\n") == 1, (command, result.stderr)
        assert "CLUSTERCHAT_CHUNK_OVERLAP (1500) must be smaller than" in result.stderr
        assert not data.exists(), command  # nothing was stored


@pytest.mark.slow
def test_ingest_with_an_embedder_that_cannot_load_stores_nothing(tmp_path):
    data = tmp_path / "data"
    env = {"CLUSTERCHAT_EMBEDDER": f"st:{tmp_path / 'no-such-model'}", "HF_HUB_OFFLINE": "1"}
    result = cli("ingest", TESTS / "data" / "nota.txt", "--data-dir", data, env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "CLUSTERCHAT_EMBEDDER=" in result.stderr
    assert "no-such-model" in result.stderr
    assert not data.exists()
    bogus = cli(
        "ingest", TESTS / "data" / "nota.txt", "--data-dir", data,
        env={"CLUSTERCHAT_EMBEDDER": "bogus"}, cwd=tmp_path,
    )  # fmt: skip
    assert bogus.returncode == 2
    assert "CLUSTERCHAT_EMBEDDER='bogus': use 'e5' or 'st:<path-or-name>'" in bogus.stderr
    assert not data.exists()


def test_an_unknown_answerer_is_one_line_and_exit_2(tmp_path):
    data = tmp_path / "data"
    result = cli(
        "ask", "Chi?", "--data-dir", data, env={"CLUSTERCHAT_ANSWERER": "neural"}, cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "CLUSTERCHAT_ANSWERER='neural'" in result.stderr
    assert "extractive" in result.stderr
    assert "learned" in result.stderr
    assert not data.exists()


def test_the_answerer_defaults_to_the_hand_tuned_one(monkeypatch):
    monkeypatch.delenv("CLUSTERCHAT_ANSWERER", raising=False)
    monkeypatch.delenv("CLUSTERCHAT_ABSTAIN_THRESHOLD", raising=False)
    assert Settings().answerer == "extractive"
    assert Settings().abstain_threshold is None  # each answerer's own default
    monkeypatch.setenv("CLUSTERCHAT_ANSWERER", "learned")
    assert Settings().answerer == "learned"
