"""Django settings for {{ cookiecutter.project_name }}.

Every value comes from the environment (or the git-ignored .env file), read top
to bottom in the order of Django's own settings template.
https://docs.djangoproject.com/en/stable/ref/settings/
"""

import logging
from pathlib import Path
{%- if cookiecutter.use_webhooks == "yes" %}
from urllib.parse import urlsplit
{%- endif %}

import django
import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured
{%- if cookiecutter.use_webhooks == "yes" %}

from webhooks.signing import secret_key
{%- endif %}

# Lets generic Django classes be subscripted at run time (ModelAdmin[Model], QuerySet[Model]).
django_stubs_ext.monkeypatch()

# Paths: BASE_DIR is the directory that holds manage.py.
BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Real environment variables win over .env (read_env only sets what is unset).
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

# SECURITY WARNING: don't run with debug turned on in production! Off unless set.
DEBUG = env.bool("DEBUG", default=False)

# SECURITY WARNING: keep the secret key used in production secret!
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY or SECRET_KEY.startswith("change-me"):
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is missing or still the placeholder. Set it in the environment "
            "or in .env (DEBUG is off, so no development key is used)."
        )
    SECRET_KEY = "django-insecure-development-only-key"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Browsers on these other origins (a front end on its own host) may call the API, with
# their cookies: none by default. A session POST from there also needs the origin in
# CSRF_TRUSTED_ORIGINS; a bearer token needs only this.
# https://github.com/adamchainz/django-cors-headers
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_CREDENTIALS = True  # for the origins above only
CORS_URLS_REGEX = r"^/api/"

# HTTPS: on unless DEBUG. uvicorn's --proxy-headers takes the scheme from a trusted proxy's
# X-Forwarded-Proto, so Django sees https behind a TLS-terminating proxy without more setup.
# https://docs.djangoproject.com/en/stable/howto/deployment/checklist/
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Health checks come from load balancers and container runtimes over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^api/ready$"]
# SECURITY WARNING: HSTS makes browsers refuse plain HTTP to this host (and, with
# INCLUDE_SUBDOMAINS, to every subdomain) for SECURE_HSTS_SECONDS after a visit; it cannot
# be taken back sooner. The defaults keep `check --deploy` clean with a short max-age: raise
# SECURE_HSTS_SECONDS (31536000, a year) once every subdomain serves HTTPS. If some
# subdomain must stay plain HTTP, set SECURE_HSTS_INCLUDE_SUBDOMAINS=false; to turn HSTS
# off, SECURE_HSTS_SECONDS=0. PRELOAD only marks the header: nothing is preloaded until
# you submit the domain at https://hstspreload.org (which needs a year's max-age).
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)

# Applications
# https://docs.djangoproject.com/en/stable/ref/settings/#installed-apps
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "servestatic",
{%- if cookiecutter.python_version == "3.11" %}
    "django_tasks",  # the Tasks framework's backport (outbox/compat.py)
{%- endif %}
    "corsheaders",
    # Ninja in INSTALLED_APPS serves the API docs' assets as static files, not from a CDN.
    "ninja",
    "{{ cookiecutter.project_slug }}",
    "accounts",
    "allauth",
    "allauth.account",
    "allauth.headless",
{%- if cookiecutter.use_blog == "yes" %}
    "blog",
{%- endif %}
    "outbox",
    # After outbox: at shutdown its worker stops first, then the last spans are sent.
    "observability",
{%- if cookiecutter.use_webhooks == "yes" %}
    "webhooks",
{%- endif %}
{%- if cookiecutter.use_elasticsearch == "yes" %}
    "search",
{%- endif %}
    # Apps made with `make app` go above this line.
]

