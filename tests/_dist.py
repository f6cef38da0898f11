"""Launching 2-process CPU tests with torchrun: an explicit free port and a hard timeout.

`--master_port 0` stalled the workers at rendezvous in some runs (torch 2.11; a 400 s hang of a
2-process test), so every launch names a free port. A run that outlives its timeout is killed,
workers included, and fails with the tail of its log instead of blocking CI.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 240  # one launch; the first also JIT-builds DeepSpeed's comm op (~26 s, then cached)
LAUNCHER_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def free_port() -> int:
    """A TCP port that was free a moment ago (the OS picks it; closed before torchrun binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Every live descendant of pid (Linux /proc). torchrun starts each worker in a new session,
    so killing torchrun's process group alone would orphan hung workers."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL torchrun's process group (it leads one: start_new_session) and every descendant."""
    victims = _descendants(proc.pid)  # before killing: orphans are re-parented and lost from the tree
    for kill, target in [(os.killpg, proc.pid), *((os.kill, pid) for pid in victims)]:
        try:
            kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def run_torchrun(args: list[str], timeout: float = TIMEOUT_S, nproc: int = 2) -> str:
    """`torchrun --nproc_per_node nproc --master_port <free> ARGS` on CPU from the repo root.

    Returns the combined log. Fails the test (with the log tail) on a non-zero exit, or after
    `timeout` seconds, killing torchrun and its workers. Retries once if the port was taken
    between free_port() and torchrun binding it.
    """
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_ENV}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1")
    for attempt in range(2):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()), *args]
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "torchrun.log"
            with open(log, "w") as fh:
                proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                        start_new_session=True)
                try:
                    rc = proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _kill_tree(proc)
                    rc = None
            text = log.read_text(errors="replace")
        if rc is None:
            pytest.fail(f"torchrun did not finish in {timeout:.0f} s (killed with its workers); command: "
                        f"{' '.join(cmd)}\n--- log tail ---\n{text[-8000:]}", pytrace=False)
        if rc == 0:
            return text
        if attempt == 0 and ("EADDRINUSE" in text or "address already in use" in text.lower()):
            continue
        break
    pytest.fail(f"torchrun exited with {rc}; command: {' '.join(cmd)}\n--- log tail ---\n{text[-8000:]}", pytrace=False)
