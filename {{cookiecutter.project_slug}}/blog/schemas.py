from datetime import datetime
from typing import Annotated

from ninja import Field, Schema
from pydantic import StringConstraints

from .models import Post

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PostId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class PostIn(Schema):
    title: Title
    body: str = Field("", max_length=20_000)
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


class Message(Schema):
    detail: str
