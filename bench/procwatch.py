"""CPU seconds and memory of process trees while a load runs (psutil, from .venv-bench).

    with ProcessWatch({"careline": {"rasa": 1234, "actions": 1240}}) as watch:
        ... the load ...
    watch.usage()  -> {"careline": {"rasa": {"cpu_s": .., "peak_rss_mb": .., "avg_rss_mb": .., "processes": n}}}

Each named root counts with all its descendants (found again at every sample, so a child that starts
mid-run counts too) except those under another named root: a process manager watched as one root and
its services as others count each process once. CPU is user + system time used between the start and
the end of the watch; memory is the resident set size (RSS) of the tree, sampled every `interval_s`.
"""
from __future__ import annotations

import threading
from typing import Dict, List, Mapping, Optional, Set

import psutil

Groups = Mapping[str, Mapping[str, int]]


def children_map() -> Dict[int, List[int]]:
    """Every process's children, from one pass over the process table."""
    found: Dict[int, List[int]] = {}
    for process in psutil.process_iter(["ppid"]):
        found.setdefault(process.info["ppid"] or 0, []).append(process.pid)
    return found


def descendants(root: int, children: Mapping[int, List[int]], prune: Set[int]) -> List[int]:
    """`root` and everything below it, except the subtrees of the pids in `prune` (other named roots)."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(child for child in children.get(pid, ()) if child not in prune)
    return found


class _Tree:
    """One named root process and its descendants."""

    def __init__(self, pid: int) -> None:
        self.root_pid = pid
        self.first_cpu: Dict[int, float] = {}   # pid -> cpu seconds when first seen
        self.last_cpu: Dict[int, float] = {}    # pid -> cpu seconds when last seen
        self.rss: List[int] = []                # bytes, the whole tree, per sample
        self.pids: Set[int] = set()

    def sample(self, children: Mapping[int, List[int]], prune: Set[int]) -> None:
        total = 0
        for pid in descendants(self.root_pid, children, prune):
            try:
                process = psutil.Process(pid)
                with process.oneshot():
                    times = process.cpu_times()
                    rss = process.memory_info().rss
            except psutil.Error:
                continue
            cpu = times.user + times.system
            self.first_cpu.setdefault(pid, cpu)
            self.last_cpu[pid] = cpu
            self.pids.add(pid)
            total += rss
        if total:
            self.rss.append(total)

    def usage(self) -> Dict[str, float]:
        cpu = sum(self.last_cpu[pid] - self.first_cpu[pid] for pid in self.last_cpu)
        mb = 1024 * 1024
        return {"cpu_s": round(cpu, 2), "peak_rss_mb": round(max(self.rss, default=0) / mb, 1),
                "avg_rss_mb": round(sum(self.rss) / len(self.rss) / mb, 1) if self.rss else 0.0,
                "processes": len(self.pids)}


def _busy_seconds() -> float:
    """CPU seconds all cores together have not been idle since boot."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


class ProcessWatch:
    """Samples the CPU time and RSS of named process trees in a background thread."""

    def __init__(self, groups: Groups, interval_s: float = 0.5) -> None:
        self._trees: Dict[str, Dict[str, _Tree]] = {
            group: {name: _Tree(pid) for name, pid in roots.items()} for group, roots in groups.items()}
        self._interval = interval_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._machine_start = self._machine_end = 0.0

    def add(self, group: str, name: str, pid: int) -> None:
        """Watch one more root (e.g. the load generator, once it has started)."""
        tree = _Tree(pid)
        tree.sample(children_map(), set())
        with self._lock:
            self._trees.setdefault(group, {})[name] = tree

    def _sample_all(self) -> None:
        with self._lock:
            trees = [tree for roots in self._trees.values() for tree in roots.values()]
        roots = {tree.root_pid for tree in trees}
        children = children_map()
        for tree in trees:
            tree.sample(children, roots - {tree.root_pid})

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample_all()

    def __enter__(self) -> ProcessWatch:
        self._machine_start = _busy_seconds()
        self._sample_all()
        self._thread = threading.Thread(target=self._run, name="bench-procwatch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sample_all()
        self._machine_end = _busy_seconds()

    def machine_cpu_s(self) -> float:
        """CPU seconds the whole machine (every process, all cores) was busy during the watch."""
        return round(self._machine_end - self._machine_start, 2)

    def usage(self) -> Dict[str, Dict[str, Dict[str, float]]]:
        """Per group, per named root: cpu_s, peak_rss_mb, avg_rss_mb and how many processes the tree had."""
        with self._lock:
            return {group: {name: tree.usage() for name, tree in roots.items()}
                    for group, roots in self._trees.items()}
