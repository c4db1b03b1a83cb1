"""What `make bench` writes from its results: bench/RESULTS.md, the plot, the README's benchmark section.

Every number comes from the results dict of the run (bench/results/*.json); nothing is typed in by hand.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
PLOT = ROOT / "bench" / "latency_vs_turn.png"
README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
ORDER = ("stock", "careline")
BUSY_CORES = 0.2  # other work on the machine during the rounds above which RESULTS.md calls them noisy


def number(value: Optional[float], unit: str = "", digits: int = 1) -> str:
    """A figure for a table, thousands separated; `-` when it was not measured."""
    return "-" if value is None else f"{value:,.{digits}f}{unit}"


def times(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}x"


def verdict(met: Optional[bool]) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[met]


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _systems(results: Mapping[str, Any]) -> List[tuple]:
    systems = results.get("systems") or {}
    return [(name, systems[name]) for name in ORDER if name in systems]


def goals_table(results: Mapping[str, Any]) -> List[str]:
    return table(("goal", "measured", "target", ""),
                 ((item["goal"], "-" if item["measured"] is None else str(item["measured"]), item["target"],
                   verdict(item["met"])) for item in results.get("goals") or ()))


def load_table(results: Mapping[str, Any]) -> List[str]:
    rows: List[Sequence[str]] = []
    for _, system in _systems(results):
        summary = system["summary"]
        rounds = ", ".join(number(value) for value in summary.get("round_msg_per_s") or ())
        rows.append((system["label"], f"{number(summary['msg_per_s'])} ({rounds})", number(summary["p50_ms"]),
                     number(summary["p95_ms"]), number(summary["p99_ms"]), number(summary["mean_ms"]),
                     number(summary["max_ms"]), f"{summary['errors']} of {summary['requests']}",
                     str(summary["empty_replies"])))
    ratios = results.get("ratios") or {}
    if ratios:
        rows.append(("**Careline / stock**", times(ratios.get("throughput")), times(ratios.get("p50")),
                     times(ratios.get("p95")), times(ratios.get("p99")), "", "", "", ""))
    return table(("system", "msg/s (each round)", "p50 ms", "p95 ms", "p99 ms", "mean ms", "max ms", "errors",
                  "empty replies"), rows)


def usage_table(results: Mapping[str, Any]) -> List[str]:
    rows: List[Sequence[str]] = []
    for _, system in _systems(results):
        for name, usage in system["processes"].items():
            rows.append((system["label"], name, number(usage["cpu_s"]), number(usage["peak_rss_mb"]),
                         number(usage["avg_rss_mb"])))
        total = system["total"]
        rows.append((system["label"], "**all**", f"**{number(total['cpu_s'])}** "
                     f"({number(system['cpu_ms_per_msg'])} ms a message)", number(total["peak_rss_mb"]),
                     number(total["avg_rss_mb"])))
    return table(("system", "process (with its children)", "CPU s", "peak RSS MB", "avg RSS MB"), rows)


def idle_lines(results: Mapping[str, Any]) -> List[str]:
    lines = []
    for _, system in _systems(results):
        idle = ", ".join(f"{name} {number(cpu)} s" for name, cpu in system.get("idle_cpu_s_of_others", {}).items())
        duration, rest = system["summary"]["duration_s"], system.get("rest_of_machine_cpu_s")
        busy = rest / duration if rest is not None and duration else 0.0
        lines.append(f"- While {system['label']} was loaded ({number(duration)} s): CPU of the idle system "
                     f"{idle or '-'}, of the load generator (Locust) {number(system.get('locust_cpu_s'))} s, of "
                     f"everything else on the machine {number(rest)} s (this harness, other users' programs)"
                     + (f": **{busy:.2f} cores busy with other work on average, so these rounds are noisy**."
                        if busy >= BUSY_CORES else "."))
    return lines


def long_table(long_run: Mapping[str, Any]) -> List[str]:
    rows: List[Sequence[str]] = []
    for name in ORDER:
        system = (long_run.get("systems") or {}).get(name)
        if not system:
            continue
        early, late = system["early"], system["late"]
        rows.append((system["label"], f"{number(early['p50_ms'])} / {number(early['p95_ms'])}",
                     f"{number(late['p50_ms'])} / {number(late['p95_ms'])}", times(system["p50_ratio"]),
                     times(system["p95_ratio"]), str(system["errors"])))
    first = next(iter((long_run.get("systems") or {}).values()), None)
    spans = (f"turns {first['early']['turns'][0]}-{first['early']['turns'][1]}",
             f"turns {first['late']['turns'][0]}-{first['late']['turns'][1]}") if first else ("first", "last")
    return table(("system", f"{spans[0]} p50 / p95 ms", f"{spans[1]} p50 / p95 ms", "median ratio", "p95 ratio",
                  "errors"), rows)


def prod_lines(prod: Optional[Mapping[str, Any]]) -> List[str]:
    if not prod:
        return ["Not measured in this run: `make bench BENCH_ARGS=--prod` adds it (the prod profile, "
                "`make up PROFILE=prod`: PostgreSQL, Redis, Rasa servers behind nginx)."]
    if prod.get("error"):
        return ["The prod profile could not be measured in this run:", "", "```", str(prod["error"]).strip(), "```"]
    rows: List[Sequence[str]] = []
    for servers, system in sorted((prod.get("scaling") or {}).items()):
        summary = system["summary"]
        rows.append((f"{servers} Rasa server(s)", number(summary["msg_per_s"]), number(summary["p50_ms"]),
                     number(summary["p95_ms"]), number(summary["p99_ms"]), str(summary["errors"]),
                     number(system["total"]["cpu_s"])))
    lines = table(("prod profile, same load", "msg/s", "p50 ms", "p95 ms", "p99 ms", "errors", "CPU s"), rows)
    lines += ["", f"Scaling factor 2 servers / 1 server: **{times(prod.get('scaling_factor'))}**.", ""]
    rows = []
    for users, run in sorted((prod.get("concurrency") or {}).items(), key=lambda item: int(item[0])):
        summary = run["summary"]
        rows.append((f"{users} x {run['turns']} turns", str(summary["requests"]), str(summary["errors"]),
                     ", ".join(f"{kind} ({count})" for kind, count in summary["error_kinds"].items()) or "-",
                     number(summary["msg_per_s"]), number(summary["p50_ms"]), number(summary["p95_ms"]),
                     number(summary["p99_ms"])))
    if rows:
        lines += table(("concurrent conversations (2 servers)", "requests", "errors", "kinds", "msg/s", "p50 ms",
                        "p95 ms", "p99 ms"), rows)
    return lines


def compare_lines(results: Mapping[str, Any]) -> List[str]:
    """The side-by-side section: the load, the table, CPU and memory."""
    load = results["load"]
    return [
        "## The same load on both",
        "",
        f"{load['conversations']} concurrent conversations x {load['turns']} turns over the REST webhook "
        f"(`/webhooks/rest/webhook`), a closed loop (the next message as soon as the reply is in), "
        f"{load['rounds']} rounds per system, alternating (stock, Careline, stock, ...) so that drift on the "
        f"machine hits both; each round loads one system while the other idles. Each round's conversations are "
        f"the same for both: real customer phrasings from {', '.join(f'`{s}`' for s in load['sources'])} (an "
        f"intent drawn evenly, then one of its phrasings; seed {load['seed']}), and in "
        f"{round(load['order_share'] * 100)}% of the snippets a question about one of the seeded shop's orders "
        f"followed by its number and its email. Left out: phrasings of {', '.join(load['left_out_intents'])} "
        f"(they end in a handoff, after which the bot is silent by design). A fresh server first gets "
        f"{load['warmup'][0]} conversations x {load['warmup'][1]} turns that are not measured.",
        "",
        "- **Stock Rasa**: the assistant `rasa init --no-prompt` creates, served by `rasa run` "
        "(in-memory tracker store, no action server: the starter project configures none).",
        "- **Careline**: `make up` in its own var/ folder (the dev profile: one Rasa server, conversations and "
        "shop in SQLite), with the action server, shop page, desk, worker and mail catcher; the REST channel with "
        "`Authorization: Bearer`, rate limits raised.",
        "- Latency is Locust's per request, from sending the message to having the whole reply; an error is "
        "anything but 200 with a JSON list; an empty reply is a 200 `[]`.",
        "",
        *load_table(results),
        "",
        "### CPU and memory",
        "",
        "CPU seconds used by each process tree during the measured rounds (all rounds together); resident "
        "memory (RSS) sampled every 0.5 s with psutil, added up over a tree's processes (pages they share, "
        "such as PostgreSQL's buffers, count once per process):",
        "",
        *usage_table(results),
        "",
        *idle_lines(results),
        "",
    ]


def code_line(results: Mapping[str, Any]) -> str:
    """Which code was measured: the commit, and how many tracked files differed from it."""
    code = results.get("code")
    if not code:
        return ""
    changed = code.get("changed_files", 0)
    files = "file" if changed == 1 else "files"
    return f" Code: commit `{code['commit']}`" + (f" with {changed} changed {files} on top." if changed else ".")


def render(results: Mapping[str, Any], raw: Path) -> str:
    """bench/RESULTS.md."""
    machine = results["machine"]
    lines = [
        "# Benchmark: Careline against stock Rasa",
        "",
        f"Written by `make bench` on {results['date']} in {number(results.get('duration_s', 0) / 60)} minutes; "
        f"raw numbers: `{raw}` (git-ignored; every run keeps its own file).{code_line(results)}",
        "",
        "## Machine",
        "",
        *table(("CPU", "cores", "RAM", "OS", "Python", "Rasa", "rasa-sdk", "Locust"),
               [(machine["cpu"], str(machine["cores"]), f"{machine['ram_gib']} GiB", machine["os"], machine["python"],
                 machine["rasa"], machine["rasa_sdk"], machine["locust"])]),
        "",
        "## Goals",
        "",
        *goals_table(results),
        "",
    ]
    lines += compare_lines(results) if results.get("systems") else [
        "## The same load on both", "", "Not measured in this run.", ""]
    long_run = results.get("long")
    if long_run:
        lines += [
            "## Latency against conversation length",
            "",
            f"{long_run['conversations']} conversations of {long_run['turns']} turns per system, one at a time, "
            "alternating between the systems; per-turn latency, the first turns against the last:",
            "",
            *long_table(long_run),
            "",
            "![Latency per turn of a long conversation, stock Rasa and Careline](latency_vs_turn.png)",
            "",
        ]
    lines += ["## Prod profile", "", *prod_lines(results.get("prod")), "",
              "## Reproduce", "",
              f"`make bench{' BENCH_ARGS=--prod' if results.get('prod') else ''}` (this run: "
              f"{number(results.get('duration_s', 0) / 60)} minutes; `make bench BENCH_ARGS=--help` lists the "
              "options, `--prod` adds the prod profile). It trains the stock starter project once "
              "(var/bench/stock), starts the systems on free 127.0.0.1 ports and stops them at the end, also on "
              "Ctrl-C or a failure.", ""]
    return "\n".join(lines)


def readme_section(results: Mapping[str, Any]) -> str:
    """The README's benchmark section (between the markers): the headline numbers and where the rest is."""
    systems = dict(_systems(results))
    ratios = results.get("ratios") or {}
    lines = [START, "## Performance", "",
             f"`make bench` runs stock Rasa (`rasa init`) and Careline side by side on the same machine under the "
             f"same Locust load over the REST webhook; the last run ({results['date'][:10]}, "
             f"{results['machine']['cores']} cores, {results['machine']['cpu']}) measured:", ""]
    rows: List[Sequence[str]] = []
    if systems:
        stock, careline = systems.get("stock"), systems.get("careline")
        load = results["load"]
        pairs = (("throughput, " + f"{load['conversations']} conversations x {load['turns']} turns", "msg_per_s",
                  " msg/s", "throughput"),
                 ("p50 per turn", "p50_ms", " ms", "p50"), ("p95 per turn", "p95_ms", " ms", "p95"))
        for title, key, unit, ratio_key in pairs:
            rows.append((title, number(stock["summary"][key], unit) if stock else "-",
                         number(careline["summary"][key], unit) if careline else "-", times(ratios.get(ratio_key))))
    long_run = results.get("long")
    if long_run:
        both = long_run["systems"]
        rows.append((f"p95 of turns {both['careline']['late']['turns'][0]}-{both['careline']['late']['turns'][1]} / "
                     f"turns 1-{both['careline']['early']['turns'][1]}",
                     times(both.get("stock", {}).get("p95_ratio")), times(both["careline"]["p95_ratio"]), ""))
    lines += table(("", "stock Rasa", "Careline", "Careline / stock"), rows)
    prod = results.get("prod") or {}
    if prod.get("scaling"):
        crowd = "; ".join(f"{users} concurrent conversations: {run['summary']['errors']} errors of "
                          f"{run['summary']['requests']}, p95 {number(run['summary']['p95_ms'], ' ms')}"
                          for users, run in sorted((prod.get("concurrency") or {}).items(), key=lambda i: int(i[0])))
        lines += ["", f"Prod profile (`make up PROFILE=prod`: PostgreSQL, Redis, Rasa servers behind nginx): 2 Rasa "
                  f"servers give {times(prod.get('scaling_factor'))} the throughput of one"
                  + (f"; {crowd}." if crowd else ".")]
    met = [item for item in results.get("goals") or () if item["met"] is not None]
    if met:
        lines += ["", "Goals: " + "; ".join(f"{item['goal']} {item['target']}: {verdict(item['met'])}"
                                            for item in met) + "."]
    lines += ["", "Everything else (CPU and memory per process, p99, errors, the machine, the prod profile) is in "
              "[bench/RESULTS.md](bench/RESULTS.md); the curve per turn:", "",
              "![Latency per turn of a long conversation](bench/latency_vs_turn.png)" if long_run else "", END]
    return "\n".join(line for line in lines if line is not None)