# Django's stock middleware, subclassed in runtime/middleware.py to run its hooks on the event loop:
# the stock classes would hop to a thread and back twice each, on every async request.
# https://docs.djangoproject.com/en/stable/topics/http/middleware/#async-middleware
# Where each class of runtime/middleware.py comes from in Django.
STOCK_MIDDLEWARE_MODULES = {
    "SecurityMiddleware": "django.middleware.security.",
    "SessionMiddleware": "django.contrib.sessions.middleware.",
    "CommonMiddleware": "django.middleware.common.",
    "CsrfViewMiddleware": "django.middleware.csrf.",
    "AuthenticationMiddleware": "django.contrib.auth.middleware.",
    "MessageMiddleware": "django.contrib.messages.middleware.",
    "XFrameOptionsMiddleware": "django.middleware.clickjacking.",
}
MIDDLEWARE = [
    # First, so that its access-log line times the whole stack and every line has a request id.
    "{{ cookiecutter.project_slug }}.runtime.request_log.RequestLogMiddleware",
    # Every error under /api/ answers JSON, Django's own 404/405/400 pages included.
    "{{ cookiecutter.project_slug }}.runtime.json_errors.JsonErrorsMiddleware",
    # Natively async; before CommonMiddleware, so that its answers carry the CORS headers too.
    "corsheaders.middleware.CorsMiddleware",
    "{{ cookiecutter.project_slug }}.runtime.middleware.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "{{ cookiecutter.project_slug }}.runtime.middleware.SessionMiddleware",
    "{{ cookiecutter.project_slug }}.runtime.middleware.CommonMiddleware",
    "{{ cookiecutter.project_slug }}.runtime.middleware.CsrfViewMiddleware",
    "{{ cookiecutter.project_slug }}.runtime.middleware.AuthenticationMiddleware",
    # allauth's: sync and async (no hop to a thread), it only sets a context variable.
    "allauth.account.middleware.AccountMiddleware",
    "{{ cookiecutter.project_slug }}.runtime.middleware.MessageMiddleware",
    "{{ cookiecutter.project_slug }}.runtime.middleware.XFrameOptionsMiddleware",
]
# Django's deploy checks look for the stock class names; runtime/checks.py runs them for
# the subclasses.
# STOCK_MIDDLEWARE: Django's own classes instead of runtime/middleware.py's subclasses
# (a way back if a Django upgrade breaks them; see docs/stock-fallbacks.md).
STOCK_MIDDLEWARE = env.bool("STOCK_MIDDLEWARE", default=False)
if STOCK_MIDDLEWARE:
    MIDDLEWARE = [
        path.replace(
            "{{ cookiecutter.project_slug }}.runtime.middleware.",
            STOCK_MIDDLEWARE_MODULES.get(path.rsplit(".", 1)[1], ""),
        )
        for path in MIDDLEWARE
    ]

# Observability (README: Observability). Each part is off until its setting is given.
# Traces: on when an OTLP endpoint is set; the SDK reads the other OTEL_* variables
# (OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, ...). https://opentelemetry.io/docs/languages/sdk-configuration/
TRACING = bool(
    env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
    or env.str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", default="")
) and not env.bool("OTEL_SDK_DISABLED", default=False)
TRACING_SERVICE_NAME = "{{ cookiecutter.project_slug }}"  # unless OTEL_SERVICE_NAME says
# Paths that make no trace: what probes and scrapers call every few seconds.
TRACING_EXCLUDED_PATHS = env.list(
    "TRACING_EXCLUDED_PATHS", default=["/api/health", "/api/ready", "/metrics"]
)
# Metrics for Prometheus at /metrics, to whoever sends `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_SAMPLE_SECONDS = env.float("METRICS_SAMPLE_SECONDS", default=15.0)
if TRACING or METRICS_TOKEN:
    # Second: names the server span by its route, counts and times what the log line times.
    MIDDLEWARE.insert(1, "observability.middleware.RequestTelemetryMiddleware")
# Errors to Sentry (or any service that takes its envelopes), without personal data.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
if SENTRY_DSN:
    from observability.error_tracking import start_error_tracking

    start_error_tracking(SENTRY_DSN, environment=SENTRY_ENVIRONMENT, release=SENTRY_RELEASE)

SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "{{ cookiecutter.project_slug }}.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "{{ cookiecutter.project_slug }}.asgi.application"
WSGI_APPLICATION = "{{ cookiecutter.project_slug }}.wsgi.application"

