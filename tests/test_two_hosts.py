"""Two hosts behind one load balancer, sharing PostgreSQL and Redis: what a second replica
(or a second machine) must not break.

Each host is a Linux network namespace joined to this one by a veth pair, so it has its own
address, loopback and ports, as a machine has; `scripts/serve` runs in each with two workers.
HAProxy (Debian's; `make test` installs it) balances between them, health-checking
/api/ready, and carries the hosts' PostgreSQL and Redis connections to the servers on this
machine's loopback (they listen there only). Namespaces need root, as `make test` has.
"""

import asyncio
import collections
import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from conftest import BakedProject, bake_and_install, free_port

pytestmark = pytest.mark.slow

HOSTS = ("h1", "h2")
APP_PORT = 8000
SAY_AFTER_RATE = 20  # per minute and client IP, for the whole site
WEBHOOK_SECRET = "whsec_" + "dHdvLWhvc3RzLXRlc3Qtc2VjcmV0LWtleS0zMi1ieXRlcw=="
GRACEFUL_TIMEOUT = 10


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True)


@dataclass
class Network:
    """Where each host listens, how to run a command on it, and where it finds the shared
    services (PostgreSQL, Redis, the webhook receiver) and the balancer."""

    services: str  # the shared services' address, as every host reaches it
    hosts: dict[str, str] = field(default_factory=dict)  # host name -> its address
    balancer_as_seen: dict[str, str] = field(default_factory=dict)  # by each host
    prefix: dict[str, list[str]] = field(default_factory=dict)  # runs a command on it


def require_namespaces() -> None:
    probe = f"tplprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode:
        pytest.fail(f"the two-host test needs network namespaces (root): {made.stderr}")
    sh("ip", "netns", "del", probe)


@contextlib.contextmanager
def network() -> Iterator[Network]:
    require_namespaces()
    # A private /16 per run, so that two runs on one machine do not share addresses.
    net, tag = f"10.{200 + os.getpid() % 50}", os.getpid() % 100_000
    made = Network(services=f"{net}.0.1")
    sh("ip", "addr", "add", f"{made.services}/32", "dev", "lo")
    try:
        for number, host in enumerate(HOSTS, start=1):
            ns, outside, inside = f"tpl{tag}{host}", f"tv{tag}{host}o", f"tv{tag}{host}i"
            gateway, address = f"{net}.{number}.1", f"{net}.{number}.2"
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", ns)
            sh("ip", "addr", "add", f"{gateway}/24", "dev", outside)
            sh("ip", "link", "set", outside, "up")
            inner = ["ip", "netns", "exec", ns]
            sh(*inner, "ip", "link", "set", "lo", "up")
            sh(*inner, "ip", "addr", "add", f"{address}/24", "dev", inside)
            sh(*inner, "ip", "link", "set", inside, "up")
            sh(*inner, "ip", "route", "add", f"{made.services}/32", "via", gateway)
            made.hosts[host], made.balancer_as_seen[host] = address, gateway
            made.prefix[host] = inner
        yield made
    finally:
        for host in HOSTS:
            # Deleting the namespace deletes its end of the veth pair, and so the pair.
            subprocess.run(["ip", "netns", "del", f"tpl{tag}{host}"], capture_output=True)
        subprocess.run(["ip", "addr", "del", f"{made.services}/32", "dev", "lo"])


@dataclass
class Receiver:
    """A webhook receiver on a port: every delivery it got, and from which host."""

    url: str
    deliveries: list[dict[str, Any]]


