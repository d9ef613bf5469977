"""The feed benchmark's scenario on a small feed: what it fetches and stores (not how fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.bench.feeds import compare_parsers, scenario
from server.settings import Settings


@pytest.mark.parametrize("dated", [True, False])
def test_refresh_fetches_no_body_when_nothing_changed_and_one_update_for_one_change(
    tmp_path: Path, dated: bool
):
    settings = Settings(_env_file=None, data_dir=tmp_path, fetch_interval=0)  # type: ignore[call-arg]
    result = scenario(8, dated, settings)
    first, second, changed = result["first"], result["second"], result["changed"]
    assert (first["added"], first["failed"]) == (8, 0)
    assert first["bodies"] == 9  # the feed and every item
    assert second["bodies"] == 0
    assert (second["added"], second["updated"], second["unchanged"]) == (0, 0, 8)
    assert (changed["added"], changed["updated"], changed["unchanged"]) == (0, 1, 7)
    # A dated feed changes with its item, an undated one does not: the page alone is new.
    assert changed["bodies"] == (2 if dated else 1)


def test_both_parsers_see_every_item():
    result = compare_parsers(12, repeats=1)
    assert result["feedparser"]["links"] == 12
    assert result["trafilatura"]["links"] == 12
