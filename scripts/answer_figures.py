"""Fitting for scripts.train_answerer: models, calibration, validation figures, the curve."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from server.answer.selector import FEATURES, Selector, Tree

Scorer = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]
TYPED = ("person", "date", "number", "place")
SEED = 13
# The second-best sentence is quoted too whatever its probability (0: always, when it does
# not overlap the first): measured, every higher share loses answers (docs/evaluation.md).
COMPANION = 0.0


@dataclass(frozen=True)
class Groups:
    """All candidates in one matrix; group g owns rows offsets[g]:offsets[g + 1]."""

    x: npt.NDArray[np.float64]
    label: npt.NDArray[np.bool_]
    offsets: npt.NDArray[np.int64]
    meta: list[dict[str, Any]]

    @classmethod
    def of(cls, matrices: list[Any], meta: list[dict[str, Any]]) -> Groups:
        """Stack per-group matrices; a label is a gold string in a gold-article sentence."""
        x = np.vstack([m for m in matrices if len(m)]) if matrices else np.zeros((0, len(FEATURES)))
        sizes = [len(m) for m in matrices]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        label = np.concatenate(
            [np.array(m["has"], dtype=bool) & np.array(m["gold"], dtype=bool) for m in meta]
        )
        return cls(x, label, offsets, meta)

    def rows(self, keep: Callable[[dict[str, Any]], bool]) -> npt.NDArray[np.bool_]:
        """A row mask of the groups whose meta passes `keep`."""
        mask = np.zeros(len(self.x), dtype=bool)
        for g, m in enumerate(self.meta):
            if keep(m):
                mask[self.offsets[g] : self.offsets[g + 1]] = True
        return mask


def _train(m: dict[str, Any]) -> bool:
    return bool(m["split"] == "train")


def best_of(groups: Groups, probabilities: npt.NDArray[np.float64]) -> list[tuple[int, float]]:
    """Per group, the index (within the group) of its best candidate and its probability."""
    out = []
    for g in range(len(groups.meta)):
        p = probabilities[groups.offsets[g] : groups.offsets[g + 1]]
        out.append((int(np.argmax(p)), float(p.max())) if len(p) else (-1, 0.0))
    return out


def calibrate(groups: Groups, probabilities: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Platt scaling of the best candidate's logit against "its answer is right", on training."""
    from sklearn.linear_model import LogisticRegression

    xs, ys = [], []
    for g, (i, p) in enumerate(best_of(groups, probabilities)):
        m = groups.meta[g]
        if not _train(m) or i < 0:
            continue
        q = min(max(p, 1e-6), 1 - 1e-6)
        xs.append([math.log(q / (1 - q))])
        ys.append(bool(m["answerable"] and m["has"][i] and m["gold"][i]))
    model = LogisticRegression(C=100.0).fit(np.array(xs), np.array(ys))
    return float(model.coef_[0][0]), float(model.intercept_[0])


def threshold_for(
    groups: Groups, confidence: list[float], max_abstain: float, split: str = "validation"
) -> float:
    """The highest confidence threshold that abstains on at most `max_abstain` of `split`."""
    values = sorted(
        c
        for c, m in zip(confidence, groups.meta, strict=True)
        if m["part"] == "squad" and m["split"] == split and m["answerable"]
    )
    allowed = int(max_abstain * len(values))
    return round(values[allowed] - 1e-6, 4) if values else 0.5


def fit_logistic(
    groups: Groups, features: tuple[str, ...], max_abstain: float, c: float = 1.0
) -> Selector:
    """Standardised logistic regression on the training groups' candidates."""
    from sklearn.linear_model import LogisticRegression

    train = groups.rows(_train)
    columns = [FEATURES.index(f) for f in features]
    x = groups.x[train][:, columns]
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    model = LogisticRegression(C=c, max_iter=5000).fit((x - mean) / scale, groups.label[train])
    draft = Selector(
        features=features,
        mean=tuple(round(float(v), 6) for v in mean),
        scale=tuple(round(float(v), 6) for v in scale),
        coef=tuple(round(float(v), 6) for v in model.coef_[0]),
        intercept=round(float(model.intercept_[0]), 6),
        calibration=(1.0, 0.0),
        threshold=0.5,
        companion=COMPANION,
    )
    return finish(groups, draft.scores, draft, max_abstain)


def finish(groups: Groups, scorer: Scorer, draft: Selector, max_abstain: float) -> Selector:
    """Calibrate `scorer` and choose the abstention threshold on validation."""
    probabilities = scorer(groups.x)
    a, b = calibrate(groups, probabilities)
    calibrated = _with(draft, calibration=(round(a, 6), round(b, 6)))
    confidence = [
        0.0 if m.get("unknown") else calibrated.confidence(p)
        for m, (_, p) in zip(groups.meta, best_of(groups, probabilities), strict=True)
    ]
    return _with(calibrated, threshold=threshold_for(groups, confidence, max_abstain))


def _with(selector: Selector, **changes: Any) -> Selector:
    from dataclasses import replace

    return replace(selector, **changes)


