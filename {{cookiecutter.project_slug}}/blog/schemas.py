from datetime import datetime
from typing import Annotated

from ninja import Field, Schema
from pydantic import StrictInt, StringConstraints

from .models import Post

# PostgreSQL text cannot hold NUL: refused here (422) rather than by the database (500).
NO_NUL = r"^[^\x00]*$"
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]
Body = Annotated[str, StringConstraints(max_length=20_000, pattern=NO_NUL)]
# Strict: JSON true is not post 1, nor "1".
PostId = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]


class PostIn(Schema):
    title: Title
    body: Body = ""
    published: bool = False


class PostOut(Schema):
    id: int
    title: str
    body: str
    published: bool
    author: str | None = Field(description="The author's username (none once deleted).")
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_author(post: Post) -> str | None:
        # The queries load the author with the post: read lazily from async code, this
        # would be a query on the event loop (SynchronousOnlyOperation).
        return post.author.username if post.author else None


class PostPage(Schema):
    items: list[PostOut]
    count: int
    limit: int
    offset: int


class PublishIn(Schema):
    ids: list[PostId] = Field(min_length=1, max_length=100)


class PublishOut(Schema):
    published: list[int]
