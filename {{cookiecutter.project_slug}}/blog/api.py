"""The blog's HTTP API, mounted at /api/blog: async operations over the helpers in queries.py."""

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from . import queries
from .models import Post
from .schemas import Message, PostIn, PostOut, PostPage, PublishIn, PublishOut
from .signals import post_created

router = Router(tags=["blog"])

MAX_PAGE_SIZE = 100


class PageParams(Schema):
    limit: int = Field(20, ge=1, le=MAX_PAGE_SIZE, description="Posts per page.")
    offset: int = Field(0, ge=0, le=1_000_000, description="Posts to skip.")
    published: bool | None = Field(None, description="Only published (true) or drafts (false).")


@router.get("/posts", response=PostPage)
async def list_posts(request: HttpRequest, page: Query[PageParams]) -> PostPage:
    """A page of posts, newest first."""
    posts = await queries.list_posts(published=page.published, offset=page.offset, limit=page.limit)
    count = await queries.count_posts(published=page.published)
    return PostPage(
        items=[PostOut.model_validate(post, from_attributes=True) for post in posts],
        count=count,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/posts", response={201: PostOut})
async def create_post(request: HttpRequest, data: PostIn) -> Status[Post]:
    """Create a post."""
    post = await queries.create_post(title=data.title, body=data.body, published=data.published)
    # Receivers run after the post is saved; robust: one that fails cannot lose the post.
    await post_created.asend_robust(sender=Post, post=post)
    return Status(201, post)


@router.get("/posts/{int:post_id}", response={200: PostOut, 404: Message})
async def get_post(request: HttpRequest, post_id: int) -> Post:
    """One post by id."""
    try:
        return await queries.get_post(post_id)
    except Post.DoesNotExist:
        raise HttpError(404, f"Post {post_id} does not exist") from None


@router.post("/posts/publish", response={200: PublishOut, 404: Message})
async def publish_posts(request: HttpRequest, data: PublishIn) -> PublishOut:
    """Publish several posts at once: all of them, or (if any id is unknown) none."""
    try:
        published = await queries.publish_posts(data.ids)
    except queries.PostsNotFound as exc:
        raise HttpError(404, f"Posts not found: {exc.ids}; nothing was published") from None
    return PublishOut(published=published)
