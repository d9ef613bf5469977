"""PDF files through pypdf, keeping where each page starts."""

from __future__ import annotations

import io
import re
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError

from ingest.errors import EmptyArticle, EncryptedDocument, UnsupportedFormat
from ingest.text import TextDoc, derived_title, is_title_line, parse_date

_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")
# A line break inside a paragraph: the line does not end a sentence or the next is lowercase.
_SOFT_BREAK = re.compile(r"(?<![.!?:;…])\n(?=[a-zà-ÿ0-9(«\"'])")


def _reflow(page_text: str) -> str:
    """Join lines that the PDF wrapped inside one paragraph."""
    text = page_text.replace("\r\n", "\n").replace("\r", "\n")
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    text = _SOFT_BREAK.sub(" ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def _join_pages(pages: list[str]) -> tuple[str, list[int]]:
    """Join page texts; a sentence running across a page break stays one sentence."""
    text = ""
    starts: list[int] = []
    for page in pages:
        if text and page:
            continues = text[-1] not in '.!?:;…»"' and page[0].islower()
            text += " " if continues else "\n\n"
        starts.append(len(text))
        text += page
    return text.strip(), starts


def parse_pdf(path: Path | str, data: bytes | None = None) -> tuple[TextDoc, tuple[int, ...]]:
    """Read the text layer of every page (of `data` when given; `path` then names it).

    Returns:
        The document and the offset in its text where each page starts.

    Raises:
        EncryptedDocument: the PDF needs a password.
        EmptyArticle: no page has a text layer (empty or scanned PDF).
    """
    try:
        reader = PdfReader(io.BytesIO(data) if data is not None else path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise EncryptedDocument(f"{path}: the PDF is encrypted; remove the password first")
        pages = [_reflow(page.extract_text() or "") for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except (FileNotDecryptedError, NotImplementedError) as exc:
        raise EncryptedDocument(f"{path}: the PDF is encrypted; remove the password first") from exc
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise UnsupportedFormat(f"{path}: not a readable PDF ({exc})") from exc
    text, starts = _join_pages(pages)
    if not text:
        raise EmptyArticle(f"{path}: no text layer (empty or image-only PDF; run OCR first)")
    first_line, _, rest = text.partition("\n")
    title = str(meta_title).strip()
    if not title:
        separate = rest.strip() and is_title_line(first_line, rest)
        title = first_line.strip() if separate else derived_title(text)
    # Only a first line that is the title, whole, leaves the text, and never the only one.
    if rest.strip() and first_line.strip() == title:
        cut = len(first_line)
        while cut < len(text) and text[cut].isspace():
            cut += 1
        text = text[cut:]
        starts = [max(0, s - cut) for s in starts]
    return TextDoc(title=title[:300], text=text, sections=(), published=parse_date(text[:300])), (
        tuple(starts)
    )
