"""Benchmark the project the way the seed did: `python -m bench` (or `make bench`).

Starts the project under uvicorn (one worker), scripts/serve (two workers) and gunicorn (WSGI,
10 workers x 10 threads), fires the seed's load at /api/say-async and /api/say-sync, then 1000
at once, and prints an ab-like table per scenario. Then measures the hot path: CPU per request
of this project against a bare Ninja app, and what the post list's cache saves. `--url`
targets a running server instead (e.g. `make serve`).

The same load with ab:  ab -c 100 -n 100 "http://127.0.0.1:8000/api/say-async?delay=3&word=hi"
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.load import LoadResult, run_load
from bench.servers import PROJECT_DIR, PROJECT_SLUG, RunningServer, started

# The promise: the project's async hot path costs at most half a bare Ninja app's.
HOT_PATH_LIMIT = 0.5


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # "uvicorn", "serve" (scripts/serve) or "gunicorn"
    path: str
    concurrency: int
    requests: int
    delay: float


def scenarios(quick: bool) -> list[Scenario]:
    delay, seed, wide = (0.2, 20, 50) if quick else (3.0, 100, 1000)
    return [
        Scenario(f"seed: async c={seed}", "uvicorn", "/api/say-async", seed, seed, delay),
        Scenario(f"seed: sync (ASGI) c={seed}", "uvicorn", "/api/say-sync", seed, seed, delay),
        Scenario(f"async c={wide}", "uvicorn", "/api/say-async", wide, wide, delay),
        Scenario(f"sync (ASGI) c={wide}", "uvicorn", "/api/say-sync", wide, wide, delay),
        Scenario(f"async c={wide}, 2 workers", "serve", "/api/say-async", wide, wide, delay),
        Scenario(
            f"seed: sync (WSGI 10x10) c={seed}", "gunicorn", "/api/say-sync", seed, seed, delay
        ),
    ]


@dataclass
class Row:
    scenario: Scenario
    server: str
    result: LoadResult
    peak_rss: int | None
    peak_threads: int | None


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


HEADER = (
    f"{'scenario':<34} {'server':<20} {'reqs':>5} {'fail':>5} {'min':>6} {'mean':>6} {'p50':>6} "
    f"{'p90':>6} {'p99':>6} {'max':>6} {'over':>6} {'RSS MiB':>8} {'threads':>8}"
)


def format_row(row: Row) -> str:
    ms = sorted(latency * 1000 for latency in row.result.latencies) or [float("nan")]
    ideal = row.scenario.delay * 1000
    rss = f"{row.peak_rss / 2**20:.0f}" if row.peak_rss else "-"
    threads = str(row.peak_threads) if row.peak_threads else "-"
    return (
        f"{row.scenario.name:<34} {row.server:<20} {row.scenario.requests:>5} "
        f"{row.result.failures:>5} {ms[0]:>6.0f} {statistics.fmean(ms):>6.0f} "
        f"{percentile(ms, 0.5):>6.0f} {percentile(ms, 0.9):>6.0f} {percentile(ms, 0.99):>6.0f} "
        f"{ms[-1]:>6.0f} {percentile(ms, 0.99) - ideal:>6.0f} {rss:>8} {threads:>8}"
    )


def run_scenario(scenario: Scenario, server: RunningServer) -> Row:
    url = f"{server.url}{scenario.path}?delay={scenario.delay}&word=hello"
    load = run_load(url, concurrency=scenario.concurrency, requests=scenario.requests)
    if server.sampler is None:
        return Row(scenario, server.label, asyncio.run(load), None, None)
    with server.sampler.sampling() as sampler:
        result = asyncio.run(load)
    return Row(scenario, server.label, result, sampler.peak_rss, sampler.peak_threads)


def run_all(chosen: list[Scenario], url: str | None, slug: str) -> list[Row]:
    rows = []
    if url:  # a server that is already running: its process is not ours to watch
        target = RunningServer(url, url.rstrip("/"), None)
        return [print_row(run_scenario(s, target)) for s in chosen if s.server == "uvicorn"]
    for kind in ("uvicorn", "serve", "gunicorn"):
        mine = [s for s in chosen if s.server == kind]
        if mine:
            with started(kind, slug) as server:
                rows += [print_row(run_scenario(s, server)) for s in mine]
    return rows


def print_row(row: Row) -> Row:
    print(format_row(row), flush=True)
    return row


HOT_PATH_APPS = ("project", "minimal", "project-stock-handler", "project-stock-signals")


READS = ("anonymous", "token", "stock-handler")
READ_RUNS = (("project", "anonymous"), ("project", "token"), ("project-stock-handler", "anonymous"))


@dataclass(frozen=True)
class Cost:
    cpu: float  # microseconds per request
    threads: float  # threads started per request

    def __str__(self) -> str:
        return f"{self.cpu:.0f} us, {self.threads:.2f} thread starts"


def measure_cpu(*args: str) -> Cost:
    """CPU and thread starts per request, from `python -m bench.hotpath ARGS`."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.hotpath", *args],
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        check=True,
    )
    cpu, threads = out.stdout.split()[-2:]
    return Cost(float(cpu), float(threads))


def fastest(turns: list[list[Cost]], names: tuple[str, ...]) -> dict[str, Cost]:
    return {
        name: min((turn[i] for turn in turns), key=lambda c: c.cpu) for i, name in enumerate(names)
    }


def hot_path(requests: int, repeats: int = 3) -> dict[str, Cost]:
    """Fastest CPU per request of each app, measured in turns so all see the same machine."""
    turns = [[measure_cpu(which, str(requests)) for which in HOT_PATH_APPS] for _ in range(repeats)]
    return fastest(turns, HOT_PATH_APPS)


