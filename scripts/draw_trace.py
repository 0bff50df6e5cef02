"""Draws the baked README's trace picture (docs/trace.png) from the spans the baked test suite's
OTLP receiver got: `TRACE_SPANS_FILE=spans.json pytest tests/test_tracing.py -k publish` in a
bake, then `python scripts/draw_trace.py spans.json out.png` with matplotlib installed (the
bake's `uv run --group plot`). No trace viewer runs here; this is a waterfall of the same spans.
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

SERVER, CLIENT, CONSUMER = 2, 3, 5
COLOURS = {
    "request": "#4C72B0",
    "sql": "#55A868",
    "redis": "#C44E52",
    "search": "#8172B2",
    "http": "#CCB974",
    "task": "#64B5CD",
    "other": "#999999",
}


def kind_of(span: dict) -> str:
    system = span["attributes"].get("db.system.name") or span["attributes"].get("db.system")
    if span["kind"] == SERVER:
        return "request"
    if span["kind"] == CONSUMER:
        return "task"
    if system in ("sqlite", "postgresql"):
        return "sql"
    if system in ("redis", "elasticsearch"):
        return "redis" if system == "redis" else "search"
    if "http.request.method" in span["attributes"]:
        return "http"
    return "other"


def ordered(spans: list[dict]) -> list[tuple[int, dict]]:
    """Each trace depth first under its root, the request's trace first, then the tasks'."""
    children: dict[str, list[dict]] = {}
    for span in spans:
        children.setdefault(span["parent_id"], []).append(span)
    roots = sorted(children.get("", []), key=lambda s: (s["kind"] != SERVER, s["start"]))
    found: list[tuple[int, dict]] = []

    def walk(span: dict, depth: int) -> None:
        found.append((depth, span))
        for child in sorted(children.get(span["span_id"], []), key=lambda s: s["start"]):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return found


def main() -> None:
    spans = json.loads(Path(sys.argv[1]).read_text())
    rows = ordered(spans)
    origin = min(span["start"] for span in spans)
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(rows) + 1.2))
    for y, (depth, span) in enumerate(rows):
        start = (span["start"] - origin) / 1e6
        width = max((span["end"] - span["start"]) / 1e6, 0.05)
        ax.barh(y, width, left=start, color=COLOURS[kind_of(span)], height=0.7)
        label = ("  " * depth) + span["name"]
        ax.text(
            -0.36,
            y,
            label,
            transform=ax.get_yaxis_transform(),
            ha="left",
            va="center",
            fontsize=8,
            family="monospace",
        )
        ax.text(start + width, y, f" {width:.1f} ms", va="center", fontsize=7, color="#444444")
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set_xlabel("ms since the request began")
    ax.set_title("POST /api/blog/posts: its spans, then the tasks it enqueued (linked traces)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLOURS.values()]
    ax.legend(handles, list(COLOURS), loc="upper right", fontsize=7, ncols=4)
    fig.subplots_adjust(left=0.28, right=0.97, top=0.93, bottom=0.08)
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
