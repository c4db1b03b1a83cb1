"""`make bench`: stock Rasa and Careline side by side on this machine, under the same bounded Locust load.

1. The load: both systems are up; each round loads one of them alone (stock, Careline, stock, Careline,
   ...: drift hits both) with the same conversations (default 8 concurrent conversations x 25 turns over
   the REST webhook, real customer phrasings from tests/data, seeded). Every request's latency, the
   messages per second, the errors, and the CPU seconds and memory of each process of the loaded system
   (the idle one's CPU meanwhile too, and the load generator's).
2. Long conversations: a few conversations of 200 turns, one at a time, alternating between the systems:
   latency per turn, turns 1-20 against 181-200, the plot bench/latency_vs_turn.png.
3. With --prod: Careline's prod profile (`make up PROFILE=prod`: PostgreSQL, Redis, Rasa servers behind
   nginx) with 1 and then 2 Rasa servers under the same load (the scaling factor), and 50 and 200
   concurrent conversations on 2 servers (errors: goal none).

Writes bench/results/bench-<time>.json (and latest.json), bench/RESULTS.md, the README's benchmark
section (between <!-- bench:start --> and <!-- bench:end -->) and the plot. Every system it starts is
stopped at the end, also on Ctrl-C or a failure.

    python -m bench.side_by_side [--rounds 3] [--conversations 8] [--turns 25] [--long 3] [--long-turns 200]
                                 [--prod] [--report-only bench/results/latest.json]
"""
from __future__ import annotations

import argparse
import json
import platform
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from bench import messages, report, stats
from bench.harness import BENCH_VENV, Sample, run_load
from bench.systems import BENCH_VAR, MAIN_VENV, ROOT, Careline, StockRasa

RESULTS_DIR = ROOT / "bench" / "results"
LONG_WINDOW = 20  # turns 1-20 against the last 20 (which repeat their messages)
WARMUP = (2, 5)  # conversations x turns sent to a freshly started system before anything is measured
System = Union[StockRasa, Careline]


def log(line: str) -> None:
    print(f"bench: {line}", flush=True)


def _version(python: Path, package: str) -> str:
    try:
        return subprocess.run([str(python), "-c", f"import importlib.metadata as m; print(m.version('{package}'))"],
                              capture_output=True, text=True, timeout=60).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine() -> Dict[str, Any]:
    """CPU model, cores, memory, OS and the versions that matter, as this run saw them."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib: Optional[float] = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    os_name = platform.platform()
    try:
        release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
        os_name = f"{release.get('PRETTY_NAME', '').strip(chr(34))} (Linux {platform.release()})"
    except OSError:
        pass
    main_python = MAIN_VENV / "bin" / "python"
    python_version = subprocess.run([str(main_python), "-c", "import platform; print(platform.python_version())"],
                                    capture_output=True, text=True, timeout=60).stdout.strip()
    return {"cpu": cpu, "cores": __import__("os").cpu_count(), "ram_gib": ram_gib, "os": os_name,
            "python": python_version, "rasa": _version(main_python, "rasa"),
            "rasa_sdk": _version(main_python, "rasa-sdk"), "locust": _version(BENCH_VENV / "bin" / "python", "locust")}


def code_version() -> Dict[str, Any]:
    """The commit measured, and whether the work tree had changes on top of it."""
    def git(*argv: str) -> str:
        try:
            return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "--short=12", "HEAD") or "?",
            "changed_files": len([line for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
                                  if line.strip()])}


def _warm_up(system: System, work: Path) -> None:
    """A few conversations nobody measures: the first requests to a new server pay for lazy set-up."""
    conversations = messages.conversations(WARMUP[0], WARMUP[1], seed=9_000)
    run_load(system.url, system.headers, conversations, WARMUP[0], work, label=f"warmup-{system.name}")


def _measured(system: System, others: Sequence[System], conversations: List[List[str]], users: int, work: Path,
              label: str) -> Dict[str, Any]:
    """One load on `system` while the others idle: samples, its processes' usage, the idle ones' CPU, Locust's."""
    from bench.procwatch import ProcessWatch

    groups = {system.name: system.processes(), **{other.name: other.processes() for other in others}}
    with ProcessWatch(groups) as watch:
        samples = run_load(system.url, system.headers, conversations, users, work, label=label,
                           on_spawn=lambda pid: watch.add("load generator", "locust", pid))
    usage = watch.usage()
    watched = sum(stats.usage_total(group)["cpu_s"] for group in usage.values())
    return {"samples": samples, "usage": usage[system.name],
            "idle_cpu_s": {other.name: stats.usage_total(usage[other.name])["cpu_s"] for other in others},
            "locust_cpu_s": usage.get("load generator", {}).get("locust", {}).get("cpu_s"),
            "rest_of_machine_cpu_s": round(max(0.0, watch.machine_cpu_s() - watched), 2)}


