"""The quality suite's summary: means per category and overall, failures counted apart."""

from __future__ import annotations

import pytest

from meshforge.evaluate.suite import SUMMARY_METRICS, AssetResult, summarise, summary_markdown


def result(name: str, category: str, f005: float | None, seconds: float = 0.5) -> AssetResult:
    if f005 is None:
        return AssetResult(name=name, category=category, error="engine: failed")
    scores = {"aligned": {"fscore@0.05": f005, "chamfer_l1": 1 - f005}, "raw": {"fscore@0.05": 0.1}}
    return AssetResult(
        name=name, category=category, seconds_engine=seconds, scores=scores, shape="inflate"
    )


def test_means_per_category_and_overall() -> None:
    results = [
        result("a", "can", 0.9, 0.2),
        result("b", "can", 0.7, 0.4),
        result("c", "box", 0.5, 0.9),
        result("d", "box", None),
    ]
    summary = summarise(results)
    assert summary["categories"]["can"]["fscore@0.05"] == pytest.approx(0.8)
    assert summary["categories"]["box"] == {
        "assets": 2,
        "failures": 1,
        "fscore@0.05": 0.5,
        "chamfer_l1": 0.5,
    }
    assert summary["overall"]["fscore@0.05"] == pytest.approx(0.7)
    assert summary["overall"]["failures"] == 1
    assert summary["engine_seconds_median"] == pytest.approx(0.4)
    assert summarise(results, "raw")["overall"]["fscore@0.05"] == pytest.approx(0.1)


def test_markdown_lists_every_asset_and_category() -> None:
    results = [result("a", "can", 0.9), result("d", "box", None)]
    document = {
        "summary": {"aligned": summarise(results)},
        "assets": [
            {
                "name": r.name,
                "category": r.category,
                "shape": r.shape,
                "error": r.error,
                "seconds_engine": r.seconds_engine,
                "aligned": {k: r.metric(k) for k in SUMMARY_METRICS},
            }
            for r in results
        ],
    }
    text = summary_markdown(document)
    assert "| a | can | inflate | 0.900 |" in text
    assert "| d | box | | failed: engine: failed |" in text
    assert "| **overall** | 2 | 0.900 |" in text
