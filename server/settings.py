"""All configuration, read from CLUSTERCHAT_* environment variables or a .env file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, HttpUrl, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SECRET_FIELDS = frozenset({"admin_token", "api_keys", "llm_api_key", "database_url"})


class Settings(BaseSettings):
    """Every setting has a CLUSTERCHAT_ environment variable of the same name."""

    model_config = SettingsConfigDict(
        env_prefix="CLUSTERCHAT_", env_file=".env", extra="ignore", allow_inf_nan=False
    )

    data_dir: Path = Path("data")
    # postgresql://user:password@host:port/db: articles, index, jobs and feedback live in
    # Postgres with pgvector (docs/deploy.md); None: SQLite + FAISS + BM25 in data_dir.
    database_url: SecretStr | None = None
    embedder: str = "e5"  # or "st:/path/or/name" (sentence-transformers)
    threads: int | None = Field(default=None, ge=1, le=256)  # OMP threads (e5); None: all cores
    query_cache: int = Field(default=1024, ge=0, le=1_000_000)  # question vectors kept (e5); 0: off
    chunk_chars: int = Field(default=1200, ge=200, le=20000)
    chunk_overlap: int = Field(default=200, ge=0, le=5000)
    faiss_index: Literal["flat", "hnsw"] = "flat"
    # Give each sentence a vector of its own when indexing, for the answerer to score
    # sentences by meaning; costs about as much model time again as the chunks.
    sentence_vectors: bool = True
    search_mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    fusion: Literal["minmax", "rrf"] = "minmax"
    rrf_k: int = Field(default=60, ge=1, le=10_000)
    dense_weight: float = Field(default=1.0, ge=0, le=100)
    bm25_weight: float = Field(default=1.0, ge=0, le=100)
    top_k: int = Field(default=5, ge=1, le=50)
    max_question_chars: int = Field(default=1000, ge=10)
    # Request limits (docs/limits.md): bad input is refused before it costs any work.
    max_history_turns: int = Field(default=50, ge=0)  # /api/ask `history` entries
    max_turn_chars: int = Field(default=8000, ge=10)  # each history turn or chat message
    max_messages: int = Field(default=100, ge=1)  # /v1/chat/completions `messages`
    max_request_bytes: int = Field(default=256 * 1024, ge=1024)  # a JSON request body
    # "learned": the trained sentence selector (opt-in; docs/evaluation.md, issue 13)
    answerer: Literal["extractive", "learned"] = "extractive"
    # None: 0.35 for the extractive answerer, the selector model's calibrated threshold for
    # the learned one (docs/evaluation.md)
    abstain_threshold: float | None = Field(default=None, ge=0, le=1)
    llm_base_url: HttpUrl | None = None  # None: extractive answers
    llm_model: str = "default"
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(default=60.0, gt=0, le=3600)
    llm_retries: int = Field(default=1, ge=0, le=5)
    admin_token: SecretStr | None = None
    api_keys: list[SecretStr] = Field(default_factory=list)
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    # Fetching URLs (clusterchat ingest URL, sources; docs/sources.md)
    fetch_timeout: float = Field(default=20.0, gt=0, le=600)  # seconds per URL, in all
    fetch_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)  # a page, feed or PDF
    fetch_interval: float = Field(default=0.5, ge=0, le=3600)  # seconds between requests/site
    # Seconds between the server's checks for due sources; 0: no background refresh.
    sources_poll: float = Field(default=60.0, ge=0, le=86400)
    cors_origins: list[str] = Field(default_factory=list)
    web_dir: Path = WEB_DIR
    log_level: str = "INFO"

    @field_validator("embedder")
    @classmethod
    def _known_embedder(cls, value: str) -> str:
        if value != "e5" and not (value.startswith("st:") and value[3:].strip()):
            raise ValueError("use 'e5' or 'st:<path-or-name>' (a sentence-transformers model)")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError("use a postgresql://user:password@host:port/database URL")
        return value

    @field_validator("data_dir")
    @classmethod
    def _folder(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError("not a folder")
        return value

    @field_validator("web_dir")
    @classmethod
    def _web_files(cls, value: Path) -> Path:
        if not (value / "templates").is_dir() or not (value / "static").is_dir():
            raise ValueError("needs the templates/ and static/ folders of web/")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"use one of {', '.join(LOG_LEVELS)}")
        return value.strip().upper()

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        """Checks that involve two settings, so that no command fails half-way later."""
        if self.chunk_overlap >= self.chunk_chars:
            raise ValueError(
                f"CLUSTERCHAT_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than "
                f"CLUSTERCHAT_CHUNK_CHARS ({self.chunk_chars})"
            )
        if self.dense_weight == 0 and self.bm25_weight == 0:
            raise ValueError(
                "CLUSTERCHAT_DENSE_WEIGHT and CLUSTERCHAT_BM25_WEIGHT are both 0: "
                "hybrid search needs one of them above 0"
            )
        return self

    @property
    def db_path(self) -> Path:
        """The SQLite file of articles, chunks and the embedding cache."""
        return self.data_dir / "clusterchat.sqlite3"

    @property
    def index_dir(self) -> Path:
        """The folder of index generations."""
        return self.data_dir / "index"

    @property
    def uploads_dir(self) -> Path:
        """Where files uploaded through the admin API are kept."""
        return self.data_dir / "uploads"


def settings_error(exc: ValueError) -> str:
    """One line naming each bad CLUSTERCHAT_ variable, its value (never a secret) and why."""
    if not isinstance(exc, ValidationError):
        # pydantic-settings names the field whose value is not valid JSON (the list settings)
        field = re.search(r'field "(\w+)"', str(exc))
        if field:
            return f'CLUSTERCHAT_{field[1].upper()}: not a JSON list; write e.g. ["a", "b"]'
        return " ".join(str(exc).split())
    parts = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        loc = [str(p) for p in error.get("loc", ())]
        if not loc:
            parts.append(message)
            continue
        name = f"CLUSTERCHAT_{loc[0].upper()}"
        shown = "" if loc[0] in SECRET_FIELDS else f"={error.get('input')!r}"
        parts.append(f"{name}{shown}: {message}")
    return "; ".join(parts)