def _system_result(system: System, rounds: List[Dict[str, Any]]) -> Dict[str, Any]:
    summary = stats.summarize_rounds([run["samples"] for run in rounds])
    usage = stats.merge_usage([run["usage"] for run in rounds])
    return {"label": system.label, "summary": summary, "processes": usage, "total": stats.usage_total(usage),
            "cpu_ms_per_msg": stats.cpu_per_message(usage, summary["answered"]),
            "idle_cpu_s_of_others": {name: round(sum(run["idle_cpu_s"].get(name, 0) for run in rounds), 2)
                                     for name in rounds[0]["idle_cpu_s"]} if rounds else {},
            "locust_cpu_s": round(sum(run["locust_cpu_s"] or 0 for run in rounds), 2),
            "rest_of_machine_cpu_s": round(sum(run["rest_of_machine_cpu_s"] for run in rounds), 2)}


def compare(stock: StockRasa, careline: Careline, args: argparse.Namespace, work: Path) -> Dict[str, Any]:
    """The alternating rounds of the same load, then the long conversations, on both running systems."""
    systems: List[System] = [stock, careline]
    runs: Dict[str, List[Dict[str, Any]]] = {system.name: [] for system in systems}
    for number in range(args.rounds):
        conversations = messages.conversations(args.conversations, args.turns, seed=args.seed + number)
        for system in systems:
            others = [other for other in systems if other is not system]
            log(f"round {number + 1}/{args.rounds}: {system.label}, {args.conversations} conversations x "
                f"{args.turns} turns at once ...")
            run = _measured(system, others, conversations, args.conversations, work, f"{system.name}-round{number}")
            runs[system.name].append(run)
            summary = stats.summarize(run["samples"])
            log(f"  {summary['msg_per_s']} msg/s, p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, "
                f"{summary['errors']} errors")
    results: Dict[str, Any] = {"systems": {name: _system_result(system, runs[name])
                                           for name, system in ((s.name, s) for s in systems)}}
    stock_summary, careline_summary = (results["systems"][name]["summary"] for name in ("stock", "careline"))
    results["ratios"] = {
        "throughput": stats.ratio(careline_summary["msg_per_s"], stock_summary["msg_per_s"]),
        "p50": stats.ratio(careline_summary["p50_ms"], stock_summary["p50_ms"]),
        "p95": stats.ratio(careline_summary["p95_ms"], stock_summary["p95_ms"]),
        "p99": stats.ratio(careline_summary["p99_ms"], stock_summary["p99_ms"]),
    }
    results["long"] = long_conversations(systems, args, work) if args.long else None
    return results