@contextlib.contextmanager
def webhook_receiver(address: str) -> Iterator[Receiver]:
    deliveries: list[dict[str, Any]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                deliveries.append(
                    {
                        "id": self.headers["webhook-id"],
                        "from": self.client_address[0],
                        "posts": [post["id"] for post in body["posts"]],
                    }
                )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((address, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://{address}:{server.server_address[1]}/hooks", deliveries)
    finally:
        server.shutdown()
        server.server_close()


def haproxy_config(net: Network, port: int, admin_socket: Path) -> str:
    """The balancer: round robin over the hosts' /api/ready, a refused connection retried on
    the other host; PostgreSQL and Redis on the services address."""
    servers = "\n".join(
        f"  server {host} {address}:{APP_PORT}" for host, address in net.hosts.items()
    )
    services = "\n".join(
        f"listen {name}\n  mode tcp\n  timeout client 1h\n  timeout server 1h\n"
        f"  bind {net.services}:{service_port}\n  server {name} 127.0.0.1:{service_port}\n"
        for name, service_port in (("postgresql", 5432), ("redis", 6379))
    )
    return f"""\
global
  stats socket {admin_socket} mode 600 level admin
  log stdout format raw local0

defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch 1

frontend web
  bind 127.0.0.1:{port}
  log global
  log-format "%s %ST %ts %HM %HU"
  default_backend hosts

backend hosts
  balance roundrobin
  option forwardfor
  option httpchk
  http-check send meth GET uri /api/ready hdr Host 127.0.0.1
  http-check expect status 200
  default-server check inter 500ms fall 2 rise 2
  http-response set-header X-Served-By %[srv_name]
{servers}

{services}
"""


@dataclass
class Site:
    """The balancer's URL, the two hosts behind it and what they share."""

    url: str
    net: Network
    project: BakedProject
    environment: dict[str, str]
    database_url: str
    receiver: Receiver
    token: str
    folder: Path
    servers: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    @property
    def admin_socket(self) -> Path:
        return self.folder / "haproxy.sock"

    @property
    def balancer_log(self) -> Path:
        return self.folder / "haproxy.log"

    def start(self, host: str) -> None:
        """`scripts/serve` (two workers) on the host, as its container would run it."""
        log = (self.folder / f"{host}.log").open("a")
        self.servers[host] = subprocess.Popen(
            [*self.net.prefix[host], "sh", "scripts/serve"],
            cwd=self.project.path,
            env={
                **self.environment,
                "HOST": "0.0.0.0",
                "PORT": str(APP_PORT),
                # The balancer's X-Forwarded-For is trusted, so the rate limit counts the
                # client, who is the same whichever host serves it.
                "FORWARDED_ALLOW_IPS": self.net.balancer_as_seen[host],
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def admin(self, command: str) -> str:
        """One command on HAProxy's admin socket; its answer."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.admin_socket))
            sock.sendall(command.encode() + b"\n")
            return b"".join(iter(lambda: sock.recv(65536), b"")).decode()

    def states(self) -> dict[str, str]:
        """HAProxy's view of each host: UP, DOWN, DRAIN, ..."""
        rows = [line.split(",") for line in self.admin("show stat").splitlines()]
        return {row[1]: row[17] for row in rows if row[0] == "hosts" and row[1] in HOSTS}

    def wait_for_states(self, wanted: dict[str, str], within: float = 60) -> None:
        deadline = time.monotonic() + within
        while (states := self.states()) != wanted:
            assert time.monotonic() < deadline, f"{states} != {wanted}\n{self.log_tails()}"
            time.sleep(0.2)

    def log_tails(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-3000:]}" for path in self.folder.glob("*.log")
        )

    def host_of(self, address: str) -> str:
        return {a: h for h, a in self.net.hosts.items()}.get(address, address)


@pytest.fixture(scope="module")
def two_hosts_project(cookies_session, postgres_databases) -> BakedProject:
    """PostgreSQL and Redis (what several hosts share), webhooks, no search (no engine here)."""
    project = bake_and_install(
        cookies_session,
        postgres_databases,
        database="postgresql",
        cache="redis",
        use_elasticsearch="no",
        use_docker="no",
    )
    project.uv_run("python", "manage.py", "migrate", "--no-input")
    return project


@pytest.fixture(scope="module")
def site(two_hosts_project: BakedProject, tmp_path_factory) -> Iterator[Site]:
    project, folder = two_hosts_project, tmp_path_factory.mktemp("two-hosts")
    database_url = project.extra_env["DATABASE_URL"]
    with contextlib.ExitStack() as stack:
        net = stack.enter_context(network())
        receiver = stack.enter_context(webhook_receiver(net.services))
        database = urllib.parse.urlsplit(database_url)
        environment = {
            **project.env(),
            "PATH": f"{project.path / '.venv/bin'}{os.pathsep}{os.environ['PATH']}",
            "DATABASE_URL": database._replace(netloc=f"postgres@{net.services}:5432").geturl(),
            "REDIS_URL": f"redis://{net.services}:6379/0",
            "REDIS_KEY_PREFIX": f"two-hosts-{uuid.uuid4().hex[:8]}:",
            # A count that times out is let through (fails open): room for a busy machine, as
            # the exact count is what this test checks.
            "REDIS_TIMEOUT": "2",
            "SECRET_KEY": "two-hosts-" + "k" * 50,
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "WEB_CONCURRENCY": "2",
            "GRACEFUL_TIMEOUT": str(GRACEFUL_TIMEOUT),
            "SAY_AFTER_RATE": f"{SAY_AFTER_RATE}/m",
            "WRITE_RATE": "",
            "WEBHOOK_URLS": receiver.url,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "OUTBOX_POLL_INTERVAL": "0.2",
            "LOG_LEVEL": "WARNING",
        }
        built = Site(
            url=f"http://127.0.0.1:{free_port()}",
            net=net,
            project=project,
            environment=environment,
            database_url=database_url,
            receiver=receiver,
            token=project.api_token("writer"),
            folder=folder,
        )
        config = folder / "haproxy.cfg"
        port = int(built.url.rsplit(":", 1)[1])
        config.write_text(haproxy_config(net, port, built.admin_socket))
        balancer = subprocess.Popen(
            ["haproxy", "-db", "-f", str(config)],
            stdout=built.balancer_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        stack.callback(balancer.kill)
        for host in HOSTS:
            built.start(host)
        stack.callback(lambda: [stop(server) for server in built.servers.values()])
        deadline = time.monotonic() + 30
        while not built.admin_socket.exists():
            assert balancer.poll() is None, built.balancer_log.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        built.wait_for_states({host: "UP" for host in HOSTS})
        yield built


def stop(server: subprocess.Popen[str]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=GRACEFUL_TIMEOUT + 20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_the_balancer_sends_to_both_hosts(site: Site) -> None:
    served_by = collections.Counter(
        httpx.get(f"{site.url}/api/health").headers["X-Served-By"] for _ in range(20)
    )

    assert served_by == {"h1": 10, "h2": 10}


async def say_after(url: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        return await asyncio.gather(
            *(client.get(f"{url}/api/say-async", params={"delay": 0}) for _ in range(count))
        )


def test_the_rate_limit_holds_across_both_hosts(site: Site) -> None:
    """One count in Redis for the whole site: the client gets SAY_AFTER_RATE answers, not
    that many from each host (nor from each of their four worker processes)."""
    responses = asyncio.run(say_after(site.url, 3 * SAY_AFTER_RATE))
    answered = collections.Counter(
        (r.status_code, r.headers["X-Served-By"]) for r in responses if r.status_code == 200
    )
    statuses = collections.Counter(r.status_code for r in responses)

    assert statuses == {200: SAY_AFTER_RATE, 429: 2 * SAY_AFTER_RATE}, statuses
    assert {host for _, host in answered} == set(HOSTS)  # both hosts counted in one place


@dataclass
class Load:
    """What the writers saw: a status (or a transport error) per request, and the posts whose
    publishing was acknowledged."""

    title: str = field(default_factory=lambda: f"two hosts {uuid.uuid4().hex[:8]}")
    statuses: collections.Counter[int | str] = field(default_factory=collections.Counter)
    served_by: collections.Counter[str] = field(default_factory=collections.Counter)
    published: list[int] = field(default_factory=list)

    def requests(self) -> int:
        return sum(self.statuses.values())


async def write_load(
    site: Site, seconds: float, stop_at: float, stop_h1: Callable[[], None]
) -> Load:
    """16 writers, each creating a post and publishing it, again and again, for `seconds`;
    `stop_h1()` runs `stop_at` seconds in. A new connection per request, as from many
    clients (a client's own kept-alive connection is another matter: HAProxy then closes it
    rather than answer 502, so that the client retries)."""
    load, headers = Load(), {"Authorization": f"Bearer {site.token}"}
    started = time.monotonic()

    async def call(client: httpx.AsyncClient, path: str, body: object) -> httpx.Response | None:
        try:
            response = await client.post(path, json=body, headers=headers)
        except httpx.HTTPError as error:
            load.statuses[type(error).__name__] += 1
            return None
        load.statuses[response.status_code] += 1
        load.served_by[response.headers.get("X-Served-By", "none")] += 1
        return response

    async def writer(client: httpx.AsyncClient) -> None:
        while time.monotonic() - started < seconds:
            created = await call(client, "/api/blog/posts", {"title": load.title})
            if created is None or created.status_code != 201:
                continue
            post_id = created.json()["id"]
            published = await call(client, "/api/blog/posts/publish", {"ids": [post_id]})
            if published is not None and published.status_code == 200:
                load.published.append(post_id)

    async def stopper() -> None:
        await asyncio.sleep(stop_at)
        await asyncio.to_thread(stop_h1)

    limits = httpx.Limits(max_connections=16, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=site.url, timeout=30, limits=limits) as client:
        await asyncio.gather(stopper(), *(writer(client) for _ in range(16)))
    return load


def balancer_lines(site: Site, since: int) -> list[str]:
    """The balancer's request lines ("server status termination method path") after `since`."""
    lines = site.balancer_log.read_text().splitlines()[since:]
    return [line for line in lines if not line.startswith("[")]


@dataclass
class Outcome:
    load: Load
    failed_at_balancer: list[str]  # its lines for requests not answered 2xx
    stored: set[int]  # acknowledged publishes found published in the database
    created: int  # posts the load created, acknowledged or not
    deliveries: list[dict[str, Any]]  # what the receiver got during the load and after
    tasks: collections.Counter[str]  # the delivery tasks' statuses


def loaded_while_h1_stops(site: Site, stop_h1: Callable[[], None]) -> Outcome:
    """8 s of writes, h1 stopped 3 s in by `stop_h1()`; then h1 started again."""
    before_log = len(site.balancer_log.read_text().splitlines())
    before_deliveries = len(site.receiver.deliveries)
    load = asyncio.run(write_load(site, seconds=8, stop_at=3, stop_h1=stop_h1))
    site.servers["h1"].wait(timeout=GRACEFUL_TIMEOUT + 20)
    site.admin("set server hosts/h1 state ready")  # undo a drain: h1 counts on its checks
    site.wait_for_states({"h1": "DOWN", "h2": "UP"})
    deadline = time.monotonic() + 60
    while len(site.receiver.deliveries) - before_deliveries < len(load.published):
        assert time.monotonic() < deadline, "deliveries missing"
        time.sleep(0.2)
    time.sleep(2)  # room for a second sending of anything, which must not come
    with psycopg.connect(site.database_url) as db:
        published = db.execute(
            "SELECT id FROM blog_post WHERE published AND id = ANY(%s)", [load.published]
        )
        stored = {post_id for (post_id,) in published}
        titled = db.execute("SELECT count(*) FROM blog_post WHERE title = %s", [load.title])
        created = titled.fetchone()[0]  # type: ignore[index]
        tasks = db.execute(
            "SELECT status, count(*) FROM outbox_queuedtask WHERE task_path = %s GROUP BY 1",
            ["webhooks.delivery.deliver"],
        )
        statuses = collections.Counter({status: count for status, count in tasks})
    lines = balancer_lines(site, before_log)
    site.start("h1")
    site.wait_for_states({host: "UP" for host in HOSTS})
    return Outcome(
        load=load,
        failed_at_balancer=[line for line in lines if line.split()[1][0] != "2"],
        stored=stored,
        created=created,
        deliveries=site.receiver.deliveries[before_deliveries:],
        tasks=statuses,
    )


def report(site: Site, how: str, outcome: Outcome) -> None:
    senders = collections.Counter(site.host_of(str(d["from"])) for d in outcome.deliveries)
    failures = collections.Counter(line.rsplit(" ", 1)[0] for line in outcome.failed_at_balancer)
    print(
        f"\ntwo hosts, h1 stopped {how} 3 s into 8 s of writes by 16 clients: "
        f"{outcome.load.requests()} requests, answers {dict(outcome.load.statuses)}, served "
        f"by {dict(outcome.load.served_by)}; {len(outcome.load.published)} publishes "
        f"acknowledged, {len(outcome.stored)} of them stored; {outcome.created} posts created "
        f"for {outcome.load.statuses[201]} 201s; {len(outcome.deliveries)} deliveries, sent by "
        f"{dict(senders)}; balancer failures {dict(failures)}"
    )


def assert_each_delivery_sent_once(outcome: Outcome) -> None:
    ids = [d["id"] for d in outcome.deliveries]
    delivered = [post for d in outcome.deliveries for post in d["posts"]]
    assert len(set(ids)) == len(ids)  # no delivery sent twice
    assert len(set(delivered)) == len(delivered)  # no post's publishing delivered twice
    assert set(outcome.load.published) <= set(delivered)  # every acknowledged one delivered
    assert set(outcome.tasks) == {"SUCCESSFUL"}, outcome.tasks


def test_a_host_stopped_without_warning_loses_only_requests_it_had_been_sent(
    site: Site,
) -> None:
    """SIGTERM to h1 mid-load with the balancer not told (no preStop pause, no drain): uvicorn
    closes its port at once and finishes the requests it is running; a connection it then
    refuses is retried on h2. What fails is what the balancer had already sent to h1 and h1
    had not begun (HAProxy logs it `h1 502 SH`, the server closed before answering; or, when
    h1 closed while the request was still being passed on, `h1 -1 SD`, and the client's
    connection is closed unanswered, a transport error): nothing the balancer had not yet
    sent, no acknowledged write, no background task."""
    outcome = loaded_while_h1_stops(site, lambda: site.servers["h1"].send_signal(signal.SIGTERM))
    report(site, "without warning", outcome)
    load = outcome.load

    failed = {status: n for status, n in load.statuses.items() if status not in (200, 201)}
    assert set(failed) <= {502, "RemoteProtocolError"}, failed  # no 503: none left unsent
    # Each failure is one the balancer logged as sent to h1 and closed by h1 unanswered.
    assert len(outcome.failed_at_balancer) == sum(failed.values()), outcome.failed_at_balancer
    assert all(line.startswith("h1 ") for line in outcome.failed_at_balancer)
    assert failed.get(502, 0) <= sum(
        line.startswith("h1 502 S") for line in outcome.failed_at_balancer
    )
    assert load.served_by["h1"] > 0 and load.served_by["h2"] > load.served_by["h1"]
    assert outcome.stored == set(load.published)  # no acknowledged write lost
    assert outcome.created == load.statuses[201]  # what failed was never begun
    assert_each_delivery_sent_once(outcome)


def test_a_host_taken_out_of_the_balancer_first_loses_nothing(site: Site) -> None:
    """The Kubernetes way (deploy/k8s: the endpoint is removed while preStop pauses, then
    SIGTERM): h1 drained at the balancer, then SIGTERM 2 s later. Every request is answered."""

    def drain_then_stop() -> None:
        site.admin("set server hosts/h1 state drain")
        time.sleep(2)
        site.servers["h1"].send_signal(signal.SIGTERM)

    outcome = loaded_while_h1_stops(site, drain_then_stop)
    report(site, "after a drain", outcome)
    load = outcome.load

    assert set(load.statuses) == {200, 201}, load.statuses
    assert outcome.failed_at_balancer == []
    assert load.served_by["h1"] > 0
    assert outcome.stored == set(load.published)
    assert_each_delivery_sent_once(outcome)
