"""Where an uploaded file is saved: a name clash with another stored article is asked about."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from index.store import DocumentStore

OnConflict = Literal["replace", "keep"]
# Suffixed names tried for "keep both" (comunicato-2.txt … comunicato-999.txt).
MAX_COPIES = 999


@dataclass(frozen=True, slots=True)
class Clash:
    """An upload whose name matches a stored upload with other content."""

    file: str
    articles: tuple[tuple[str, str], ...]  # (id, title) stored from that file

    @property
    def reason(self) -> str:
        """One line naming the stored article(s) and the two ways out."""
        named = ", ".join(f"{title!r} (id {article_id})" for article_id, title in self.articles)
        return (
            f"a different file with this name is stored as {named}; upload again with "
            "on_conflict=replace to replace it or on_conflict=keep to keep both"
        )

    def to_json(self) -> dict[str, object]:
        """The reply's entry for this file."""
        return {
            "file": self.file,
            "reason": self.reason,
            "articles": [{"id": i, "title": t} for i, t in self.articles],
        }


def _stored_from(path: Path, store: DocumentStore) -> list[tuple[str, str]]:
    return store.articles_of_file(str(path.resolve()))


def _same_bytes(path: Path, data: bytes) -> bool:
    return path.is_file() and path.read_bytes() == data


def _copy_name(name: str, n: int) -> str:
    path = Path(name)
    return f"{path.stem}-{n}{path.suffix}"


def upload_target(
    name: str, data: bytes, folder: Path, store: DocumentStore, on_conflict: OnConflict | None
) -> Path | Clash:
    """The path to save an upload at, or the clash to report.

    A name is free when no file has it, when the file there has the same bytes (the
    upload is then unchanged), or when no stored article came from it (its articles were
    deleted). Otherwise: `replace` saves over it (the same article is updated), `keep`
    takes the first free suffixed name (a separate article; uploading the same bytes
    again finds that copy), and no choice is a clash. Call under the uploads lock.
    """
    target = folder / name
    if _same_bytes(target, data) or not (stored := _stored_from(target, store)):
        return target
    if on_conflict == "replace":
        return target
    if on_conflict is None:
        return Clash(name, tuple(stored))
    for n in range(2, MAX_COPIES + 1):
        copy = folder / _copy_name(name, n)
        if _same_bytes(copy, data) or not _stored_from(copy, store):
            return copy
    return Clash(name, tuple(stored))
