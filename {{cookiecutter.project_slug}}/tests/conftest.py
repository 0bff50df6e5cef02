from collections.abc import AsyncIterator, Callable

import pytest

from blog.models import Post

from {{ cookiecutter.project_slug }}.lifespan import app_shutdown_hooks

MakePost = Callable[..., Post]


@pytest.fixture
def make_post(db: None) -> MakePost:
    """Create a post with the sync ORM (fixtures run outside the event loop)."""

    def make(title: str = "A post", *, published: bool = False, body: str = "") -> Post:
        return Post.objects.create(title=title, body=body, published=published)

    return make


@pytest.fixture(autouse=True)
async def run_app_shutdown_hooks() -> AsyncIterator[None]:
    """After each test, what the server does when it stops (e.g. close search clients)."""
    yield
    for hook in app_shutdown_hooks():
        await hook()