def long_conversations(systems: Sequence[System], args: argparse.Namespace, work: Path) -> Dict[str, Any]:
    """`args.long` conversations of `args.long_turns` turns, one at a time, alternating between the systems."""
    conversations = messages.long_conversations(args.long, args.long_turns, window=LONG_WINDOW, seed=args.seed + 100)
    samples: Dict[str, List[Sample]] = {system.name: [] for system in systems}
    for number, conversation in enumerate(conversations):
        for system in systems:
            log(f"long conversation {number + 1}/{args.long}: {system.label}, {args.long_turns} turns ...")
            run = run_load(system.url, system.headers, [conversation], 1, work, label=f"{system.name}-long{number}")
            for sample in run:
                sample["conv"] = number
            samples[system.name].extend(run)
            growth = stats.growth(run, args.long_turns, LONG_WINDOW)
            log(f"  median of turns {'-'.join(map(str, growth['early']['turns']))} {growth['early']['p50_ms']} ms, "
                f"of turns {'-'.join(map(str, growth['late']['turns']))} {growth['late']['p50_ms']} ms")
    return {"conversations": args.long, "turns": args.long_turns,
            "systems": {system.name: {"label": system.label,
                                      **stats.growth(samples[system.name], args.long_turns, LONG_WINDOW)}
                        for system in systems}}


def prod_profile(args: argparse.Namespace, taken: set, work: Path) -> Dict[str, Any]:
    """The prod profile: throughput with 1 and 2 Rasa servers, then 50 and 200 concurrent conversations."""
    result: Dict[str, Any] = {"scaling": {}, "concurrency": {}}
    for servers in (1, 2):
        system = Careline(BENCH_VAR / f"careline-prod{servers}", profile="prod", rasa_servers=servers, log=log)
        try:
            system.start(taken)
            _warm_up(system, work)
            rounds = []
            for number in range(args.prod_rounds):
                conversations = messages.conversations(args.conversations, args.turns, seed=args.seed + number)
                log(f"prod, {servers} Rasa server(s), round {number + 1}/{args.prod_rounds}: "
                    f"{args.conversations} conversations x {args.turns} turns ...")
                rounds.append(_measured(system, [], conversations, args.conversations, work,
                                        f"prod{servers}-round{number}"))
                summary = stats.summarize(rounds[-1]["samples"])
                log(f"  {summary['msg_per_s']} msg/s, p95 {summary['p95_ms']} ms, {summary['errors']} errors")
            result["scaling"][str(servers)] = _system_result(system, rounds)
            if servers == 2:
                for users in args.prod_concurrency:
                    conversations = messages.conversations(users, args.prod_turns, seed=args.seed + 200 + users)
                    log(f"prod, 2 Rasa servers: {users} concurrent conversations x {args.prod_turns} turns ...")
                    run = _measured(system, [], conversations, users, work, f"prod-concurrency{users}")
                    result["concurrency"][str(users)] = {"conversations": users, "turns": args.prod_turns,
                                                         **_system_result(system, [run])}
                    summary = result["concurrency"][str(users)]["summary"]
                    log(f"  {summary['msg_per_s']} msg/s, p95 {summary['p95_ms']} ms, {summary['errors']} errors")
        finally:
            system.stop()
    one, two = (result["scaling"].get(key, {}).get("summary", {}).get("msg_per_s") for key in ("1", "2"))
    result["scaling_factor"] = stats.ratio(two, one)
    return result


def run(args: argparse.Namespace) -> Dict[str, Any]:
    started = time.monotonic()
    work = BENCH_VAR / "runs"
    taken: set = set()
    results: Dict[str, Any] = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "machine": machine(), "code": code_version(),
                               "load": {"conversations": args.conversations, "turns": args.turns,
                                        "rounds": args.rounds, "seed": args.seed, "warmup": list(WARMUP),
                                        "sources": [str(p.relative_to(ROOT)) for p in messages.SOURCES],
                                        "left_out_intents": sorted(messages.HANDOFF_INTENTS),
                                        "order_share": messages.ORDER_SHARE}}
    box = results["machine"]
    log(f"machine: {box['cpu']}, {box['cores']} cores, {box['ram_gib']} GiB; Rasa {box['rasa']}, "
        f"Locust {box['locust']}")
    if not args.prod_only:
        stock = StockRasa(log=log)
        careline = Careline(log=log)
        with ExitStack() as stack:
            stock.prepare()
            stack.callback(stock.stop)
            stock.start(taken)
            stack.callback(careline.stop)
            careline.start(taken)
            for system in (stock, careline):
                _warm_up(system, work)
            results.update(compare(stock, careline, args, work))
    if args.prod or args.prod_only:
        try:
            results["prod"] = prod_profile(args, taken, work)
        except RuntimeError as error:
            log(f"prod profile: could not be measured: {error}")
            results["prod"] = {"error": str(error)[-2000:]}
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["goals"] = stats.goals(results)
    return results


