"""One load run: Locust (from .venv-bench) plays conversations against a REST webhook; every request comes back.

    run_load(url, headers, conversations, users, work_dir)  -> the samples (one dict per request)

Locust runs headless in its own process and virtual environment (.venv-bench, bench/requirements.txt),
so its pins never touch Rasa's. Each conversation gets a sender (and a client name for Careline's
per-client counters) of its own, new in every run.

As a command, for a quick run against any running bot (the smoke test uses it; needs .venv-bench, `make bench-venv`):

    .venv-bench/bin/python -m bench.harness --url http://127.0.0.1:5005 [--token REST_TOKEN]
        [--conversations 2] [--turns 3] [--users 2] [--watch-pid PID ...]

prints the latency summary (and, with --watch-pid, the CPU and memory of those process trees) as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
BENCH_VENV = ROOT / ".venv-bench"
LOCUST = BENCH_VENV / "bin" / "locust"
LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")
Sample = Dict[str, Any]


class LoadError(RuntimeError):
    """Locust could not run; the message says why and where its log is."""


def plan(label: str, conversations: Sequence[Sequence[str]], headers: Dict[str, str],
         samples: Path) -> Dict[str, Any]:
    """The JSON plan the locustfile reads: fresh senders and client names for every conversation."""
    run = uuid.uuid4().hex[:10]
    return {
        "headers": headers,
        "samples": str(samples),
        "conversations": [{"sender": f"bench-{label}-{run}-{number}", "client": f"bench-{run}-{number}",
                           "messages": list(messages)} for number, messages in enumerate(conversations)],
    }


def read_samples(path: Path) -> List[Sample]:
    """The JSON lines the locustfile wrote (an absent file is no samples)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_load(url: str, headers: Dict[str, str], conversations: Sequence[Sequence[str]], users: int, work_dir: Path,
             label: str = "run", on_spawn: Optional[Callable[[int], None]] = None,
             timeout_s: float = 1800.0) -> List[Sample]:
    """Play `conversations` against `url` with `users` concurrent Locust users; return every request's sample.

    `on_spawn` gets Locust's process id as soon as it starts (to watch its CPU). Raises LoadError when
    Locust is missing, fails to start or runs past `timeout_s`.
    """
    if not LOCUST.exists():
        raise LoadError(f"{LOCUST.relative_to(ROOT)} is missing: run `make bench-venv` (it installs "
                        "bench/requirements.txt into .venv-bench)")
    if not conversations:
        raise ValueError("no conversations to play")
    work_dir.mkdir(parents=True, exist_ok=True)
    samples = work_dir / f"{label}.samples.jsonl"
    samples.unlink(missing_ok=True)
    plan_path = work_dir / f"{label}.plan.json"
    # the plan holds the REST credential: private to this user, removed after the run
    descriptor = os.open(plan_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(plan(label, conversations, headers, samples), handle)
    users = max(1, min(users, len(conversations)))
    log_path = work_dir / f"{label}.locust.log"
    command = [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "--host", url.rstrip("/"),
               "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{int(timeout_s)}s",
               "--stop-timeout", "30", "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    env = dict(os.environ, CARELINE_BENCH_PLAN=str(plan_path), PYTHONWARNINGS="ignore")
    try:
        with log_path.open("w", encoding="utf-8") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
            if on_spawn is not None:
                on_spawn(process.pid)
            try:
                code = process.wait(timeout=timeout_s + 60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise LoadError(f"Locust ran past {timeout_s:.0f} s; its log: {log_path}") from None
            except BaseException:
                process.terminate()
                process.wait(timeout=30)
                raise
    finally:
        plan_path.unlink(missing_ok=True)
    found = read_samples(samples)
    expected = sum(len(messages) for messages in conversations)
    if code != 0 or len(found) != expected:
        tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-25:])
        raise LoadError(f"Locust exited with {code} after {len(found)} of {expected} requests; "
                        f"last lines of {log_path}:\n{tail}")
    return found


def main(argv: List[str]) -> int:
    from bench import messages, stats

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the bot's base URL (the REST webhook is under it)")
    parser.add_argument("--token", default="", help="the REST channel's bearer token, if it needs one")
    parser.add_argument("--conversations", type=int, default=2)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--seed", type=int, default=messages.DEFAULT_SEED)
    parser.add_argument("--watch-pid", type=int, action="append", default=[], help="a process tree to measure")
    parser.add_argument("--work-dir", default=str(ROOT / "var" / "bench" / "harness"))
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds the run may take")
    args = parser.parse_args(argv)
    conversations = messages.conversations(args.conversations, args.turns, seed=args.seed)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    started = time.monotonic()
    usage: Dict[str, Any] = {}
    if args.watch_pid:
        from bench.procwatch import ProcessWatch

        with ProcessWatch({"watched": {f"pid {pid}": pid for pid in args.watch_pid}}) as watch:
            samples = run_load(args.url, headers, conversations, args.users, Path(args.work_dir),
                               timeout_s=args.timeout)
        usage = watch.usage()["watched"]
    else:
        samples = run_load(args.url, headers, conversations, args.users, Path(args.work_dir), timeout_s=args.timeout)
    print(json.dumps({"summary": stats.summarize(samples), "processes": usage, "samples": samples,
                      "wall_s": round(time.monotonic() - started, 2)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
