"""Settings for the test suite: the project's own, plus what a test run needs wherever it runs.

The suite must pass both with the .env a bake writes (DEBUG on) and in CI, where there is
no .env and DEBUG is off. So it pins what tests depend on here, and leaves the production
defaults in {{ cookiecutter.project_slug }}/settings.py as they are.
"""

import os
{%- if cookiecutter.database == "sqlite" %}
import tempfile
{%- endif %}
{%- if cookiecutter.cache == "redis" or cookiecutter.database == "sqlite" %}
import uuid
{%- endif %}

# DEBUG off refuses to start without a real key; a clean checkout has none.
os.environ.setdefault("SECRET_KEY", "tests-only-key-" + "t" * 50)
# Every log line written at once, so each test's lines land in that test's captured output
# (with DEBUG off they would wait, and spill out after pytest's summary).
os.environ.setdefault("LOG_FLUSH_INTERVAL", "0")

from {{ cookiecutter.project_slug }}.settings import *  # noqa: F403

# The test client speaks plain HTTP: no redirect to HTTPS (tests of it turn it on).
SECURE_SSL_REDIRECT = False
# The docs' assets straight from the apps' static folders: no collectstatic before a run,
# listed once per process, not once per test client (tests/static_files.py).
SERVESTATIC_USE_FINDERS = True
MIDDLEWARE = [
    "tests.static_files.ListedOnceServeStaticMiddleware"
    if path == "servestatic.middleware.ServeStaticMiddleware"
    else path
    for path in MIDDLEWARE  # noqa: F405
]
# Each readiness probe checks afresh (tests/test_health.py tests the reuse on its own).
READY_CACHE_SECONDS = 0.0
# The project's URLs plus the tests' own endpoints (tests/probe.py), under /api/probe/.
ROOT_URLCONF = "tests.urls"
# The Tasks project's database backend, which tests/test_tasks_swap.py runs the project's
# tasks on: its tables in the test database.
INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]  # noqa: F405
{%- if cookiecutter.database == "sqlite" %}
# The test database in a file of its own (deleted after the run), not in memory: SQLite's
# shared in-memory database refuses a locked table at once ("database table is locked"),
# where a file waits up to its timeout, as in production. Tests run an outbox worker beside
# their own queries.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": os.path.join(tempfile.gettempdir(), f"test-{uuid.uuid4().hex[:12]}.sqlite3")
}
{%- endif %}
{%- if cookiecutter.cache == "redis" %}
# Each run counts and caches under a prefix of its own in the shared Redis (REDIS_URL), and
# each test starts with nothing under it (tests/conftest.py).
# A server a test starts (tests/test_redis.py) is given the test's own.
REDIS_KEY_PREFIX = os.environ.get("TESTS_REDIS_KEY_PREFIX") or f"tests-{uuid.uuid4().hex[:12]}:"
CACHES["default"]["KEY_PREFIX"] = REDIS_KEY_PREFIX  # noqa: F405
{%- endif %}
# Passwords hashed cheaply: Django's PBKDF2 takes about 0.4 s of CPU a hash by design, and the
# account tests hash many. `make bench` measures a login with the project's own hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
