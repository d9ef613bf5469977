"""Before and after: the figures a change is meant to move, from two runs' benchmarks.json."""

from __future__ import annotations

from typing import Any

from scripts.bench.markdown import cell, table

COMPARED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hybrid search p50 ms", ("search", "hybrid", "p50_ms", "median")),
    ("dense search p50 ms", ("search", "dense", "p50_ms", "median")),
    ("/api/ask 1 client p50 ms", ("http", "sequential", "p50_ms", "median")),
    ("/api/ask 1 client p95 ms", ("http", "sequential", "p95_ms", "median")),
    ("/api/ask 20 clients p50 ms", ("http", "concurrent", "p50_ms", "median")),
    ("/api/ask 20 clients requests/s", ("http", "concurrent", "requests_per_s", "median")),
    ("extractive answer p50 ms", ("quality", "answers", "p50_ms")),
    ("answer containment", ("quality", "answers", "containment")),
)


def _dig(figures: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = figures
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures that a change is meant to move, before and after."""
    return [
        {
            "figure": name,
            "before": _dig(before["figures"], path),
            "after": _dig(after["figures"], path),
        }
        for name, path in COMPARED
    ]


def section_compare(result: dict[str, Any]) -> list[str]:
    if "compare" not in result:
        return []
    before = result["before"]
    rows = [[r["figure"], cell(r["before"]), cell(r["after"])] for r in result["compare"]]
    return [
        "## Before and after",
        "",
        f"Against `{before['file']}` (generated {before['generated']}, code "
        f"{before['git']}); what changed in between is in `docs/profile.md`.",
        "",
        *table(["figure", "before", "after"], rows),
        "",
    ]
