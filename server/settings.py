"""All configuration, read from CLUSTERCHAT_* environment variables or a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, HttpUrl, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


class Settings(BaseSettings):
    """Every setting has a CLUSTERCHAT_ environment variable of the same name."""

    model_config = SettingsConfigDict(env_prefix="CLUSTERCHAT_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    embedder: str = "e5"  # or "st:/path/or/name" (sentence-transformers)
    threads: int | None = Field(default=None, ge=1)  # OMP threads for e5; default: all cores
    query_cache: int = Field(default=1024, ge=0)  # recent question vectors kept (e5); 0: off
    chunk_chars: int = Field(default=1200, ge=200, le=20000)
    chunk_overlap: int = Field(default=200, ge=0, le=5000)
    faiss_index: Literal["flat", "hnsw"] = "flat"
    # Give each sentence a vector of its own when indexing, for the answerer to score
    # sentences by meaning; costs about as much model time again as the chunks.
    sentence_vectors: bool = True
    search_mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    fusion: Literal["minmax", "rrf"] = "minmax"
    rrf_k: int = Field(default=60, ge=1)
    dense_weight: float = Field(default=1.0, ge=0)
    bm25_weight: float = Field(default=1.0, ge=0)
    top_k: int = Field(default=5, ge=1, le=50)
    max_question_chars: int = Field(default=1000, ge=10)
    # Request limits (docs/limits.md): bad input is refused before it costs any work.
    max_history_turns: int = Field(default=50, ge=0)  # /api/ask `history` entries
    max_turn_chars: int = Field(default=8000, ge=10)  # each history turn or chat message
    max_messages: int = Field(default=100, ge=1)  # /v1/chat/completions `messages`
    max_request_bytes: int = Field(default=256 * 1024, ge=1024)  # a JSON request body
    abstain_threshold: float = Field(default=0.35, ge=0, le=1)  # see docs/evaluation.md
    llm_base_url: HttpUrl | None = None  # None: extractive answers
    llm_model: str = "default"
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_retries: int = Field(default=1, ge=0, le=5)
    admin_token: SecretStr | None = None
    api_keys: list[SecretStr] = Field(default_factory=list)
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    cors_origins: list[str] = Field(default_factory=list)
    web_dir: Path = WEB_DIR
    log_level: str = "INFO"

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