# Users: the project's own model from the first migration (accounts/models.py).
# https://docs.djangoproject.com/en/stable/topics/auth/customizing/#substituting-a-custom-user-model
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",  # the admin's login, by username
    "allauth.account.auth_backends.AuthenticationBackend",  # the API's, by email or username
]

# Accounts: django-allauth's headless API under /_allauth/ (sign-up, email verification,
# login to a bearer token, password reset), for app and browser clients. accounts/README.md.
# https://docs.allauth.org/en/latest/headless/configuration.html
HEADLESS_ONLY = True
HEADLESS_CLIENTS = ("app", "browser")
HEADLESS_TOKEN_STRATEGY = "accounts.headless.ApiTokenStrategy"
HEADLESS_SERVE_SPECIFICATION = True
# Where the links in the emails lead: your front end's pages, which take the key from the
# URL and post it to the API.
FRONTEND_URL = env.str("FRONTEND_URL", default="http://localhost:3000")
HEADLESS_FRONTEND_URLS = {
    "account_confirm_email": FRONTEND_URL + "/account/verify-email/{key}",
    # In the email to an address that signs up again: "forgot your password?".
    "account_reset_password": FRONTEND_URL + "/account/password/reset",
    "account_reset_password_from_key": FRONTEND_URL + "/account/password/reset/key/{key}",
    "account_signup": FRONTEND_URL + "/account/signup",
}
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
# Sign-up and reset answer the same whether or not the address has an account.
ACCOUNT_PREVENT_ENUMERATION = True
# A token a login makes lives this many days (a named one from /api/me/tokens: its own).
LOGIN_TOKEN_DAYS = env.int("LOGIN_TOKEN_DAYS", default=30)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Email: sent by a background task (accounts/mail.py), never in the request. EMAIL_URL:
# smtp://user:password@host:587 (smtp+tls://, smtp+ssl://), consolemail:// (the log: the
# default with DEBUG on; off, Django's own default, an SMTP server on localhost:25).
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-email-url
# Lowercase names here are not settings: Django reads the uppercase ones only.
email = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
# The console's emails with each line whole (console_mail.py), so that a link can be copied.
if email["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend":
    email["EMAIL_BACKEND"] = "{{ cookiecutter.project_slug }}.console_mail.EmailBackend"
email_timeout = env.float("EMAIL_TIMEOUT", default=10.0)  # a hung server fails the attempt
if django.VERSION >= (6, 1):  # MAILERS replaces the EMAIL_* settings
    smtp_options = {
        "EMAIL_HOST": "host",
        "EMAIL_PORT": "port",
        "EMAIL_HOST_USER": "username",
        "EMAIL_HOST_PASSWORD": "password",
        "EMAIL_USE_TLS": "use_tls",
        "EMAIL_USE_SSL": "use_ssl",
    }
    options = {option: email[name] for name, option in smtp_options.items() if name in email}
    smtp = email["EMAIL_BACKEND"].endswith(".smtp.EmailBackend")
    MAILERS = {
        "default": {
            "BACKEND": email["EMAIL_BACKEND"],
            "OPTIONS": {**options, "timeout": email_timeout} if smtp else {},
        }
    }
else:
    vars().update(email, EMAIL_TIMEOUT=email_timeout)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")

# Database
# https://docs.djangoproject.com/en/stable/ref/settings/#databases
{%- if cookiecutter.database == "postgresql" %}
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/{{ cookiecutter.project_slug }}"
{%- else %}
DEFAULT_DATABASE_URL = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
{%- endif %}
DATABASES = {"default": env.db("DATABASE_URL", default=DEFAULT_DATABASE_URL)}
{%- if cookiecutter.database == "sqlite" %}
# SQLite tuned for a web server. WAL: reads go on while a write commits. IMMEDIATE: a
# transaction takes the write lock when it begins, so concurrent writers queue for up to
# `timeout` seconds instead of failing midway with "database is locked" (past it: a 503).
# synchronous=NORMAL is safe with WAL: a power cut may lose the last commits, never the
# file. One writer at a time, on one host: move to PostgreSQL (DATABASE_URL) when writes
# queue for long or the app runs on several machines.
# https://docs.djangoproject.com/en/stable/ref/databases/#sqlite-notes
# The URL's own options (?timeout=..., or sslmode=require on a PostgreSQL URL) are kept:
# these are merged under them, and only when the URL is SQLite's.
STOCK_SQLITE_BACKEND = env.bool("STOCK_SQLITE_BACKEND", default=False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        "transaction_mode": "IMMEDIATE",
        "timeout": env.float("DATABASE_TIMEOUT", default=20.0),
        **DATABASES["default"].get("OPTIONS", {}),
    }
    # The stock backend, with writers of one process queued fairly (sqlite/base.py), unless
    # STOCK_SQLITE_BACKEND (a way back if a Django upgrade breaks it; docs/stock-fallbacks.md).
    if not STOCK_SQLITE_BACKEND:
        DATABASES["default"]["ENGINE"] = "{{ cookiecutter.project_slug }}.runtime.sqlite"
{%- endif %}
{%- if cookiecutter.database == "postgresql" %}
# Connections come from psycopg's pool (Django >= 5.1), shared by the request threads.
# Requests past max_size wait up to `timeout` seconds for a connection, then answer 503.
# A server that accepts and never answers costs at most connect_timeout per connection
# attempt; a statement that runs past statement_timeout is cancelled by the server.
# Merged with the URL's own options (sslmode=require, as managed services hand them out),
# which win: assigning over them would drop TLS without a word.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        },
        "connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=5),
        "options": "-c statement_timeout="
        + str(env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=30000)),
        **DATABASES["default"].get("OPTIONS", {}),
    }
{%- endif %}
# STOCK_ASGI_HANDLER: Django's own ASGIHandler instead of runtime/handler.py's, which leans on
# Django and asgiref internals (a way back if an upgrade breaks it; docs/stock-fallbacks.md).
# Each request then starts threads of its own again.
STOCK_ASGI_HANDLER = env.bool("STOCK_ASGI_HANDLER", default=False)
# Idle request threads kept for reuse (runtime/handler.py): a request takes one when it
# first runs sync code (an ORM call, a sync view). Past this many at once, a request gets a
# thread of its own, ended after it, so sync views stay concurrent however many there are.
ASGI_THREADS_KEPT = env.int("ASGI_THREADS_KEPT", default=64)
{%- if cookiecutter.database == "sqlite" %}
# Request threads are reused (runtime/handler.py), so each may keep its connection between
# requests: at most ASGI_THREADS_KEPT connections, and a database read costs about a third
# less CPU than with a new connection per request (the template's bench: 1300 -> 875 us).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
{%- else %}
# psycopg's pool already keeps connections between requests (Django refuses both at once).
DATABASES["default"]["CONN_MAX_AGE"] = 0
{%- endif %}
# ATOMIC_REQUESTS stays off: Django refuses it for async views.
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache, rate-limit counts{% if cookiecutter.use_blog == "yes" %} and the post list's cache{% endif %} (keyvalue/).
# https://docs.djangoproject.com/en/stable/topics/cache/
{%- if cookiecutter.cache == "redis" %}
# On Redis, shared by every worker and replica: a client is limited once, whatever process
# serves it. Every call waits at most REDIS_TIMEOUT seconds; past it (or with Redis down)
# rate limits let the request through, logged, and caches miss: Redis is not an outage.
# After a failure, calls skip Redis for REDIS_RETRY_INTERVAL seconds.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="{{ cookiecutter.project_slug }}:")
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=0.25)
REDIS_RETRY_INTERVAL = env.float("REDIS_RETRY_INTERVAL", default=1.0)
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=50)  # per process and loop
# Seconds a call may wait for a free connection in a burst (not a Redis failure: the checks
# take turns, and REDIS_TIMEOUT starts once a call has its connection).
REDIS_QUEUE_TIMEOUT = env.float("REDIS_QUEUE_TIMEOUT", default=2.0)
KEYVALUE_STORE = "keyvalue.redis_store.RedisStore"
CACHES = {
    "default": {
        # Django's Redis backend, with Redis's failures read as misses (keyvalue/django_cache.py).
        "BACKEND": "keyvalue.django_cache.FailSoftRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "OPTIONS": {
            "max_connections": REDIS_MAX_CONNECTIONS,
            "socket_timeout": REDIS_TIMEOUT,
            "socket_connect_timeout": REDIS_TIMEOUT,
        },
    }
}
# Sessions read from Redis, written through to the database: a dead Redis costs a query.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Whether GET /api/ready answers 503 when Redis does not answer (the check is shown either
# way). Off: the API serves without Redis, only less strictly limited.
READY_REQUIRES_CACHE = env.bool("READY_REQUIRES_CACHE", default=False)
{%- else %}
# In this process's memory: nothing to run, but each worker process counts and caches
# alone (2 workers let through twice a rate limit). Bake with cache=redis to share them.
KEYVALUE_STORE = "keyvalue.local.LocalStore"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
{%- endif %}

