"""Per-turn latency of two running Careline systems, measured side by side (interleaved).

Usage: python -m bench.turn_latency --a URL[,REST_TOKEN] --b URL[,REST_TOKEN] [--conversations 30]
Each conversation: "where is my order CL-100003" -> "jkim88@example.net" -> "where is my order" ->
"thanks". Requests to A and B alternate, so both see the same machine load. Prints p50/p95 per
system and writes the numbers as JSON next to this file (bench/results/).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, List, Tuple

import requests

TURNS = ("where is my order CL-100003", "jkim88@example.net", "where is my order", "thanks")


def _target(spec: str) -> Tuple[str, Dict[str, str]]:
    url, _, token = spec.partition(",")
    return url.rstrip("/"), ({"Authorization": f"Bearer {token}"} if token else {})


def _turn(url: str, headers: Dict[str, str], sender: str, text: str) -> float:
    started = time.perf_counter()
    response = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                             headers=headers, timeout=60)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed * 1000


def _summary(samples: List[float]) -> Dict[str, float]:
    ordered = sorted(samples)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1), "mean_ms": round(statistics.fmean(ordered), 1)}


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", required=True, help="URL[,REST token] of the first system")
    parser.add_argument("--b", required=True, help="URL[,REST token] of the second system")
    parser.add_argument("--label-a", default="a")
    parser.add_argument("--label-b", default="b")
    parser.add_argument("--conversations", type=int, default=30)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "turn_latency.json"))
    args = parser.parse_args(argv)
    targets = {args.label_a: _target(args.a), args.label_b: _target(args.b)}
    samples: Dict[str, List[float]] = {label: [] for label in targets}
    per_turn: Dict[str, Dict[str, List[float]]] = {label: {text: [] for text in TURNS} for label in targets}
    for number in range(args.conversations):
        senders = {label: f"bench-{uuid.uuid4().hex}" for label in targets}
        for text in TURNS:
            for label, (url, headers) in targets.items():
                took = _turn(url, headers, senders[label], text)
                samples[label].append(took)
                per_turn[label][text].append(took)
        print(f"\rbench: conversation {number + 1}/{args.conversations}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    result = {label: {**_summary(values), "per_turn": {text: _summary(per_turn[label][text]) for text in TURNS}}
              for label, values in samples.items()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"turns": list(TURNS), "conversations": args.conversations,
                                          "results": result}, indent=2) + "\n")
    for label, summary in result.items():
        print(f"bench: {label:>8}: p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms over {summary['n']} turns")
        for text, turn in summary["per_turn"].items():
            print(f"bench: {label:>8}   {text[:30]:<30} p50 {turn['p50_ms']} ms, p95 {turn['p95_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
