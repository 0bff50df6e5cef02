"""Finish the baked project: write .env, say what to do next.

Runs inside the new project directory. No network, no installs.
"""

import secrets
from pathlib import Path

SECRET_KEY_PLACEHOLDER = "change-me"


def generate_secret_key() -> str:
    # URL-safe characters only: no "$" or "#" for .env parsers to interpolate or cut.
    return secrets.token_urlsafe(50)


def write_env_file(project: Path) -> None:
    """Copy .env.example to .env with a fresh SECRET_KEY (.env is git-ignored)."""
    lines = (project / ".env.example").read_text().splitlines()
    written = [
        f"SECRET_KEY={generate_secret_key()}"
        if line.startswith(f"SECRET_KEY={SECRET_KEY_PLACEHOLDER}")
        else line
        for line in lines
    ]
    (project / ".env").write_text("\n".join(written) + "\n")


def print_next_steps(project: Path) -> None:
    print(
        f"""
Baked {project.name}. Next:

    cd {project}
    uv sync                      # make .venv and uv.lock (commit uv.lock)
    uv run python manage.py migrate
    uv run uvicorn {project.name}.asgi:application

Then open http://127.0.0.1:8000/api/docs. Tests: uv run pytest
"""
    )


def main() -> None:
    project = Path.cwd()
    write_env_file(project)
    print_next_steps(project)


if __name__ == "__main__":
    main()
