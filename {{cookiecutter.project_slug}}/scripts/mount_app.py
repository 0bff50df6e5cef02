"""`make app NAME=notes`, after `manage.py startapp --template scripts/app_template notes`:
fill in the project package, move the app's tests into tests/, add the app to
INSTALLED_APPS and mount its router at /api/notes (each at the line marked for it).

Saves the three hand edits that a new app needs, which are easy to get half right.
"""

import json
import re
import sys
from pathlib import Path

PROJECT = "{{ cookiecutter.project_slug }}"
ROOT = Path(__file__).resolve().parents[1]
APPS_MARK = "    # Apps made with `make app` go above this line.\n"
ROUTERS_MARK = "# Routers of apps made with `make app` go below this line.\n"


def mount(name: str) -> None:
    app = ROOT / name
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or not (app / "api.py").is_file():
        sys.exit(f"{name!r}: make it first with manage.py startapp --template scripts/app_template")
    for module in app.rglob("*.py"):
        module.write_text(module.read_text().replace("PROJECT_PACKAGE", PROJECT))
    (app / "tests.py").rename(ROOT / "tests" / f"test_{name}.py")

    settings = ROOT / PROJECT / "settings.py"
    text = settings.read_text()
    if APPS_MARK not in text:
        sys.exit(f"{settings}: the line {APPS_MARK.strip()!r} is gone; add {name!r} by hand")
    settings.write_text(text.replace(APPS_MARK, f'    "{name}",\n{APPS_MARK}'))

    api = ROOT / PROJECT / "api.py"
    text = api.read_text()
    if ROUTERS_MARK not in text:
        sys.exit(f"{api}: the line {ROUTERS_MARK.strip()!r} is gone; mount {name} by hand")
    tag = json.dumps({"name": name, "description": f"The {name} app."})
    router = f'api.add_router("/{name}", "{name}.api.router")'
    api.write_text(text.replace(ROUTERS_MARK, f"{ROUTERS_MARK}TAGS.append({tag})\n{router}\n"))
    print(f"Mounted {name} at /api/{name}; its tests are in tests/test_{name}.py.")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/mount_app.py NAME")
    mount(sys.argv[1])
