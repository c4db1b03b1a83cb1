"""`make budget`: the NLU's time budgets on this machine, measured, with the encoder in the pipeline.

- full training (`rasa train` of the whole model, into a temporary folder): <= 180 s
- server start with the model (process start until `/model/parse` answers): <= 15 s
- per-message parse over HTTP (`POST /model/parse`, one after another, development-set messages
  the server has not seen): p95 <= 25 ms
- the slowest of a few hostile messages a channel lets through (1,000 emoji, CJK, RTL, zalgo):
  <= 150 ms

The server binds 127.0.0.1 on a free port and is stopped at the end. Results go to
bench/results/nlu_budget.json; the run fails (exit 1) when a figure is over its budget.

    python -m bench.nlu_budget [--messages 300] [--no-train]
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import requests

from bench.systems import stop_group
from careline.shared.clock import utcnow
from careline.shared.settings import PROJECT_ROOT

BUDGETS = {"train_s": 180.0, "start_s": 15.0, "parse_p95_ms": 25.0, "hostile_max_ms": 150.0}
# What a stranger may send through a channel (at most 1,000 characters): none may stall the server.
HOSTILE = ["😹" * 1000, "".join(chr(0x1F600 + i % 79) for i in range(1000)), "退款" * 500, "أين طلبي " * 110,
           " ".join(chr(0x1F600 + i % 79) + "x" for i in range(330)), "w̷h̸e̵r̶e̷ ̴i̵s̷" * 50, "!" * 1000, "a" * 1000]
MESSAGES = PROJECT_ROOT / "tests" / "data" / "realdata_dev.yml"
RESULTS = PROJECT_ROOT / "bench" / "results" / "nlu_budget.json"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _messages(limit: int) -> List[str]:
    from careline.nlu.datacheck import ENTITY_MARKUP, examples

    texts = [ENTITY_MARKUP.sub(lambda m: m.group(1) or m.group(2), e.text) for e in examples(MESSAGES, PROJECT_ROOT)]
    return texts[:limit]


def time_training() -> float:
    """Seconds for a full `rasa train` of the current data into a temporary folder."""
    from ops.train import RASA_DATA, _domain

    out = Path(tempfile.mkdtemp(prefix="careline-budget-"))
    try:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "ops.rasa_cli", "train", "--config", "config.yml", "--domain",
                        _domain(PROJECT_ROOT), "--data", *RASA_DATA, "--out", str(out), "--quiet",
                        "--augmentation", "20"],          # the same training as `make train`
                       cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, RASA_MAX_CACHE_SIZE="0", RASA_TELEMETRY_ENABLED="false"))
        return time.monotonic() - started
    finally:
        shutil.rmtree(out, ignore_errors=True)


def time_server(model: Path, texts: List[str]) -> Dict[str, float]:
    """Start-up seconds and parse latencies (ms) of a real Rasa server with the model."""
    port, token = _free_port(), secrets.token_urlsafe(24)
    url = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="careline-budget-"))
    log = (work / "server.log").open("w")  # noqa: SIM115 (closed in the finally below)
    # endpoints.yml reads these; parsing needs no action server, the tracker store is a scratch file
    env = dict(os.environ, RASA_AUTH_TOKEN=token, RASA_TELEMETRY_ENABLED="false",
               CARELINE_ACTIONS_URL="http://127.0.0.1:9/webhook", CARELINE_ACTIONS_TOKEN=secrets.token_urlsafe(24),
               CARELINE_TRACKER_DB_URL=f"sqlite:///{work / 'tracker.db'}")
    started = time.monotonic()
    server = subprocess.Popen([sys.executable, "-m", "ops.rasa_server", "--model", str(model), "--port", str(port)],
                              cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    session = requests.Session()
    params = {"token": token}
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the Rasa server exited with {server.returncode}:\n"
                                   + (work / "server.log").read_text()[-2000:])
            if time.monotonic() - started > 120:
                raise RuntimeError("the Rasa server did not answer within 120 s:\n"
                                   + (work / "server.log").read_text()[-2000:])
            try:
                if session.post(f"{url}/model/parse", params=params, json={"text": "hello"}, timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        start_s = time.monotonic() - started
        for text in texts[:10]:     # the first requests warm caches (Sanic, the tokenizer)
            session.post(f"{url}/model/parse", params=params, json={"text": f"warm up {text}"}, timeout=10)
        latencies = []
        for text in texts:
            begin = time.perf_counter()
            response = session.post(f"{url}/model/parse", params=params, json={"text": text}, timeout=10)
            latencies.append((time.perf_counter() - begin) * 1000)
            response.raise_for_status()
        hostile = []
        for text in HOSTILE:
            begin = time.perf_counter()
            session.post(f"{url}/model/parse", params=params, json={"text": text}, timeout=30).raise_for_status()
            hostile.append((time.perf_counter() - begin) * 1000)
        latencies.sort()
        return {"hostile_max_ms": round(max(hostile), 2),
                "start_s": round(start_s, 2), "parse_p50_ms": round(statistics.median(latencies), 2),
                "parse_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
                "parse_max_ms": round(latencies[-1], 2), "messages": len(latencies)}
    finally:
        stop_group(server)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: List[str]) -> int:
    from ops.train import model_path

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--no-train", action="store_true", help="skip timing a full training")
    args = parser.parse_args(argv)
    model = model_path()
    if not model.exists():
        print(f"budget: no model for the current data ({model.name}); run `make train`", file=sys.stderr)
        return 2
    figures: Dict[str, float] = {}
    if not args.no_train:
        print("budget: timing a full training ...", flush=True)
        figures["train_s"] = round(time_training(), 1)
    print(f"budget: starting a Rasa server with {model.name} and parsing {args.messages} messages ...", flush=True)
    figures.update(time_server(model, _messages(args.messages)))
    over = [f"{key} {figures[key]} > {limit}" for key, limit in BUDGETS.items()
            if key in figures and figures[key] > limit]
    for key, limit in BUDGETS.items():
        if key in figures:
            print(f"  {key:<13} {figures[key]:>8}   budget {limit}")
    print(f"  parse_p50_ms  {figures['parse_p50_ms']:>8}   (max {figures['parse_max_ms']} ms)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"date": utcnow().isoformat(), "cpus": os.cpu_count(), "model": model.name,
                                   "budgets": BUDGETS, "figures": figures, "over": over}, indent=2))
    print(f"budget: {'OVER: ' + '; '.join(over) if over else 'OK'} ({RESULTS.relative_to(PROJECT_ROOT)})")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
