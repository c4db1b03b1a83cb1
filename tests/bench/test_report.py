"""What `make bench` writes: RESULTS.md and the README section from the measured numbers, and the plot."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest

from bench import report, stats

MACHINE = {"cpu": "Test CPU 9000", "cores": 2, "ram_gib": 23.5, "os": "Debian GNU/Linux 12", "python": "3.10.13",
           "rasa": "3.6.21", "rasa_sdk": "3.6.2", "locust": "2.46.0"}
LOAD = {"conversations": 8, "turns": 25, "rounds": 2, "seed": 18, "warmup": [2, 5],
        "sources": ["tests/data/realdata_test.yml"], "left_out_intents": ["human_handoff"], "order_share": 0.25}


def _samples(latency_ms: float, count: int, start: float, per_turn_growth: float = 0.0) -> List[Dict[str, Any]]:
    return [{"conv": 0, "turn": turn, "start": start + turn * 0.1, "ms": latency_ms + per_turn_growth * turn,
             "ok": True, "status": 200, "replies": 1, "error": None} for turn in range(1, count + 1)]


def _system(label: str, latency_ms: float, cpu_s: float) -> Dict[str, Any]:
    summary = stats.summarize_rounds([_samples(latency_ms, 200, 0.0), _samples(latency_ms, 200, 1000.0)])
    usage = {"rasa": {"cpu_s": cpu_s, "peak_rss_mb": 812.4, "avg_rss_mb": 800.1, "processes": 1}}
    return {"label": label, "summary": summary, "processes": usage, "total": stats.usage_total(usage),
            "cpu_ms_per_msg": stats.cpu_per_message(usage, summary["answered"]),
            "idle_cpu_s_of_others": {"other": 0.4}, "locust_cpu_s": 3.2, "rest_of_machine_cpu_s": 7.7}


def results(prod: Any = None) -> Dict[str, Any]:
    systems = {"stock": _system("stock Rasa (rasa init)", 50.0, 30.0),
               "careline": _system("Careline (make up)", 40.0, 45.5)}
    found: Dict[str, Any] = {
        "date": "2026-12-03T06:00:00+00:00", "duration_s": 612.0, "machine": MACHINE, "load": LOAD,
        "code": {"commit": "abc123def456", "changed_files": 0},
        "systems": systems,
        "ratios": {"throughput": stats.ratio(systems["careline"]["summary"]["msg_per_s"],
                                             systems["stock"]["summary"]["msg_per_s"]),
                   "p50": 0.8, "p95": 0.8, "p99": 0.81},
        "long": {"conversations": 1, "turns": 200, "systems": {
            "stock": {"label": "stock Rasa (rasa init)", **stats.growth(_samples(30.0, 200, 0.0, 1.0), 200)},
            "careline": {"label": "Careline (make up)", **stats.growth(_samples(40.0, 200, 0.0, 0.01), 200)}}},
        "prod": prod,
    }
    found["goals"] = stats.goals(found)
    return found


def test_results_md_has_the_machine_the_load_every_figure_and_the_goals(tmp_path: Path) -> None:
    data = results()
    text = report.render(data, Path("bench/results/bench-x.json"))
    assert "Test CPU 9000" in text and "23.5 GiB" in text and "3.6.21" in text and "2.46.0" in text
    assert "8 concurrent conversations x 25 turns" in text
    for name in ("stock", "careline"):
        summary = data["systems"][name]["summary"]
        for key in ("msg_per_s", "p50_ms", "p95_ms", "p99_ms"):
            assert report.number(summary[key]) in text, (name, key)
        assert f"0 of {summary['requests']}" in text
    assert f"{data['ratios']['throughput']:.2f}x" in text
    assert "| throughput Careline / stock |" in text and "| met |" in text
    careline_long = data["long"]["systems"]["careline"]
    assert f"{careline_long['p95_ratio']:.2f}x" in text
    assert "turns 181-200" in text and "latency_vs_turn.png" in text
    assert "45.5" in text and "812.4" in text                       # CPU seconds, peak RSS
    assert "other 0.4 s" in text and "(Locust) 3.2 s" in text and "everything else on the machine 7.7 s" in text
    assert "noisy" not in text                    # 7.7 CPU s in 39.9 s of rounds: under 0.2 cores of other work
    data["systems"]["careline"]["rest_of_machine_cpu_s"] = 20.0
    busy = report.render(data, Path("x.json"))
    assert "0.50 cores busy with other work on average, so these rounds are noisy" in busy
    assert "Not measured in this run" in text                        # no prod profile in this run
    assert "`bench/results/bench-x.json`" in text and "commit `abc123def456`." in text
    assert "10.2 minutes" in text


def test_the_prod_profile_section_shows_scaling_and_errors_at_each_concurrency() -> None:
    one, two = _system("prod 1", 60.0, 20.0), _system("prod 2", 35.0, 30.0)
    crowd = {"conversations": 200, "turns": 6, **_system("prod 2", 300.0, 50.0)}
    crowd["summary"] = {**crowd["summary"], "errors": 2, "error_kinds": {"HTTP 503: unavailable": 2}}
    prod = {"scaling": {"1": one, "2": two}, "concurrency": {"200": crowd},
            "scaling_factor": stats.ratio(two["summary"]["msg_per_s"], one["summary"]["msg_per_s"])}
    data = results(prod)
    text = report.render(data, Path("x.json"))
    assert f"**{prod['scaling_factor']:.2f}x**" in text
    assert "| 200 x 6 turns |" in text and "HTTP 503: unavailable (2)" in text
    assert any(item["goal"].startswith("prod profile, 200") and item["met"] is False for item in data["goals"])
    section = report.readme_section(data)
    assert f"2 Rasa servers give {prod['scaling_factor']:.2f}x the throughput of one" in section
    assert "200 concurrent conversations: 2 errors of 400" in section
    failed = report.render(results({"error": "make up failed (exit 2):\nno nginx"}), Path("x.json"))
    assert "could not be measured" in failed and "no nginx" in failed


def test_the_readme_section_is_replaced_between_the_markers_and_nothing_else(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n\n{report.START}\nold numbers\n{report.END}\n\nafter\n", encoding="utf-8")
    data = results()
    report.update_readme(data, readme)
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nbefore\n\n" + report.START) and text.endswith(report.END + "\n\nafter\n")
    assert "old numbers" not in text
    assert report.number(data["systems"]["careline"]["summary"]["msg_per_s"], " msg/s") in text
    assert "bench/RESULTS.md" in text and "bench/latency_vs_turn.png" in text
    report.update_readme(data, readme)          # a second run replaces its own section
    assert readme.read_text(encoding="utf-8") == text


def test_a_readme_without_markers_is_an_error_that_says_what_to_add(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bench:start"):
        report.update_readme(results(), readme)


def test_the_plot_is_a_png_with_both_systems(tmp_path: Path) -> None:
    target = tmp_path / "latency.png"
    report.plot(results(), target)
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
