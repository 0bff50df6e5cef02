"""ServeStatic's middleware for the tests, listing the apps' static files once per process.

The tests serve static files from the apps' folders (SERVESTATIC_USE_FINDERS), and the stock
middleware lists them all each time it is built: 0.15 s of CPU. Django's test clients build
the middleware chain once per client, so that was most of what a request cost in a test
(67 ms, now 5)."""

from typing import Any, ClassVar

from servestatic.middleware import ServeStaticMiddleware


class ListedOnceServeStaticMiddleware(ServeStaticMiddleware):  # type: ignore[misc]  # untyped
    # What the first listing found: the files by URL, and the folders they may come from.
    listed: ClassVar[tuple[dict[str, Any], list[tuple[str, str]]] | None] = None

    def add_files_from_finders(self) -> None:
        cls = ListedOnceServeStaticMiddleware
        if cls.listed is None:
            super().add_files_from_finders()
            cls.listed = (dict(self.files), list(self.directories))
        files, directories = cls.listed
        self.files.update(files)
        self.directories: list[tuple[str, str]] = list(directories)