def replace_section(text: str, section: str) -> str:
    """`text` with everything from START to END (markers included) replaced by `section`."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no {START} ... {END} markers: add them where the benchmark section "
                         "belongs (the first run fills them)")
    return text[:start] + section + text[end + len(END):]


def update_readme(results: Mapping[str, Any], path: Path = README) -> None:
    path.write_text(replace_section(path.read_text(encoding="utf-8"), readme_section(results)), encoding="utf-8")


SMOOTHING = 9  # turns in the plot's rolling median: one turn's latency depends mostly on what was asked


def rolling_median(values: Sequence[float], width: int) -> List[float]:
    """The median of each value's centred neighbourhood of `width` values (shorter at the ends)."""
    half = width // 2
    result = []
    for index in range(len(values)):
        part = sorted(values[max(0, index - half):index + half + 1])
        middle = len(part) // 2
        result.append(part[middle] if len(part) % 2 else (part[middle - 1] + part[middle]) / 2)
    return result


def _span(window: Mapping[str, Any]) -> str:
    return f"{window['turns'][0]}-{window['turns'][1]}"


def plot(results: Mapping[str, Any], path: Path = PLOT) -> None:
    """Median latency per turn of the long conversations, both systems, with every single turn faintly."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    long_run = results["long"]
    colours = {"stock": "#7f7f7f", "careline": "#1f77b4"}
    figure, axes = plt.subplots(figsize=(9, 4.5), dpi=110)
    for name in ORDER:
        system = (long_run.get("systems") or {}).get(name)
        if not system:
            continue
        curve = {int(turn): value for turn, value in system["median_per_turn"].items()}
        turns = sorted(curve)
        axes.plot(turns, [curve[turn] for turn in turns], color=colours[name], linewidth=0.6, alpha=0.35)
        axes.plot(turns, rolling_median([curve[turn] for turn in turns], SMOOTHING), color=colours[name],
                  linewidth=2, label=f"{system['label']}: p95 of turns {_span(system['late'])} / "
                  f"turns {_span(system['early'])} = {times(system['p95_ratio'])}")
        if name == "careline":   # the compared windows, once
            for window in (system["early"], system["late"]):
                axes.axvspan(window["turns"][0] - 0.5, window["turns"][1] + 0.5, color="#dddddd", alpha=0.4, lw=0)
    axes.set_xlabel("turn of the conversation")
    axes.set_ylabel(f"ms per turn (median; bold: over {SMOOTHING} turns)")
    axes.set_title(f"Latency against conversation length ({long_run['conversations']} conversations of "
                   f"{long_run['turns']} turns per system, {results['date'][:10]})")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
