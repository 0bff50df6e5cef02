"""Start the project under uvicorn or gunicorn for a benchmark, and watch its memory and threads."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT_SLUG = "{{ cookiecutter.project_slug }}"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Ten gunicorn workers each import Django: on two busy cores that has taken over 30 s.
def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer {url} within {seconds} s")


def process_tree(root: int) -> list[int]:
    """The pid and its descendants (gunicorn's workers are children of the master)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def rss_and_threads(pids: list[int]) -> tuple[int, int]:
    rss = threads = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        threads += int(fields[17])
        rss += int(fields[21]) * PAGE_SIZE
    return rss, threads


@dataclass
class PeakSampler:
    """Samples RSS (summed over the process tree) and thread count every 20 ms."""

    pid: int
    peak_rss: int = 0
    peak_threads: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, threads = rss_and_threads(process_tree(self.pid))
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_threads = max(self.peak_threads, threads)
            time.sleep(0.02)

    @contextmanager
    def sampling(self) -> Iterator["PeakSampler"]:
        self.peak_rss = self.peak_threads = 0
        self._stop.clear()
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


@dataclass
class RunningServer:
    label: str
    url: str
    sampler: PeakSampler | None


GUNICORN_WORKERS = 10
GUNICORN_THREADS = 10
# scripts/serve, the production server, with this many uvicorn workers.
SERVE_WORKERS = 2


def server_command(kind: str, port: int, slug: str) -> list[str]:
    if kind == "serve":
        return ["sh", "scripts/serve", "--backlog", "4096"]
    if kind == "uvicorn":
        return [
            *(sys.executable, "-m", "uvicorn", f"{slug}.asgi:application", "--port", str(port)),
            *("--log-level", "warning", "--no-access-log", "--backlog", "4096"),
        ]
    # The seed's WSGI comparison: 10 worker processes x 10 threads = 100 requests at a time.
    # --worker-connections caps what one worker accepts at its thread count; by default a
    # gthread worker accepts up to 1000 connections and queues them behind its 10 threads.
    return [
        *(sys.executable, "-m", "gunicorn", f"{slug}.wsgi:application"),
        *("--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "4096"),
        *("--workers", str(GUNICORN_WORKERS), "--threads", str(GUNICORN_THREADS)),
        *("--worker-connections", str(GUNICORN_THREADS), "--keep-alive", "0"),
    ]


def wait_for_workers(pid: int, count: int, seconds: float = 60) -> None:
    """gunicorn answers as soon as one worker is up; wait until all of them are."""
    deadline = time.monotonic() + seconds
    while len(process_tree(pid)) < count + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # let the last ones finish importing Django


@contextmanager
def started(kind: str, slug: str) -> Iterator[RunningServer]:
    """The server logs (one access line per request) go to a file, not over the table."""
    port = free_port()
    log_path = Path(tempfile.gettempdir()) / f"bench-{kind}.log"
    env = dict(os.environ)
    if kind == "serve":  # it runs `python` (this one) and reads these; uvicorn reads
        # WEB_CONCURRENCY too, so only this server gets it
        env |= {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(SERVE_WORKERS),
        }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            server_command(kind, port, slug), cwd=PROJECT_DIR, env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_up(f"{url}/api/say-async?delay=0", process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; see {log_path}") from None
        if kind != "uvicorn":
            wait_for_workers(process.pid, GUNICORN_WORKERS if kind == "gunicorn" else SERVE_WORKERS)
        label = {
            "uvicorn": "uvicorn, 1 worker",
            "serve": f"serve, {SERVE_WORKERS} workers",
            "gunicorn": "gunicorn WSGI 10x10",
        }[kind]
        yield RunningServer(label, url, PeakSampler(process.pid))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
