from collections.abc import Callable

import pytest

from blog.models import Post

MakePost = Callable[..., Post]


@pytest.fixture
def make_post(db: None) -> MakePost:
    """Create a post with the sync ORM (fixtures run outside the event loop)."""

    def make(title: str = "A post", *, published: bool = False, body: str = "") -> Post:
        return Post.objects.create(title=title, body=body, published=published)

    return make