def write(results: Dict[str, Any], readme: bool = True) -> None:
    """The JSON (bench/results/), RESULTS.md, the plot and the README's section."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = results["date"].replace(":", "").replace("-", "")[:15]
    raw = RESULTS_DIR / f"bench-{stamp}.json"
    text = json.dumps(results, indent=1) + "\n"
    raw.write_text(text, encoding="utf-8")
    (RESULTS_DIR / "latest.json").write_text(text, encoding="utf-8")
    if results.get("long"):
        report.plot(results, report.PLOT)
    report.RESULTS_MD.write_text(report.render(results, raw.relative_to(ROOT)), encoding="utf-8")
    readme = readme and bool(results.get("systems"))   # a prod-only run leaves the README's comparison alone
    if readme:
        report.update_readme(results)
    log(f"wrote {report.RESULTS_MD.relative_to(ROOT)}, {raw.relative_to(ROOT)}"
        + (f", {report.PLOT.relative_to(ROOT)}" if results.get("long") else "") + (" and README.md" if readme else ""))


def _on_sigterm(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per system (alternating), default 3")
    parser.add_argument("--conversations", type=int, default=8, help="concurrent conversations per round")
    parser.add_argument("--turns", type=int, default=25, help="turns per conversation in the rounds")
    parser.add_argument("--long", type=int, default=3, help="long conversations per system (0: none)")
    parser.add_argument("--long-turns", type=int, default=200, help="turns of each long conversation")
    parser.add_argument("--seed", type=int, default=messages.DEFAULT_SEED, help="which messages (same for both)")
    parser.add_argument("--prod", action="store_true", help="also measure the prod profile (1 and 2 Rasa servers, "
                        "50 and 200 concurrent conversations)")
    parser.add_argument("--prod-only", action="store_true", help="measure only the prod profile (trial runs)")
    parser.add_argument("--prod-rounds", type=int, default=2)
    parser.add_argument("--prod-turns", type=int, default=6, help="turns per conversation at 50 and 200 at once")
    parser.add_argument("--prod-concurrency", type=lambda text: [int(n) for n in text.split(",")], default=[50, 200])
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone (trial runs)")
    parser.add_argument("--report-only", metavar="JSON", help="write RESULTS.md, the plot and the README from a "
                        "results file of an earlier run, measuring nothing")
    args = parser.parse_args(argv)
    if args.report_only:
        write(json.loads(Path(args.report_only).read_text(encoding="utf-8")), readme=not args.no_readme)
        return 0
    if min(args.rounds, args.conversations, args.turns) < 1 or args.long < 0 or args.long_turns < 2:
        parser.error("--rounds, --conversations and --turns must be at least 1, --long-turns at least 2")
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        results = run(args)
    except KeyboardInterrupt:
        log("interrupted; every system it started is stopped")
        return 130
    except RuntimeError as error:
        log(f"FAILED: {error}")
        return 1
    write(results, readme=not args.no_readme)
    for item in results["goals"]:
        state = {True: "met", False: "MISSED", None: "not measured"}[item["met"]]
        log(f"goal {item['goal']}: {item['measured']} (target {item['target']}) {state}")
    log(f"done in {results['duration_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