def read_path(requests: int, repeats: int = 3) -> dict[str, Cost]:
    """Fastest CPU per database read (anonymous, with a bearer token, stock handler), in turns."""
    turns = [
        [measure_cpu(app, str(requests), "--read", read) for app, read in READ_RUNS]
        for _ in range(repeats)
    ]
    return fastest(turns, READS)


LISTS = ("cached", "uncached")


def list_path(requests: int, repeats: int = 3) -> dict[str, Cost]:
    """Fastest CPU per anonymous post list, from the cache and without it, in turns."""
    turns = [
        [measure_cpu("project", str(requests), "--list", which) for which in LISTS]
        for _ in range(repeats)
    ]
    return fastest(turns, LISTS)


def rate_limit_checks() -> None:
    """The redis bake's comparison of rate-limit checks (bench/ratelimit.py)."""
    if (PROJECT_DIR / "bench" / "ratelimit.py").exists():
        subprocess.run([sys.executable, "-m", "bench.ratelimit"], cwd=PROJECT_DIR, check=True)


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib  # optional: uv sync --group plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    for row in rows:
        ms = sorted(latency * 1000 for latency in row.result.latencies)
        if ms:
            fractions = [(i + 1) / len(ms) for i in range(len(ms))]
            ax.step(ms, fractions, where="post", label=f"{row.scenario.name} ({row.server})")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("fraction of requests done")
    ax.set_title("say-after latency CDF (ideal: every request at the delay)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="benchmark a running server instead of starting one")
    parser.add_argument("--quick", action="store_true", help="tiny load, for smoke tests")
    parser.add_argument("--plot", type=Path, help="write a latency CDF (needs matplotlib)")
    parser.add_argument("--no-hot-path", action="store_true", help="skip the CPU comparison")
    args = parser.parse_args()

    # Measure what production runs: DEBUG off (the servers and the hot path inherit this),
    # static files collected.
    os.environ["DEBUG"] = "false"
    os.environ["SECURE_SSL_REDIRECT"] = "false"  # the bench speaks plain HTTP to the server
    os.environ["SAY_AFTER_RATE"] = ""  # the load comes from one IP: measure, do not throttle
{%- if cookiecutter.use_webhooks == "yes" %}
    os.environ["WEBHOOK_URLS"] = ""  # the posts the bench makes are not news for your receivers
{%- endif %}
    for command in (["collectstatic", "--no-input"], ["migrate", "--no-input"]):
        subprocess.run([sys.executable, "manage.py", *command, "-v0"], cwd=PROJECT_DIR, check=True)
    print(HEADER)
    rows = run_all(scenarios(args.quick), args.url, PROJECT_SLUG)
    print("times in ms; over = p99 - delay (the cost on top of the ideal answer time)")
    throttled = sum(row.result.statuses.get(429, 0) for row in rows)
    if throttled:  # only with --url: the servers the bench starts do not throttle
        print(
            f"{throttled} requests were answered 429 (counted in fail): that server throttles "
            "say-after per client IP; start it with SAY_AFTER_RATE= to measure it"
        )
    if not args.no_hot_path:
        cost = hot_path(100 if args.quick else 500)
        project, minimal, stock_handler, stock_signals = (cost[which] for which in HOT_PATH_APPS)
        ratio = project.cpu / minimal.cpu
        verdict = "ok" if ratio <= HOT_PATH_LIMIT else f"OVER the {HOT_PATH_LIMIT} limit"
        print(
            "\nhot path: in-process CPU and thread starts per request, fastest of 3 runs each, "
            "on one CPU; expect about 5% run-to-run noise; say-after throttle off"
        )
        print(
            f"GET /api/say-async?delay=0: project {project.cpu:.0f} us, "
            f"bare Ninja app {minimal.cpu:.0f} us, ratio {ratio:.2f} ({verdict})"
        )
        print(
            f"  thread starts per request: project {project.threads:.2f}, bare Ninja app "
            f"{minimal.threads:.2f}"
        )
        print(f"  with Django's own ASGIHandler: project {stock_handler}")
        print(f"  with Django's request_started thread hop put back: project {stock_signals}")
        reads = read_path(100 if args.quick else 500)
        anonymous, token, stock_read = (reads[read] for read in READS)
        print(
            f"GET /api/blog/posts/<id>: anonymous {anonymous}; with a bearer token "
            f"{token.cpu:.0f} us (auth costs {token.cpu - anonymous.cpu:.0f} us); "
            f"with Django's own ASGIHandler {stock_read}"
        )
        lists = list_path(100 if args.quick else 500)
        print(
            f"GET /api/blog/posts, anonymous, 20 posts: from the post list's cache "
            f"{lists['cached'].cpu:.0f} us, without it {lists['uncached'].cpu:.0f} us"
        )
        login = measure_cpu("project", "5" if args.quick else "20", "--login")
        print(
            f"POST /_allauth/app/v1/auth/login: {login} (nearly all of it the password's hash, "
            "Django's PBKDF2: its cost is the point)"
        )
        rate_limit_checks()
        print()
        tracing = [sys.executable, "-m", "bench.tracing", *(["100", "1"] if args.quick else [])]
        subprocess.run(tracing, cwd=PROJECT_DIR, check=True)
    print()
    streams = [sys.executable, "-m", "bench.streams", *(["--quick"] if args.quick else [])]
    subprocess.run(streams, cwd=PROJECT_DIR, check=True)
    print()
    tasks = [sys.executable, "-m", "bench.tasks", *(["--tasks", "200"] if args.quick else [])]
    subprocess.run(tasks, cwd=PROJECT_DIR, check=True)
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
