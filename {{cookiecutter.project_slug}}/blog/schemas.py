from datetime import datetime
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import AfterValidator, BeforeValidator, StrictBool, StringConstraints

from {{ cookiecutter.project_slug }}.errors import explained_pattern
from {{ cookiecutter.project_slug }}.schemas import NO_NUL, JsonObject

from .models import Post

# A title is checked as sent, against the schema's bounds and pattern, then stripped of
# surrounding whitespace. The pattern asks for one character that is neither whitespace nor
# a control character, so what is left is never empty: what the schema allows, the API
# accepts, and the other way round. Explicit ranges, because the regex dialects of JSON
# Schema, pydantic and the fuzzer disagree on what \s is.
SHOWN = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
Title = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=200,
        pattern=explained_pattern(
            f"^[^\\x00]*{SHOWN}[^\\x00]*$",
            "have a character other than spaces and control characters, and no NUL",
        ),
    ),
    AfterValidator(str.strip),
]
Body = Annotated[str, StringConstraints(max_length=20_000, pattern=NO_NUL)]


def json_number(value: Any) -> Any:
    # As JSON Schema's "integer": 7 and 7.0, never true (post 1 otherwise) or "7".
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Input should be an integer")
    return value


# The bounds before the validator: after it, pydantic leaves them out of the JSON schema.
PostId = Annotated[int, Field(ge=1, le=2**63 - 1), BeforeValidator(json_number)]


class PostIn(JsonObject):
    title: Title
    body: Body = ""
    published: StrictBool = False


class PostPatch(JsonObject):
    """The fields to change; those left out stay as they are."""

    title: Title | None = None
    body: Body | None = None
    published: StrictBool | None = None


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


class PublishIn(JsonObject):
    ids: list[PostId] = Field(min_length=1, max_length=100)


class PublishOut(Schema):
    published: list[int]
