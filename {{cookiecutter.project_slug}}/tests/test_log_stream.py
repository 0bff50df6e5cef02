"""The batched log handler: lines wait, then arrive together, in order, and none is lost."""

import io
import logging
import os
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from {{ cookiecutter.project_slug }}.asgi import application
from {{ cookiecutter.project_slug }}.runtime.log_stream import BatchedStreamHandler


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("test_log_stream")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger
    logger.handlers.clear()


def attach(logger: logging.Logger, stream: io.StringIO, **options: Any) -> BatchedStreamHandler:
    handler = BatchedStreamHandler(stream, **options)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    return handler


def test_lines_wait_for_a_flush_then_arrive_in_order(
    logger: logging.Logger, stream: io.StringIO
) -> None:
    handler = attach(logger, stream, interval=60)
    logger.info("one")
    logger.info("two")

    assert stream.getvalue() == ""
    handler.flush()
    assert stream.getvalue() == "INFO one\nINFO two\n"


def test_a_warning_is_written_at_once_after_what_led_to_it(
    logger: logging.Logger, stream: io.StringIO
) -> None:
    attach(logger, stream, interval=60)
    logger.info("before")
    logger.warning("trouble")

    assert stream.getvalue() == "INFO before\nWARNING trouble\n"


def test_a_full_batch_is_written_at_once(logger: logging.Logger, stream: io.StringIO) -> None:
    attach(logger, stream, interval=60, capacity=3)
    for word in ("a", "b", "c", "d"):
        logger.info(word)

    assert stream.getvalue() == "INFO a\nINFO b\nINFO c\n"


def test_the_flusher_thread_writes_without_being_asked(
    logger: logging.Logger, stream: io.StringIO
) -> None:
    attach(logger, stream, interval=0.05)
    logger.info("later")

    deadline = time.monotonic() + 10
    while stream.getvalue() == "" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue() == "INFO later\n"


def test_interval_zero_writes_every_line_at_once(
    logger: logging.Logger, stream: io.StringIO
) -> None:
    attach(logger, stream, interval=0)
    logger.info("now")

    assert stream.getvalue() == "INFO now\n"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_does_not_write_its_parents_lines_again(
    logger: logging.Logger, stream: io.StringIO
) -> None:
    handler = attach(logger, stream, interval=60)
    logger.info("parent")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # forking with threads around
        pid = os.fork()
    if pid == 0:
        handler.flush()  # without the at-fork reset, this writes the parent's line again
        os._exit(0 if stream.getvalue() == "" else 1)
    _, status = os.waitpid(pid, 0)
    handler.flush()

    assert os.waitstatus_to_exitcode(status) == 0
    assert stream.getvalue() == "INFO parent\n"


async def test_lifespan_shutdown_writes_what_is_waiting(
    logger: logging.Logger, stream: io.StringIO
) -> None:
    # uvicorn re-raises SIGTERM after shutting down, so logging's atexit flush never runs.
    attach(logger, stream, interval=60)
    logger.info("last words")
    messages = iter([{"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, str]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        assert message["type"] == "lifespan.shutdown.complete"

    await application({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)

    assert stream.getvalue() == "INFO last words\n"


class BrokenPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError("the reader went away")


def test_a_broken_stream_does_not_break_the_caller(
    logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    attach(logger, BrokenPipe(), interval=0)

    logger.info("into the void")  # must not raise

    assert "BrokenPipeError" in capsys.readouterr().err


def test_lines_waiting_for_a_closed_stream_are_dropped_quietly(
    logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    # pytest closes its capture stream before logging's exit flush: no traceback then.
    stream = io.StringIO()
    handler = attach(logger, stream, interval=60)
    logger.info("still waiting")
    stream.close()

    handler.flush()

    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("options", [{"interval": -1}, {"capacity": 0}])
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="need interval >= 0 and capacity >= 1"):
        BatchedStreamHandler(io.StringIO(), **options)
