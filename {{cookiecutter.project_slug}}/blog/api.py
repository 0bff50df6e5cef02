"""The blog's HTTP API, mounted at /api/blog: async operations over the helpers in queries.py.

Reads are open to everyone, and show drafts only to their author and staff; writes need a
bearer token or a signed-in session (accounts/auth.py). request.auth is the caller.
"""

from collections.abc import AsyncIterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.renderers import JSONRenderer
from ninja.streaming import JSONL
from pydantic import Field

from accounts.auth import READ, READ_OPENAPI, WRITE
from ratelimit import limits

from {{ cookiecutter.project_slug }}.errors import Message

from . import cache, queries
from .models import Post
from .permissions import Viewer
from .schemas import PostIn, PostOut, PostPage, PostPatch, PublishIn, PublishOut

router = Router(tags=["blog"])

MAX_PAGE_SIZE = 100
JSON = JSONRenderer()  # the API's renderer, for pages kept rendered (cache.py)
write_throttles = limits.write_throttles()  # per user: WRITE_RATE
# What a write answers itself besides its success; openapi.py adds the errors around it
# (401, 422, 429, ...).
WRITE_ERRORS = {403: Message}


class PageParams(Schema):
    limit: int = Field(
        cache.CACHED_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Posts per page."
    )
    offset: int = Field(0, ge=0, le=1_000_000, description="Posts to skip.")
    published: bool | None = Field(
        None, description="Only published (true) or drafts (false; yours, or all for staff)."
    )


@router.get("/posts", response=PostPage, auth=READ, openapi_extra=READ_OPENAPI)
async def list_posts(request: HttpRequest, page: Query[PageParams]) -> PostPage | HttpResponse:
    """A page of the posts you may see, newest first."""
    viewer = request.auth  # type: ignore[attr-defined]
    key = cache.page_key(published=page.published, offset=page.offset, limit=page.limit)
    if viewer.is_authenticated or key is None or not settings.POST_LIST_CACHE_SECONDS:
        return await read_page(viewer, page)

    async def render() -> bytes:
        answer = await read_page(viewer, page)
        body: bytes = JSON.render(request, answer.model_dump(), response_status=200)  # as Ninja
        return body

    return HttpResponse(await cache.cached(key, render), content_type=JSON.media_type)


async def read_page(viewer: Viewer, page: PageParams) -> PostPage:
    posts = await queries.list_posts(
        viewer=viewer, published=page.published, offset=page.offset, limit=page.limit
    )
    count = await queries.count_posts(viewer=viewer, published=page.published)
    # The models go in as they are: each is validated once, from its attributes (a PostOut
    # built here would be validated again, its resolvers run on a schema, not a post).
    return PostPage(
        items=posts,  # type: ignore[arg-type]
        count=count,
        limit=page.limit,
        offset=page.offset,
    )


class NDJSON(JSONL):  # type: ignore[type-arg]
    """Newline-delimited JSON, one object per line, as the media type most tools know it."""

    media_type = "application/x-ndjson"


# NDJSON[PostOut] is Ninja's stream marker (StreamFormat.__class_getitem__), not a generic.
EXPORT = NDJSON[PostOut]  # type: ignore[type-arg]


@router.get("/posts/export", response=EXPORT, auth=READ, openapi_extra=READ_OPENAPI)
async def export_posts(request: HttpRequest) -> AsyncIterator[Post]:
    """Every post you may see, oldest first, as NDJSON: one JSON object per line, streamed
    as the database yields them (no Content-Length; memory stays flat whatever the count).
    A client that goes away stops the query."""
    async for post in queries.export_posts(viewer=request.auth):  # type: ignore[attr-defined]
        yield post


@router.post(
    "/posts", response={201: PostOut, **WRITE_ERRORS}, auth=WRITE, throttle=write_throttles
)
async def create_post(request: HttpRequest, data: PostIn) -> Status[Post]:
    """Create a post; you are its author."""
    post = await queries.create_post(
        author=request.auth,  # type: ignore[attr-defined]
        title=data.title,
        body=data.body,
        published=data.published,
    )
    return Status(201, post)


@router.get(
    "/posts/{int:post_id}",
    response={200: PostOut, 404: Message},
    auth=READ,
    openapi_extra=READ_OPENAPI,
)
async def get_post(request: HttpRequest, post_id: int) -> Post:
    """One post by id (a draft only for its author and staff)."""
    try:
        return await queries.get_post(post_id, viewer=request.auth)  # type: ignore[attr-defined]
    except Post.DoesNotExist:
        raise HttpError(404, f"Post {post_id} does not exist") from None


@router.patch(
    "/posts/{int:post_id}",
    response={200: PostOut, 404: Message, **WRITE_ERRORS},
    auth=WRITE,
    throttle=write_throttles,
)
async def update_post(request: HttpRequest, post_id: int, data: PostPatch) -> Post:
    """Change your post's title, body or published state (staff: anyone's). Setting
    published to false unpublishes it."""
    changes = data.dict(exclude_unset=True)
    # null means "leave as it is" too: no field of a post can be null.
    changes = {field: value for field, value in changes.items() if value is not None}
    try:
        return await queries.update_post(request.auth, post_id, changes)  # type: ignore[attr-defined]
    except Post.DoesNotExist:
        raise HttpError(404, f"Post {post_id} does not exist") from None
    except queries.ChangeForbidden:
        raise HttpError(403, f"Post {post_id} is not yours to change") from None


@router.delete(
    "/posts/{int:post_id}",
    response={204: None, 404: Message, **WRITE_ERRORS},
    auth=WRITE,
    throttle=write_throttles,
)
async def delete_post(request: HttpRequest, post_id: int) -> Status[None]:
    """Delete your post (staff: anyone's)."""
    try:
        await queries.delete_post(request.auth, post_id)  # type: ignore[attr-defined]
    except Post.DoesNotExist:
        raise HttpError(404, f"Post {post_id} does not exist") from None
    except queries.ChangeForbidden:
        raise HttpError(403, f"Post {post_id} is not yours to delete") from None
    return Status(204, None)


@router.post(
    "/posts/publish",
    response={200: PublishOut, 404: Message, **WRITE_ERRORS},
    auth=WRITE,
    throttle=write_throttles,
)
async def publish_posts(request: HttpRequest, data: PublishIn) -> PublishOut:
    """Publish several of your posts at once (staff: anyone's): all of them, or (if any id
    is unknown to you or not yours to publish) none."""
    try:
        published = await queries.publish_posts(request.auth, data.ids)  # type: ignore[attr-defined]
    except queries.PostsNotFound as exc:
        raise HttpError(404, f"Posts not found: {exc.ids}; nothing was published") from None
    except queries.PublishForbidden as exc:
        raise HttpError(403, f"Not yours to publish: {exc.ids}; nothing was published") from None
    return PublishOut(published=published)
