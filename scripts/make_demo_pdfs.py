"""Build the demo PDF articles of ClusterChat from plain-text sources.

Each source file ``<stem>.txt`` has this layout::

    Title of the article
    YYYY-MM-DD

    First paragraph, possibly wrapped
    over several lines.

    ## A subheading

    Another paragraph.

The first line is the title, the second line the publication date, then a
blank line and the body: blocks separated by blank lines are paragraphs, and
lines starting with ``"## "`` are subheadings.  For every source the script
writes ``<out>/<stem>.pdf`` with reportlab (platypus), showing the title, a
line ``"Data: YYYY-MM-DD"`` and the body, and sets the PDF metadata title to
the article title.  Output is deterministic (reportlab "invariant" mode), so
rebuilding does not change files that did not change.

Usage::

    python scripts/make_demo_pdfs.py                      # demo/pdf_src -> demo/corpus
    python scripts/make_demo_pdfs.py --src tests/data/pdf_src --out tests/data --font helvetica

Pages are A5 by default (``--pagesize a4`` for A4), so that a 3,000-character
article spans two pages.  ``--font helvetica`` skips font embedding and keeps
small test fixtures small.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

LOGGER = logging.getLogger("make_demo_pdfs")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SRC = REPO_ROOT / "demo" / "pdf_src"
DEFAULT_OUT = REPO_ROOT / "demo" / "corpus"

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
DEJAVU_REGULAR = DEJAVU_DIR / "DejaVuSans.ttf"
DEJAVU_BOLD = DEJAVU_DIR / "DejaVuSans-Bold.ttf"

PAGE_SIZES = {"a4": A4, "a5": A5}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SUBHEADING_PREFIX = "## "


@dataclass
class Article:
    """A parsed source article."""

    title: str
    date: str
    # Each block is ("h2" | "p", text).
    blocks: list[tuple[str, str]] = field(default_factory=list)


def parse_source(text: str, name: str = "<source>") -> Article:
    """Parse the plain-text source format described in the module docstring."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) < 3:
        raise ValueError(f"{name}: expected title, date, blank line and body")
    title = lines[0].strip()
    date = lines[1].strip()
    if not title:
        raise ValueError(f"{name}: empty title on line 1")
    if not DATE_RE.match(date):
        raise ValueError(f"{name}: line 2 must be a date YYYY-MM-DD, got {date!r}")

    article = Article(title=title, date=date)
    current: list[str] = []

    def flush() -> None:
        if current:
            article.blocks.append(("p", " ".join(current)))
            current.clear()

    for raw in lines[2:]:
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith(SUBHEADING_PREFIX):
            flush()
            article.blocks.append(("h2", line[len(SUBHEADING_PREFIX) :].strip()))
        else:
            current.append(line)
    flush()
    if not article.blocks:
        raise ValueError(f"{name}: empty body")
    return article


def register_fonts(choice: str = "auto") -> tuple[str, str]:
    """Return the (regular, bold) font names to use, registering DejaVuSans if needed.

    ``choice`` is ``"auto"`` (DejaVuSans when its TTF exists, else Helvetica),
    ``"dejavu"`` (fail if the TTF is missing) or ``"helvetica"`` (built-in font,
    not embedded, which keeps the PDF small; it covers Latin-1 accents).
    """
    if choice == "dejavu" and not DEJAVU_REGULAR.exists():
        raise FileNotFoundError(f"{DEJAVU_REGULAR} not found")
    if choice != "helvetica" and DEJAVU_REGULAR.exists():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(DEJAVU_REGULAR)))
        bold = "DejaVuSans"
        if DEJAVU_BOLD.exists():
            pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(DEJAVU_BOLD)))
            bold = "DejaVuSans-Bold"
        LOGGER.debug("using DejaVuSans from %s", DEJAVU_DIR)
        return "DejaVuSans", bold
    if choice == "auto":
        LOGGER.info("DejaVuSans not found, falling back to Helvetica")
    return "Helvetica", "Helvetica-Bold"


def make_styles(regular: str, bold: str) -> dict[str, ParagraphStyle]:
    """Paragraph styles for title, date line, subheadings and body text."""
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=15, leading=19, spaceAfter=4 * mm),
        "date": ParagraphStyle(
            "date", fontName=regular, fontSize=9.5, leading=12, spaceAfter=4 * mm
        ),
        "h2": ParagraphStyle(
            "h2",
            fontName=bold,
            fontSize=11.5,
            leading=15,
            spaceBefore=2 * mm,
            spaceAfter=2 * mm,
        ),
        "p": ParagraphStyle(
            "p", fontName=regular, fontSize=10.5, leading=14.5, spaceAfter=2.5 * mm
        ),
    }


def build_pdf(
    article: Article,
    out_path: Path,
    pagesize: tuple[float, float] = A5,
    font: str = "auto",
) -> None:
    """Render one article to ``out_path``."""
    regular, bold = register_fonts(font)
    styles = make_styles(regular, bold)
    doc = SimpleDocTemplate(
        str(out_path),
        pagesize=pagesize,
        leftMargin=16 * mm,
        rightMargin=16 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=article.title,
        author="Clust-ER news (demo)",
        subject=f"Articolo del {article.date}",
        creator="scripts/make_demo_pdfs.py",
    )
    story: list[Flowable] = [
        Paragraph(escape(article.title), styles["title"]),
        Paragraph(escape(f"Data: {article.date}"), styles["date"]),
        Spacer(1, 2 * mm),
    ]
    for kind, text in article.blocks:
        story.append(Paragraph(escape(text), styles[kind]))
    doc.build(story)


def convert_dir(
    src: Path, out: Path, pagesize: tuple[float, float] = A5, font: str = "auto"
) -> list[Path]:
    """Convert every ``*.txt`` in ``src`` and return the written PDF paths."""
    sources = sorted(src.glob("*.txt"))
    if not sources:
        raise FileNotFoundError(f"no *.txt sources in {src}")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for source in sources:
        article = parse_source(source.read_text(encoding="utf-8"), source.name)
        target = out / f"{source.stem}.pdf"
        build_pdf(article, target, pagesize, font)
        LOGGER.info("wrote %s (%s, %d blocks)", target, article.date, len(article.blocks))
        written.append(target)
    return written


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="folder of *.txt sources")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder for PDFs")
    parser.add_argument(
        "--pagesize", choices=sorted(PAGE_SIZES), default="a5", help="page size (default a5)"
    )
    parser.add_argument(
        "--font",
        choices=("auto", "dejavu", "helvetica"),
        default="auto",
        help="body font: DejaVuSans if installed (auto), or built-in Helvetica",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    rl_config.invariant = 1  # deterministic output (no timestamps / random ids)
    try:
        convert_dir(args.src, args.out, PAGE_SIZES[args.pagesize], args.font)
    except (OSError, ValueError) as exc:
        LOGGER.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