# Internationalization
# https://docs.djangoproject.com/en/stable/topics/i18n/
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files, served by servestatic (ASGI-native) from STATIC_ROOT after collectstatic;
# in DEBUG straight from the apps' static folders.
# https://docs.djangoproject.com/en/stable/howto/static-files/
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
SERVESTATIC_USE_FINDERS = DEBUG
SERVESTATIC_AUTOREFRESH = DEBUG

# Logging: JSON lines (one access line per request, each line with its request id), or a
# console format for local development.
# https://docs.djangoproject.com/en/stable/topics/logging/
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# Lines are written in batches, at the latest this many seconds after they were logged;
# WARNING and worse at once (see runtime/log_stream.py). 0: every line at once.
LOG_FLUSH_INTERVAL = env.float("LOG_FLUSH_INTERVAL", default=0.0 if DEBUG else 0.5)
REQUEST_LOG = "{{ cookiecutter.project_slug }}.runtime.request_log"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": f"{REQUEST_LOG}.RequestIdFilter"}},
    "formatters": {
        "json": {"()": f"{REQUEST_LOG}.JsonFormatter"},
        "console": {
            "()": f"{REQUEST_LOG}.ConsoleFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "default": {
            "()": "{{ cookiecutter.project_slug }}.runtime.log_stream.BatchedStreamHandler",
            "interval": LOG_FLUSH_INTERVAL,
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
        # The server's own few lines at once: its last ones ("Application shutdown
        # complete.") come after the final flush, and would otherwise be lost.
        "server": {
            "()": "{{ cookiecutter.project_slug }}.runtime.log_stream.BatchedStreamHandler",
            "interval": 0,
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["default"], "level": LOG_LEVEL},
    "loggers": {
        # Django's handlers would print its records a second time; uvicorn's own lines
        # ("Started server process", ...) get the same format as ours.
        "django": {"handlers": ["default"], "level": LOG_LEVEL, "propagate": False},
        "uvicorn": {"handlers": ["server"], "level": LOG_LEVEL, "propagate": False},
        # The app logs one access line per request (runtime/request_log.py): not uvicorn's too.
        "uvicorn.access": {"handlers": [], "propagate": False},
{%- if cookiecutter.use_webhooks == "yes" %}
        # httpx logs each request's full URL at INFO: webhook receivers' URLs hold tokens.
        "httpx": {"level": "WARNING"},
{%- endif %}
{%- if cookiecutter.use_elasticsearch == "yes" %}
        # The client logs a line per engine request and a traceback per retry; search/errors.py
        # and the task worker log each failure once, without the internals.
        "elastic_transport": {"level": "ERROR"},
{%- endif %}
        # Django logs every task's start and end at INFO, a retry included: two lines for each
        # change that asks for a task. The worker logs what matters (outbox/outages.py, and
        # tasks given up on).
{%- if cookiecutter.python_version == "3.11" %}
        "django_tasks": {"level": "WARNING"},
{%- else %}
        "django.tasks": {"level": "WARNING"},
{%- endif %}
    },
}
# Python's warnings too ("No directory at: staticfiles/"), as log lines in the same format.
logging.captureWarnings(True)
# No format here prints a record's thread: skip looking it up, a few microseconds per
# record (logging HOWTO, "Optimization"). Drop this line if you add %(threadName)s to a
# format. The process id stays: gunicorn's own format prints it.
logging.logThreads = logging.logMultiprocessing = False

# The API's own settings.
{%- if cookiecutter.use_say_after == "yes" %}
# Requests per client IP to each say-after endpoint ("600/m"; empty: no limit), counted in
# the key-value store above (ratelimit/).
SAY_AFTER_RATE = env.str("SAY_AFTER_RATE", default="600/m")
{%- endif %}
# The client IP is REMOTE_ADDR, which uvicorn --proxy-headers sets from trusted proxies only;
# never a client-sent X-Forwarded-For.
NINJA_NUM_PROXIES = 0
# Writes (create, edit, publish, delete) per signed-in user ("60/m"; empty: no limit), counted
# in the key-value store above (ratelimit/).
WRITE_RATE = env.str("WRITE_RATE", default="60/m")
# Bytes a request body may have; past it, 413 before the body is read (runtime/body_limit.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("REQUEST_BODY_MAX_BYTES", default=1024 * 1024)
# The admin's bound instead, for its file uploads (Django spools files to disk).
ADMIN_UPLOAD_MAX_BYTES = env.int("ADMIN_UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
# Seconds each dependency gets to answer GET /api/ready, and seconds an answer is reused
# (the probe is public: at most one run of its checks per process in that time).
READY_CHECK_TIMEOUT = env.float("READY_CHECK_TIMEOUT", default=2.0)
READY_CACHE_SECONDS = env.float("READY_CACHE_SECONDS", default=1.0)
{%- if cookiecutter.use_say_after == "yes" %}
# Upper bound (seconds) for ?delay= of the say-after endpoints.
SAY_AFTER_MAX_DELAY = env.float("SAY_AFTER_MAX_DELAY", default=10.0)
# Seconds between keep-alive comments of /api/say-stream while it waits (proxies close a
# connection that stays silent too long).
SAY_STREAM_KEEP_ALIVE = env.float("SAY_STREAM_KEEP_ALIVE", default=15.0)
{%- endif %}
{%- if cookiecutter.use_blog == "yes" %}
# Seconds anonymous callers' pages of GET /api/blog/posts are cached (blog/cache.py); 0: off.
POST_LIST_CACHE_SECONDS = env.float("POST_LIST_CACHE_SECONDS", default=2.0)
{%- endif %}

# Background work: Django's Tasks framework, run by the outbox (outbox/backend.py), which
# writes each task in the transaction that enqueues it. A worker runs them in every server
# process, started by the ASGI lifespan. Turn it off where another process runs
# `manage.py tasks --work` (WSGI servers have no lifespan). Point BACKEND at another
# engine's backend to run the tasks there instead (docs/outbox.md).
OUTBOX_WORKER = env.bool("OUTBOX_WORKER", default=True)
# Seconds between looks at the table; a task committed in the same process wakes its worker
# at once.
OUTBOX_POLL_INTERVAL = env.float("OUTBOX_POLL_INTERVAL", default=1.0)
# A failed task is retried after about 1, 2, 4 ... seconds, at most this many apart.
OUTBOX_MAX_RETRY_DELAY = env.float("OUTBOX_MAX_RETRY_DELAY", default=60.0)
# Seconds finished tasks are kept (their results), and failed ones (for the admin and
# `--retry-failed`), counted from when they finished.
OUTBOX_KEEP_DONE = env.float("OUTBOX_KEEP_DONE", default=24 * 3600.0)
OUTBOX_KEEP_FAILED = env.float("OUTBOX_KEEP_FAILED", default=30 * 24 * 3600.0)
# A task that keeps failing (a dependency that is down) is logged when it starts, then as a
# summary every this many seconds, then when it works again (outbox/outages.py).
OUTBOX_OUTAGE_SUMMARY = env.float("OUTBOX_OUTAGE_SUMMARY", default=300.0)
TASKS = {"default": {"BACKEND": "outbox.backend.OutboxBackend"}}
# Tasks a worker runs at once: async ones on its event loop, sync ones in the loop's thread
# pool (which bounds them further). Small tasks run best many at once: their claims and
# outcomes are written per batch{% if cookiecutter.use_elasticsearch == "yes" %}, and indexing tasks share one bulk request
# (search/batches.py): at 10, a post was searchable 2 s after its 201 under 220 writes/s; at
# 100, 0.25 s{% endif %}.
TASKS_CONCURRENCY = env.int("TASKS_CONCURRENCY", default=100)
# Seconds past a task's timeout before a worker that went silent loses it (its time to write
# the outcome); then another worker runs the task again.
TASKS_LEASE_MARGIN = env.float("TASKS_LEASE_MARGIN", default=30.0)
# Seconds a stopping worker lets the attempts under way finish before it hands them back
# (deploy/k8s adds them to the pods' grace period).
TASKS_STOP_GRACE = env.float("TASKS_STOP_GRACE", default=5.0)
{%- if cookiecutter.use_webhooks == "yes" %}

# Webhooks (webhooks/): when posts are published, each URL here gets a signed JSON POST
# (comma-separated http(s) URLs; empty: off). A task per delivery, enqueued with the
# publish, retried until WEBHOOK_MAX_AGE seconds; signed with WEBHOOK_SECRET.
WEBHOOK_URLS = env.list("WEBHOOK_URLS", default=[])
WEBHOOK_SECRET = env.str("WEBHOOK_SECRET", default="")
for position, url in enumerate(WEBHOOK_URLS, start=1):
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Not the URL itself: receivers' URLs often hold a token.
        raise ImproperlyConfigured(
            f"WEBHOOK_URLS entry {position} is not an http(s) URL (scheme {parts.scheme!r})"
        )
if WEBHOOK_URLS:
    try:
        secret_key(WEBHOOK_SECRET)  # Standard Webhooks' whsec_<base64>: webhooks/signing.py
    except ValueError as why:
        raise ImproperlyConfigured(
            f"WEBHOOK_URLS is set: WEBHOOK_SECRET {why} "
            "(`manage.py webhooks --new-secret` makes one)"
        ) from None
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=5.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=10.0)
WEBHOOK_CONCURRENCY = env.int("WEBHOOK_CONCURRENCY", default=10)
WEBHOOK_MAX_AGE = env.float("WEBHOOK_MAX_AGE", default=24 * 3600.0)
{%- endif %}
{%- if cookiecutter.use_elasticsearch == "yes" %}

# Elasticsearch {{ cookiecutter.elasticsearch_version }}.x, for search/ (the client's major matches the server's).
# https://elasticsearch-py.readthedocs.io/
ELASTICSEARCH_URL = env.list("ELASTICSEARCH_URL", default=["http://127.0.0.1:9200"])
ELASTICSEARCH_API_KEY = env.str("ELASTICSEARCH_API_KEY", default="")
ELASTICSEARCH_CA_CERTS = env.str("ELASTICSEARCH_CA_CERTS", default="")
ELASTICSEARCH_TIMEOUT = env.float("ELASTICSEARCH_TIMEOUT", default=5.0)
ELASTICSEARCH_MAX_RETRIES = env.int("ELASTICSEARCH_MAX_RETRIES", default=2)
DEFAULT_SEARCH_INDEX = "{{ cookiecutter.project_slug }}-posts"
ELASTICSEARCH_INDEX = env.str("ELASTICSEARCH_INDEX", default=DEFAULT_SEARCH_INDEX)
# elastic_transport's node class: a name ("aiohttp") or a dotted path.
ELASTICSEARCH_NODE_CLASS = env.str("ELASTICSEARCH_NODE_CLASS", default="aiohttp")
# Bounds of GET /api/search: query_string lets a caller send expensive queries.
SEARCH_MAX_QUERY_LENGTH = env.int("SEARCH_MAX_QUERY_LENGTH", default=256)
SEARCH_MAX_SIZE = env.int("SEARCH_MAX_SIZE", default=50)
# Whether GET /api/ready answers 503 while the cluster does not answer (shown either way).
# Off: the rest of the API serves without it; /api/search answers 503 meanwhile.
READY_REQUIRES_SEARCH = env.bool("READY_REQUIRES_SEARCH", default=False)
{%- endif %}
