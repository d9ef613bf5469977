"""Benchmark ClusterChat: ingest, re-ingest, search and HTTP latency, memory, answer quality.

Usage::

    python -m scripts.bench                 # full run (`make bench`), writes docs/benchmarks.*
    python -m scripts.bench --quick --cache /tmp/b --out /tmp/b   # a tiny check, ~1 minute

The data is the SQuAD-it dev split in `shared/eval/squad_it_dev` beside the repository
(`--squad DIR` to change it). Expensive data folders live under `--cache` (default
`bench/cache`, git-ignored) and are reused by later runs: the base folder is brought up to
date incrementally, and the 10k-chunk folder is rebuilt only when the base changed.
"""

from scripts.bench.common import DEFAULT_SQUAD, REPO, p50_p95, settings_at
from scripts.bench.compare import COMPARED, compare
from scripts.bench.search_latency import search_times

__all__ = ["COMPARED", "DEFAULT_SQUAD", "REPO", "compare", "p50_p95", "search_times", "settings_at"]
