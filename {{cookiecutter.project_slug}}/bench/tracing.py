"""`python -m bench.tracing [REQUESTS [TURNS]]`: what observability costs per request,
in-process CPU and thread starts (bench/hotpath.py), with everything off, with tracing, metrics
(in multiprocess mode, as scripts/serve runs them), both, and Sentry alone; the fastest of
TURNS (3). The spans go over OTLP/HTTP to a receiver in this process that takes and drops them,
so the cost counted includes the exporter's thread posting them (CPU time counts every thread).
"""

import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.servers import PROJECT_DIR

LIMIT = 1.5  # tracing on may cost at most this many times off (README: Observability)


class Drop(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def measure(environment: dict[str, str], *args: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.hotpath", "project", *args],
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONHASHSEED": "0", **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    cpu, threads = out.stdout.split()[-2:]
    return float(cpu), float(threads)


def main() -> None:
    requests = sys.argv[1] if len(sys.argv) > 1 else "500"
    turns = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Drop)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{receiver.server_address[1]}"
    tracing = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    # Metrics as scripts/serve runs them: samples in files that every worker's scrape reads.
    samples = tempfile.TemporaryDirectory()
    metrics = {"METRICS_TOKEN": "bench", "PROMETHEUS_MULTIPROC_DIR": samples.name}
    off = {"OTEL_EXPORTER_OTLP_ENDPOINT": "", "METRICS_TOKEN": "", "SENTRY_DSN": ""}
    setups = {
        "off": off,
        "tracing": {**off, **tracing},
        "metrics": {**off, **metrics},
        "tracing+metrics": {**off, **tracing, **metrics},
        "sentry": {**off, "SENTRY_DSN": f"http://key@127.0.0.1:{receiver.server_address[1]}/1"},
    }
    paths: dict[str, tuple[str, ...]] = {"GET /api/say-async?delay=0": ()}
    paths["GET /api/blog/posts/{post_id}, anonymous (2 SQL queries)"] = ("--read", "anonymous")
    # As `python -m bench` measures: production's settings, plain HTTP, no throttle.
    os.environ.update(DEBUG="false", SECURE_SSL_REDIRECT="false", SAY_AFTER_RATE="")
    best = f"fastest of {turns} turns" if turns > 1 else "one turn"
    print(f"observability: in-process CPU and thread starts per request, {best}")
    for label, extra in paths.items():
        found: dict[str, tuple[float, float]] = {}
        for _ in range(turns):  # in turns, so that each setup sees the same machine
            for name, environment in setups.items():
                cost = measure(environment, requests, *extra)
                if name not in found or cost[0] < found[name][0]:
                    found[name] = cost
        print(label)
        for name, (cpu, threads) in found.items():
            ratio = cpu / found["off"][0]
            verdict = "" if name == "off" else f", {ratio:.2f}x off"
            if name == "tracing" and ratio > LIMIT:
                verdict += f" (over the {LIMIT}x aim)"
            print(f"  {name:16} {cpu:5.0f} us, {threads:.2f} thread starts{verdict}")
    receiver.shutdown()
    samples.cleanup()


if __name__ == "__main__":
    main()
