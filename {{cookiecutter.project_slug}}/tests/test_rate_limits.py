"""Rate limits over the key-value store of this bake (keyvalue/), on the tests' endpoints
(tests/probe.py): every operation's throttles work the same way."""

import asyncio
import inspect
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient, Client
from ninja import NinjaAPI
from ninja.operation import AsyncOperation

from keyvalue import Hit, StoreUnavailable, get_store
from ratelimit import limits
from ratelimit.limits import FailOpenLog, parse_rate
from ratelimit.operation import AsyncChecksOperation

from {{ cookiecutter.project_slug }}.api import api

from .conftest import WrittenLines
from .probe import ASYNC_THROTTLES, SYNC_THROTTLES

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_store_counts_hits_in_a_sliding_window() -> None:
    store = get_store()

    first = await store.ahit("window", 3, 1.0)
    await asyncio.sleep(0.6)
    then = [await store.ahit("window", 3, 1.0) for _ in range(3)]
    await asyncio.sleep(0.6)  # the first hit has left the window, the others have not
    later = [await store.ahit("window", 3, 1.0) for _ in range(2)]

    assert first == Hit(True, 0.0)
    assert [hit.allowed for hit in then] == [True, True, False]
    assert 0 < then[-1].retry_after <= 0.4 + 0.1  # when the first hit leaves the window
    assert [hit.allowed for hit in later] == [True, False]


async def test_concurrent_hits_on_the_loop_never_pass_the_limit() -> None:
    hits = await asyncio.gather(*(get_store().ahit("together", 50, 60) for _ in range(200)))

    assert sum(hit.allowed for hit in hits) == 50


def test_concurrent_hits_from_threads_never_pass_the_limit() -> None:
    """As sync operations count: from many threads at once, each read-count-write one step."""
    allowed: list[bool] = []

    def hit_25_times() -> None:
        allowed.extend(get_store().hit("threads", 50, 60).allowed for _ in range(25))

    threads = [threading.Thread(target=hit_25_times) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (len(allowed), sum(allowed)) == (200, 50)


async def test_async_operations_await_their_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ninja checks throttles with a sync call; on the loop that would block every request
    for a round trip to Redis. The async operations here await the store instead."""
    store = get_store()
    awaited: list[str] = []
    real_ahit = store.ahit

    def sync_hit(key: str, limit: int, window: float) -> Hit:
        raise AssertionError("a sync rate-limit check on the event loop")

    async def ahit(key: str, limit: int, window: float) -> Hit:
        awaited.append(key)
        return await real_ahit(key, limit, window)

    monkeypatch.setattr(store, "hit", sync_hit)
    monkeypatch.setattr(store, "ahit", ahit)

    response = await AsyncClient().get("/api/probe/async")

    assert response.status_code == 200
    assert awaited == ["ratelimit:probe-async:127.0.0.1"]


def test_ninjas_checks_are_still_what_the_awaiting_operation_copies() -> None:
    """ratelimit/operation.py copies Ninja's AsyncOperation._run_checks with the throttles
    awaited, and switches the bound routers' operations to it. If Ninja changes either, the
    copy must be reviewed."""
    source = inspect.getsource(AsyncOperation._run_checks)
    for step in (
        "request._ninja_csrf_exempt = True",
        "error = await self._run_authentication(request)",
        "error = self._check_throttles(request)",
    ):
        assert step in source, f"Ninja's _run_checks changed ({step}): review operation.py"
    assert hasattr(NinjaAPI, "_get_bound_routers"), "review ratelimit/operation.py"
    assert all(
        type(operation) is AsyncChecksOperation
        for bound in api._get_bound_routers()
        for path_view in bound.path_operations.values()
        for operation in path_view.operations
        if operation.is_async
    )


async def test_a_failing_store_lets_requests_through_and_logs_it_once(
    monkeypatch: pytest.MonkeyPatch, written_lines: WrittenLines
) -> None:
    async def unavailable(key: str, limit: int, window: float) -> Hit:
        raise StoreUnavailable("Redis counting failed: ConnectionError")

    monkeypatch.setattr(get_store(), "ahit", unavailable)
    monkeypatch.setattr(limits, "fail_open_log", FailOpenLog())
    for throttle in ASYNC_THROTTLES:
        monkeypatch.setattr(throttle, "limit", 1)

    statuses = [(await AsyncClient().get("/api/probe/async")).status_code for _ in range(3)]
    first_lines = [line for line in written_lines() if "failed open" in line]
    limits.fail_open_log.next_line_at = 0  # the interval is over
    await AsyncClient().get("/api/probe/async")
    lines = [line for line in written_lines() if "failed open" in line]

    assert statuses == [200, 200, 200]  # over the limit of 1: nothing could count them
    assert len(first_lines) == 1
    assert "Redis counting failed: ConnectionError" in first_lines[0]
    assert "failed_open=1 since the last line, 1 in all" in first_lines[0]
    assert "failed_open=3 since the last line, 4 in all" in lines[1]


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("100/m", (100, 60)), ("10/s", (10, 1)), ("5/day", (5, 86400)), ("30/5m", (30, 300))],
)
def test_rates_are_read_as_documented(rate: str, expected: tuple[int, float]) -> None:
    assert parse_rate("WRITE_RATE", rate) == expected


@pytest.mark.parametrize("rate", ["100", "0/m", "ten/m", "100/week", "-1/s"])
def test_a_bad_rate_is_a_clear_error(rate: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"WRITE_RATE=.*expected <count>/<period>"):
        parse_rate("WRITE_RATE", rate)


async def test_cached_values_never_push_a_rate_limit_count_out() -> None:
    """The counts live where the cache's churn cannot evict them: a flood of cached values
    (more than the local store keeps) leaves a spent limit spent."""
    store = get_store()
    for _ in range(2):
        assert (await store.ahit("ratelimit:write:1", 2, 60)).allowed

    # Past what the local store keeps; Redis evicts nothing unless told to (README).
    flood = 12_000 if store.name == "local" else 1_000
    for n in range(flood):
        await store.aset(f"flood:{n}", b"x", 60)

    assert not (await store.ahit("ratelimit:write:1", 2, 60)).allowed


def test_a_sync_operation_is_refused_past_its_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sync operation's check (Ninja's allow_request, in the request's thread), on
    whichever store the project was baked with."""
    for throttle in SYNC_THROTTLES:
        monkeypatch.setattr(throttle, "limit", 2)
    client = Client()

    statuses = [client.get("/api/probe/sync").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::7", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("", "unknown"),
    ],
)
def test_ipv6_clients_are_counted_by_their_64(address: str, counted_as: str) -> None:
    assert limits.client_network(address) == counted_as


def test_one_host_rotating_its_ipv6_addresses_shares_one_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for throttle in SYNC_THROTTLES:
        monkeypatch.setattr(throttle, "limit", 2)
    addresses = [f"2001:db8:1:2::{n}" for n in range(1, 4)]
    other_host = "2001:db8:1:3::1"

    statuses = [Client(REMOTE_ADDR=a).get("/api/probe/sync").status_code for a in addresses]

    assert statuses == [200, 200, 429]
    assert Client(REMOTE_ADDR=other_host).get("/api/probe/sync").status_code == 200
