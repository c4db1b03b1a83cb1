"""The benchmark's arithmetic: percentiles, throughput, rounds, growth with length, process usage, goals."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest

from bench import stats


def sample(ms: float, start: float, turn: int = 1, ok: bool = True, replies: int = 1,
           error: Optional[str] = None) -> Dict[str, Any]:
    return {"conv": 0, "turn": turn, "start": start, "ms": ms, "ok": ok, "status": 200 if ok else 500,
            "replies": replies, "error": error}


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    values = list(range(1, 101))
    assert stats.percentile(values, 50) == pytest.approx(50.5)
    assert stats.percentile(values, 95) == pytest.approx(95.05)
    assert stats.percentile(values, 99) == pytest.approx(99.01)
    assert stats.percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)
    assert stats.percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        stats.percentile([], 50)
    with pytest.raises(ValueError):
        stats.percentile([1.0], 101)


def test_summary_counts_errors_and_empty_replies_and_takes_latency_of_answered_requests_only() -> None:
    samples = [sample(100, 1000.0), sample(300, 1000.1), sample(200, 1000.5, replies=0),
               sample(5000, 1000.2, ok=False, error="HTTP 500: boom"), sample(10, 1001.9)]
    summary = stats.summarize(samples)
    assert summary["requests"] == 5
    assert summary["answered"] == 4
    assert summary["errors"] == 1
    assert summary["error_kinds"] == {"HTTP 500: boom": 1}
    assert summary["empty_replies"] == 1
    assert summary["p50_ms"] == 150.0                     # of 10, 100, 200, 300: not the failed 5000
    assert summary["max_ms"] == 300.0
    # from the first start (1000.0) to the last arrival (the failed one: 1000.2 + 5 s)
    assert summary["duration_s"] == pytest.approx(5.2)
    assert summary["msg_per_s"] == pytest.approx(round(4 / 5.2, 2))


def test_rounds_pool_latencies_and_count_only_their_own_time() -> None:
    first = [sample(500, 0.0), sample(500, 0.5)]           # 1 s of work
    second = [sample(1000, 100.0), sample(1000, 101.0)]    # 2 s of work, 99 s later
    summary = stats.summarize_rounds([first, second])
    assert summary["requests"] == 4
    assert summary["duration_s"] == pytest.approx(3.0)     # the gap while the other system ran is left out
    assert summary["msg_per_s"] == pytest.approx(1.33)
    assert summary["round_msg_per_s"] == [2.0, 1.0]
    assert summary["p50_ms"] == 750.0


def test_growth_compares_the_first_and_last_twenty_turns() -> None:
    samples: List[Dict[str, Any]] = []
    for conversation in range(3):
        for turn in range(1, 201):
            samples.append({**sample(50 + turn + conversation, turn * 1.0, turn=turn), "conv": conversation})
    growth = stats.growth(samples, 200)
    assert growth["early"]["turns"] == [1, 20] and growth["early"]["n"] == 60
    assert growth["late"]["turns"] == [181, 200] and growth["late"]["n"] == 60
    assert growth["early"]["p50_ms"] == pytest.approx(61.5)      # turns 1-20 of 51.. 72
    assert growth["late"]["p50_ms"] == pytest.approx(241.5)
    assert growth["p50_ratio"] == pytest.approx(round(241.5 / 61.5, 2))
    assert growth["p95_ratio"] == stats.ratio(growth["late"]["p95_ms"], growth["early"]["p95_ms"])
    assert growth["median_per_turn"][1] == 52.0 and len(growth["median_per_turn"]) == 200
    assert growth["errors"] == 0 and growth["requests"] == 600


def test_growth_of_a_short_conversation_splits_it_in_halves() -> None:
    samples = [sample(10.0 * turn, float(turn), turn=turn) for turn in range(1, 11)]
    growth = stats.growth(samples, 10)
    assert growth["early"]["turns"] == [1, 5] and growth["late"]["turns"] == [6, 10]


def test_ratio_is_none_without_both_numbers() -> None:
    assert stats.ratio(3.0, 2.0) == 1.5
    assert stats.ratio(None, 2.0) is None
    assert stats.ratio(1.0, 0) is None


def test_usage_adds_cpu_over_rounds_and_keeps_the_highest_peak() -> None:
    rounds = [{"rasa": {"cpu_s": 10.0, "peak_rss_mb": 800.0, "avg_rss_mb": 790.0, "processes": 1},
               "actions": {"cpu_s": 2.0, "peak_rss_mb": 70.0, "avg_rss_mb": 69.0, "processes": 1}},
              {"rasa": {"cpu_s": 12.5, "peak_rss_mb": 820.0, "avg_rss_mb": 800.0, "processes": 2}}]
    merged = stats.merge_usage(rounds)
    assert merged["rasa"] == {"cpu_s": 22.5, "peak_rss_mb": 820.0, "avg_rss_mb": 795.0, "processes": 2}
    assert merged["actions"]["cpu_s"] == 2.0
    assert stats.usage_total(merged) == {"cpu_s": 24.5, "peak_rss_mb": 890.0, "avg_rss_mb": 864.0}
    assert stats.cpu_per_message(merged, 490) == 50.0
    assert stats.cpu_per_message(merged, 0) is None


def test_goals_are_judged_from_the_measurements() -> None:
    results = {
        "ratios": {"throughput": 1.1, "p95": 1.3},
        "systems": {"careline": {"summary": {"errors": 0}}},
        "long": {"systems": {"careline": {"p95_ratio": 1.05}}},
        "prod": {"concurrency": {"200": {"summary": {"errors": 3}}, "50": {"summary": {"errors": 0}}}},
    }
    judged = {item["goal"]: item for item in stats.goals(results)}
    assert judged["throughput Careline / stock"]["met"] is True
    assert judged["p95 latency Careline / stock"]["met"] is False
    assert judged["Careline errors under the load"]["met"] is True
    assert judged["Careline p95 of the last turns / the first turns"] == {
        "goal": "Careline p95 of the last turns / the first turns", "measured": 1.05, "target": "<= 1.2", "met": True}
    assert judged["prod profile, 50 concurrent conversations: errors"]["met"] is True
    assert judged["prod profile, 200 concurrent conversations: errors"]["met"] is False
    assert [item["goal"] for item in stats.goals(results)][-2:] == [
        "prod profile, 50 concurrent conversations: errors", "prod profile, 200 concurrent conversations: errors"]


def test_a_goal_that_could_not_be_measured_is_neither_met_nor_missed() -> None:
    judged = stats.goals({"ratios": {"throughput": None, "p95": 0.8}})
    assert judged[0]["met"] is None
    assert judged[1]["met"] is True
