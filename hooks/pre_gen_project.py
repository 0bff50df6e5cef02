"""Validate the answers before anything is written.

A failing check prints one line and exits 1; cookiecutter then removes the
half-made project directory, so a bad answer leaves nothing behind.
"""

import json
import keyword
import re
import sys

# Top-level modules the baked project imports or creates. A slug with one of
# these names would shadow it and break the project in confusing ways.
RESERVED_NAMES = frozenset(
    {
        "accounts",
        "aiosmtpd",
        "allauth",
        "api",
        "asgiref",
        "bench",
        "blog",
        "conftest",
        "corsheaders",
        "cryptography",
        "django",
        "elasticsearch",
        "elastic_transport",
        "environ",
        "hiredis",
        "httpx",
        "keyvalue",
        "manage",
        "mypy",
        "ninja",
        "observability",
        "opentelemetry",
        "outbox",
        "psycopg",
        "prometheus_client",
        "pydantic",
        "pytest",
        "ratelimit",
        "redis",
        "search",
        "sentry_sdk",
        "servestatic",
        "tests",
        "uvicorn",
        "webhooks",
    }
)
SLUG_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def slug_problem(slug: str) -> str | None:
    """Say what is wrong with a project slug, or None when it is fine."""
    if not SLUG_PATTERN.fullmatch(slug):
        return (
            f"project_slug {slug!r} is not a lowercase Python identifier "
            "(letters, digits and underscores, not starting with a digit)"
        )
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        return f"project_slug {slug!r} is a Python keyword"
    if slug in sys.stdlib_module_names:
        return f"project_slug {slug!r} would shadow the standard library module {slug!r}"
    if slug in RESERVED_NAMES:
        return f"project_slug {slug!r} would shadow the module {slug!r} that the project uses"
    return None


def text_problem(field: str, value: str) -> str | None:
    """Free text lands in Python and TOML strings: keep it to one plain line."""
    if not value.strip():
        return f"{field} must not be empty"
    if any(ch in value for ch in '"\\\n'):
        return f"{field} must not contain double quotes, backslashes or line breaks"
    return None


def email_problem(email: str) -> str | None:
    if not EMAIL_PATTERN.fullmatch(email):
        return f"author_email {email!r} is not an email address"
    return None


# Kubernetes names are DNS labels, at most 63 characters: the slug, dashed, plus a suffix
# ("-migrate", the longest) must fit (deploy/k8s/, which comes with use_docker).
KUBERNETES_NAME_ROOM = 63 - len("-migrate")


def kubernetes_problem(answers: dict[str, str]) -> str | None:
    slug = answers["project_slug"]
    if answers["use_docker"] != "yes" or len(slug) <= KUBERNETES_NAME_ROOM:
        return None
    return (
        f"project_slug is {len(slug)} characters long: at most {KUBERNETES_NAME_ROOM} with "
        "use_docker=yes, whose Kubernetes manifests name objects after it (or answer "
        "use_docker=no)"
    )


def examples_problem(answers: dict[str, str]) -> str | None:
    """Search indexes the blog's posts and webhooks announce them: neither stands alone."""
    if answers["use_blog"] == "yes":
        return None
    needing = [name for name in ("use_elasticsearch", "use_webhooks") if answers[name] == "yes"]
    if not needing:
        return None
    return (
        f"use_blog=no needs {' and '.join(f'{option}=no' for option in needing)}: "
        "search and webhooks work on the blog's posts"
    )


def problems(answers: dict[str, str]) -> list[str]:
    found = [
        text_problem("project_name", answers["project_name"]),
        text_problem("description", answers["description"]),
        text_problem("author_name", answers["author_name"]),
        slug_problem(answers["project_slug"]),
        email_problem(answers["author_email"]),
        examples_problem(answers),
        kubernetes_problem(answers),
    ]
    return [problem for problem in found if problem]


def main() -> int:
    # tojson escapes quotes and backslashes, so any answer survives into this string;
    # the JSON holds double quotes, so the formatter must leave the single ones alone.
    # fmt: off
    answers = json.loads(r'{{ cookiecutter | tojson }}')
    # fmt: on
    found = problems(answers)
    for problem in found:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
