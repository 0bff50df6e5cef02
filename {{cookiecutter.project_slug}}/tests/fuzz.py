"""`make fuzz`: Schemathesis against this project, served by uvicorn as in production.

Schemathesis reads /api/openapi.json and sends generated requests, valid and not, to
every operation for a bounded time, checking: no 5xx, only documented statuses, answers
that match their schemas and content types, invalid input refused, wrong methods a 405.
Then allauth's document (/_allauth/openapi.json), for half that time: no 5xx.
It runs against a scratch database (FUZZ_DATABASE_URL, by default a temporary SQLite
file; point it at a scratch PostgreSQL database to fuzz that), with throttles off.
{%- if cookiecutter.use_say_after == "yes" %}
Say-after delays are capped at 0.05 s.
{%- endif %}
{%- if cookiecutter.use_elasticsearch == "yes" %}
Search runs on the in-memory engine the tests use.
{%- endif %}

    uv run --group fuzz python -m tests.fuzz [--max-time SECONDS] [schemathesis options]
"""

import argparse
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
{%- if cookiecutter.use_elasticsearch == "yes" %}

from tests.search.engine import running_engine
{%- endif %}

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT_SLUG = "{{ cookiecutter.project_slug }}"
CONFIG = PROJECT_DIR / "tests/schemathesis.toml"


MAKE_TOKENS = """
from accounts.models import User
from accounts.tokens import issue_token
fuzzer, _ = User.objects.get_or_create(username="fuzzer", is_staff=True)
spare, _ = User.objects.get_or_create(username="fuzzer-spare")
print(issue_token(fuzzer, name="fuzz")[1])
print(issue_token(spare, name="fuzz")[1])
print(issue_token(spare, name="to revoke")[0].pk)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=1)
            return
        time.sleep(0.2)
    sys.exit(f"the server did not answer within 60 s:\n{log.read_text()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=120, help="seconds of fuzzing")
    options, schemathesis_args = parser.parse_known_args()

    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fuzz-")))
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": f"{PROJECT_SLUG}.settings",
            "DATABASE_URL": os.environ.get(
                "FUZZ_DATABASE_URL", f"sqlite:///{scratch / 'fuzz.sqlite3'}"
            ),
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SECURE_SSL_REDIRECT": "false",
            "WRITE_RATE": "",
{%- if cookiecutter.use_say_after == "yes" %}
            "SAY_AFTER_RATE": "",
            "SAY_AFTER_MAX_DELAY": "0.05",
{%- endif %}
            "LOG_FLUSH_INTERVAL": "0",
            "EMAIL_URL": "consolemail://",  # the account flows' emails, in the server's log
        }
{%- if cookiecutter.use_elasticsearch == "yes" %}
        # The in-memory engine the tests use, and its index.
        env["ELASTICSEARCH_URL"] = stack.enter_context(running_engine())
        env["ELASTICSEARCH_NODE_CLASS"] = "tests.search.engine.PlainMediaTypeNode"
{%- endif %}
        manage(env, "migrate", "--no-input")
{%- if cookiecutter.use_elasticsearch == "yes" %}
        manage(env, "search_index", "--rebuild")
{%- endif %}
        # The fuzzer's token, and a second user's two: one to call the revoking operation
        # with, one for it to revoke (tests/schemathesis.toml).
        env["FUZZ_TOKEN"], env["FUZZ_SPARE_TOKEN"], target = manage(
            env, "shell", "-c", MAKE_TOKENS
        ).split()[-3:]
        # The id goes in as a number: Schemathesis reads a ${...} placeholder as a string, and
        # a string id as an invalid request.
        config = scratch / "schemathesis.toml"
        config.write_text(CONFIG.read_text().replace('"${FUZZ_TARGET_TOKEN_ID}"', target))

        port = free_port()
        log = scratch / "server.log"
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", f"{PROJECT_SLUG}.asgi:application"),
                *("--port", str(port), "--no-access-log"),
            ],
            cwd=PROJECT_DIR,
            env=env,
            stdout=stack.enter_context(log.open("w")),
            stderr=subprocess.STDOUT,
        )
        stack.callback(server.wait, 30)
        stack.callback(server.terminate)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/api/health", server, log)

        def schemathesis(config: Path, document: str, *args: str) -> int:
            run = [str(Path(sys.executable).with_name("schemathesis")), "--config-file"]
            command = [*run, str(config), "run", document, "--no-color", *args]
            return subprocess.run(command, cwd=scratch, env=env, check=False).returncode

        failed = schemathesis(
            config,
            f"{base}/api/openapi.json",
            *("--checks", "all"),
            *("--max-time", str(options.max_time)),
            *schemathesis_args,
        )
        # allauth's document is generic: it lists endpoints this project does not turn on
        # (phone numbers, login by code, token refresh) and leaves out the statuses around
        # them (CSRF's 403, the rate limits' 429). So on it, the one check that holds
        # whatever a document says: no 5xx. Its warnings (calls without a session) are
        # what it expects.
        accounts_config = scratch / "accounts.toml"
        accounts_config.write_text("warnings = false\n")
        failed |= schemathesis(
            accounts_config,
            f"{base}/_allauth/openapi.json",
            *("--url", base),
            *("--checks", "not_a_server_error"),
            *("--max-time", str(max(options.max_time // 2, 10))),
            *schemathesis_args,
        )
        if failed:
            errors = [line for line in log.read_text().splitlines() if '"ERROR"' in line]
            print("\nServer errors during the run:", *errors[-20:], sep="\n")
        return failed


if __name__ == "__main__":
    sys.exit(main())
