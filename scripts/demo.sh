#!/usr/bin/env bash
# Bake a project with every default answer, install it, and serve it on 127.0.0.1:8000.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build"
python=${PYTHON:-python3}

rm -rf "$build/demo"
mkdir -p "$build"
if [ ! -x "$build/venv/bin/cookiecutter" ] || [ ! -x "$build/venv/bin/uv" ]; then
  "$python" -m venv "$build/venv"
  "$build/venv/bin/pip" install --quiet "cookiecutter>=2.6" "uv>=0.6"
fi
export PATH="$build/venv/bin:$PATH"

cookiecutter --no-input --output-dir "$build/demo" "$here"
project=$(find "$build/demo" -mindepth 1 -maxdepth 1 -type d | head -n 1)
slug=$(basename "$project")

# uv downloads the project's Python when it has none; where it cannot, point it at one we have.
version=$(cat "$project/.python-version")
interpreter=$("$python" "$here/scripts/find_python.py" "$version")
if [ -n "$interpreter" ]; then export UV_PYTHON="$interpreter"; fi

cd "$project"
uv sync
uv run python manage.py migrate --no-input
uv run python manage.py seed_posts --count 100

cat <<MSG

Serving $project on http://127.0.0.1:8000 (Ctrl+C stops it). Try:
  http://127.0.0.1:8000/api/docs
  http://127.0.0.1:8000/api/say-async?delay=1&word=hello
  http://127.0.0.1:8000/api/say-sync?delay=1&word=hello
  http://127.0.0.1:8000/api/blog/posts?limit=5
  http://127.0.0.1:8000/api/ready   (shows search failed until ELASTICSEARCH_URL in .env points at a cluster)
  ab -c 100 -n 100 "http://127.0.0.1:8000/api/say-async?delay=3&word=hello"
Accounts: sign up with POST http://127.0.0.1:8000/_allauth/app/v1/auth/signup (the project's
README, "Sign-up, email verification, login, password reset", has the curl walk-through). The
emails it sends (verification, reset) are printed in this server's log: DEBUG is on in .env, and
EMAIL_URL is unset, so they go to the console. Under docker compose they go to Mailpit instead,
http://127.0.0.1:8025.

MSG
exec uv run uvicorn "$slug.asgi:application" --host 127.0.0.1 --port 8000
