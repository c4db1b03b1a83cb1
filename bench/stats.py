"""The benchmark's arithmetic: latency percentiles, throughput, per-turn curves, ratios and goals (no I/O).

A sample is one request as the locustfile recorded it: {"conv", "turn", "start" (epoch s), "ms", "ok",
"status", "replies", "error"}.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

Sample = Mapping[str, Any]
Summary = Dict[str, Any]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between the closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency(values: Sequence[float]) -> Dict[str, Optional[float]]:
    """p50, p95, p99, mean and max of latencies in milliseconds (None for no values)."""
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None, "max_ms": None}
    return {"p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1),
            "p99_ms": round(percentile(values, 99), 1), "mean_ms": round(sum(values) / len(values), 1),
            "max_ms": round(max(values), 1)}


def wall_seconds(samples: Iterable[Sample]) -> float:
    """From the first request's start to the last reply's arrival."""
    spans = [(float(s["start"]), float(s["start"]) + float(s["ms"]) / 1000)
             for s in samples if s.get("start") is not None]
    if not spans:
        return 0.0
    return max(end for _, end in spans) - min(start for start, _ in spans)


def summarize(samples: Sequence[Sample], duration_s: Optional[float] = None) -> Summary:
    """Requests, errors, replies without a bot message, latency of the answered ones, messages per second.

    Throughput counts answered requests over `duration_s` (default: the samples' own wall time).
    """
    answered = [float(s["ms"]) for s in samples if s.get("ok")]
    duration = wall_seconds(samples) if duration_s is None else duration_s
    errors = [s for s in samples if not s.get("ok")]
    kinds: Dict[str, int] = {}
    for sample in errors:
        kind = str(sample.get("error") or f"HTTP {sample.get('status')}")[:80]
        kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "requests": len(samples), "answered": len(answered), "errors": len(errors),
        "error_kinds": dict(sorted(kinds.items(), key=lambda item: -item[1])[:5]),
        "empty_replies": sum(1 for s in samples if s.get("ok") and s.get("replies") == 0),
        **latency(answered),
        "duration_s": round(duration, 2),
        "msg_per_s": round(len(answered) / duration, 2) if duration > 0 else None,
    }


def summarize_rounds(rounds: Sequence[Sequence[Sample]]) -> Summary:
    """One summary over several rounds: latencies pooled, throughput = all answered / the rounds' summed time
    (the gaps between rounds, when the other system ran, do not count), plus each round's own throughput."""
    pooled = [sample for samples in rounds for sample in samples]
    duration = sum(wall_seconds(samples) for samples in rounds)
    summary = summarize(pooled, duration_s=duration)
    summary["round_msg_per_s"] = [summarize(samples)["msg_per_s"] for samples in rounds]
    return summary


def ratio(numerator: Optional[float], denominator: Optional[float]) -> Optional[float]:
    """numerator / denominator rounded to 2 places; None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return round(numerator / denominator, 2)


def per_turn(samples: Iterable[Sample]) -> Dict[int, List[float]]:
    """Answered latencies per turn number (1-based), in turn order."""
    turns: Dict[int, List[float]] = {}
    for sample in samples:
        if sample.get("ok") and sample.get("turn") is not None:
            turns.setdefault(int(sample["turn"]), []).append(float(sample["ms"]))
    return dict(sorted(turns.items()))


def turn_window(samples: Sequence[Sample], first: int, last: int) -> Summary:
    """Latency of the answered requests of turns first..last (inclusive), with their count."""
    values = [float(s["ms"]) for s in samples if s.get("ok") and first <= int(s.get("turn") or 0) <= last]
    return {"turns": [first, last], "n": len(values), **latency(values)}


def growth(samples: Sequence[Sample], turns: int, window: int = 20) -> Summary:
    """How latency grows with conversation length: the first `window` turns against the last `window`
    (1-20 and 181-200 for 200 turns), their p95 and median ratios, and the median per turn for a plot."""
    window = max(1, min(window, turns // 2 or 1))
    early = turn_window(samples, 1, window)
    late = turn_window(samples, turns - window + 1, turns)
    curve = {turn: round(percentile(values, 50), 1) for turn, values in per_turn(samples).items()}
    return {"early": early, "late": late, "p95_ratio": ratio(late["p95_ms"], early["p95_ms"]),
            "p50_ratio": ratio(late["p50_ms"], early["p50_ms"]), "median_per_turn": curve,
            "errors": sum(1 for s in samples if not s.get("ok")), "requests": len(samples)}


def merge_usage(rounds: Sequence[Mapping[str, Mapping[str, float]]]) -> Dict[str, Dict[str, float]]:
    """Process usage over several rounds: CPU seconds added up, the highest peak, the mean of the averages."""
    merged: Dict[str, Dict[str, float]] = {}
    names = sorted({name for usage in rounds for name in usage})
    for name in names:
        parts = [usage[name] for usage in rounds if name in usage]
        merged[name] = {
            "cpu_s": round(sum(part["cpu_s"] for part in parts), 2),
            "peak_rss_mb": max(part["peak_rss_mb"] for part in parts),
            "avg_rss_mb": round(sum(part["avg_rss_mb"] for part in parts) / len(parts), 1),
            "processes": max(part.get("processes", 1) for part in parts),
        }
    return merged


def usage_total(usage: Mapping[str, Mapping[str, float]]) -> Dict[str, float]:
    """All processes of a system together: CPU seconds and the sum of their peaks and averages."""
    return {"cpu_s": round(sum(u["cpu_s"] for u in usage.values()), 2),
            "peak_rss_mb": round(sum(u["peak_rss_mb"] for u in usage.values()), 1),
            "avg_rss_mb": round(sum(u["avg_rss_mb"] for u in usage.values()), 1)}


def cpu_per_message(usage: Mapping[str, Mapping[str, float]], answered: int) -> Optional[float]:
    """CPU milliseconds a system spent per answered message."""
    if not answered:
        return None
    return round(usage_total(usage)["cpu_s"] * 1000 / answered, 1)


Goal = Dict[str, Any]


def goal(name: str, measured: Optional[float], target: str, met: Optional[bool]) -> Goal:
    """One line of the goals table: met is None when it could not be measured."""
    return {"goal": name, "measured": measured, "target": target, "met": met}


def at_most(value: Optional[float], limit: float) -> Optional[bool]:
    return None if value is None else value <= limit


def at_least(value: Optional[float], limit: float) -> Optional[bool]:
    return None if value is None else value >= limit


def goals(results: Mapping[str, Any]) -> List[Goal]:
    """The issue's goals, judged from the measured results (a missing measurement is neither met nor missed)."""
    found: List[Goal] = []
    ratios = results.get("ratios") or {}
    if ratios:
        found.append(goal("throughput Careline / stock", ratios.get("throughput"), ">= 1.0",
                          at_least(ratios.get("throughput"), 1.0)))
        found.append(goal("p95 latency Careline / stock", ratios.get("p95"), "<= 1.0", at_most(ratios.get("p95"), 1.0)))
    careline = (results.get("systems") or {}).get("careline") or {}
    if careline.get("summary"):
        errors = careline["summary"]["errors"]
        found.append(goal("Careline errors under the load", errors, "0", errors == 0))
    long_run = ((results.get("long") or {}).get("systems") or {}).get("careline")
    if long_run:
        found.append(goal("Careline p95 of the last turns / the first turns", long_run["p95_ratio"], "<= 1.2",
                          at_most(long_run["p95_ratio"], 1.2)))
    prod = results.get("prod") or {}
    for users, run in sorted((prod.get("concurrency") or {}).items(), key=lambda item: int(item[0])):
        errors = run["summary"]["errors"]
        found.append(goal(f"prod profile, {users} concurrent conversations: errors", errors, "0", errors == 0))
    return found