def fit_boosting(
    groups: Groups, features: tuple[str, ...], max_abstain: float, **params: Any
) -> Selector:
    """Histogram gradient boosting on the same candidates, its trees exported to the file."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    train = groups.rows(_train)
    columns = [FEATURES.index(f) for f in features]
    settings = {"max_iter": 200, "max_leaf_nodes": 31, "learning_rate": 0.1} | params
    model = HistGradientBoostingClassifier(random_state=SEED, **settings)
    model.fit(groups.x[train][:, columns], groups.label[train])
    trees = tuple(_export(predictor[0].nodes) for predictor in model._predictors)
    n = len(features)
    draft = Selector(
        features=features,
        mean=(0.0,) * n,
        scale=(1.0,) * n,
        coef=(0.0,) * n,
        intercept=float(np.ravel(model._baseline_prediction)[0]),
        calibration=(1.0, 0.0),
        threshold=0.5,
        companion=COMPANION,
        trees=trees,
    )
    return finish(groups, draft.scores, draft, max_abstain)


def _export(nodes: Any) -> Tree:
    """A scikit-learn tree predictor's nodes as a `Tree` (leaves get feature -1)."""
    leaf = nodes["is_leaf"].astype(bool)
    return Tree(
        feature=tuple(
            -1 if is_leaf else int(f) for f, is_leaf in zip(nodes["feature_idx"], leaf, strict=True)
        ),
        threshold=tuple(float(t) for t in nodes["num_threshold"]),
        left=tuple(int(v) for v in nodes["left"]),
        right=tuple(int(v) for v in nodes["right"]),
        value=tuple(float(v) for v in nodes["value"]),
    )


def _answer(
    m: dict[str, Any], p: npt.NDArray[np.float64], companion: float
) -> tuple[bool, bool, bool]:
    """(contains a gold string, cites the gold article, leading span right) of one answer."""
    order = np.argsort(-p, kind="stable")
    best = int(order[0])
    chosen = [best] + [int(i) for i in order[1:2] if p[i] >= companion * p[best]]
    has = any(m["has"][i] for i in chosen)
    gold = any(m["gold"][i] for i in chosen)
    return has, gold, bool(m["span_ok"][best])


def figures(groups: Groups, scorer: Scorer, selector: Selector) -> dict[str, Any]:
    """Validation figures (SQuAD-it validation titles) and the demo and events dev sets."""
    start = time.perf_counter()
    probabilities = scorer(groups.x)
    per_group_ms = (time.perf_counter() - start) * 1000 / max(len(groups.meta), 1)
    tally: dict[str, dict[str, list[float]]] = {}
    for g, m in enumerate(groups.meta):
        if m["part"] == "squad" and m["split"] != "validation":
            continue
        p = probabilities[groups.offsets[g] : groups.offsets[g + 1]]
        conf = selector.confidence(float(p.max())) if len(p) else 0.0
        answered = len(p) > 0 and conf >= selector.threshold and not m.get("unknown")
        part = m["part"]
        if not m["answerable"]:
            key = f"{part} other-article" if m["set"] == "other" else f"{part} unanswerable"
            tally.setdefault(key, {}).setdefault("abstained", []).append(not answered)
            continue
        has, gold, span = _answer(m, p, selector.companion) if answered else (False, False, False)
        for key in (part, f"{part} {m['kind']}"):
            t = tally.setdefault(key, {})
            t.setdefault("right", []).append(has and gold)
            t.setdefault("abstained", []).append(not answered)
            if m["kind"] in TYPED:
                t.setdefault("span_right", []).append(span)
    out: dict[str, Any] = {
        key: {name: round(statistics.fmean(v), 3) for name, v in t.items()} | {"n": _n(t)}
        for key, t in sorted(tally.items())
    }
    out["threshold"] = selector.threshold
    out["score_ms_per_question"] = round(per_group_ms, 3)
    return out


def _n(t: dict[str, list[float]]) -> int:
    return len(next(iter(t.values())))


def curve(groups: Groups, selector: Selector, split: str) -> list[tuple[float, float, float]]:
    """(threshold, abstention, precision of the answered) on the split's answerable questions."""
    probabilities = selector.scores(groups.x)
    points: list[tuple[float, bool]] = []
    for g, m in enumerate(groups.meta):
        if m["part"] != "squad" or m["split"] != split or not m["answerable"]:
            continue
        p = probabilities[groups.offsets[g] : groups.offsets[g + 1]]
        has, gold, _ = _answer(m, p, selector.companion)
        confidence = 0.0 if m.get("unknown") else selector.confidence(float(p.max()))
        points.append((confidence, has and gold))
    out = []
    for t in sorted([*np.linspace(0.0, 0.95, 96).tolist(), selector.threshold]):
        answered = [right for c, right in points if c >= t]
        precision = statistics.fmean(answered) if answered else 1.0
        out.append((float(t), 1 - len(answered) / len(points), precision))
    return out


def plot_curve(points: list[tuple[float, float, float]], chosen: float, path: Path) -> None:
    """Precision of the answered questions against the abstention rate, with the chosen point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot([a for _, a, _ in points], [p for _, _, p in points], color="#2b6cb0")
    at = min(points, key=lambda pt: abs(pt[0] - chosen))
    ax.scatter([at[1]], [at[2]], color="#c53030", zorder=3)
    ax.annotate(
        f"threshold {chosen:.3f}: abstain {at[1]:.1%}, precision {at[2]:.3f}",
        (at[1], at[2]),
        textcoords="offset points",
        xytext=(10, -15),
    )
    ax.set_xlabel("abstention (answerable validation questions)")
    ax.set_ylabel("precision of answers given")
    ax.set_title("SQuAD-it validation titles: precision vs abstention")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
