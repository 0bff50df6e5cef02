"""The blog endpoints through URL routing and middleware (django.test.AsyncClient)."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from accounts.models import User
from blog.models import Post

from .conftest import MakePost, bearer

# Async tests that touch the database need transaction=True: with a plain django_db their
# writes, made on another thread's connection, would outlive the test.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client() -> AsyncClient:
    return AsyncClient()


async def test_list_posts_is_newest_first_and_paginated(
    client: AsyncClient, make_post: MakePost
) -> None:
    for n in range(5):
        await Post.objects.acreate(title=f"post {n}", published=True)

    response = await client.get("/api/blog/posts", {"limit": 2, "offset": 1})

    assert response.status_code == 200
    page = response.json()
    assert [item["title"] for item in page["items"]] == ["post 3", "post 2"]
    assert (page["count"], page["limit"], page["offset"]) == (5, 2, 1)


async def test_list_posts_filters_on_published(client: AsyncClient) -> None:
    await Post.objects.acreate(title="draft")
    await Post.objects.acreate(title="live", published=True)

    response = await client.get("/api/blog/posts", {"published": "true"})

    assert [item["title"] for item in response.json()["items"]] == ["live"]
    assert response.json()["count"] == 1


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}])
async def test_list_posts_rejects_bad_paging(client: AsyncClient, query: dict[str, Any]) -> None:
    response = await client.get("/api/blog/posts", query)

    assert response.status_code == 422


async def test_get_post_returns_it_with_its_author(client: AsyncClient, alice: User) -> None:
    post = await Post.objects.acreate(title="hello", body="world", published=True, author=alice)

    response = await client.get(f"/api/blog/posts/{post.pk}")

    assert response.status_code == 200
    assert (response.json()["title"], response.json()["body"]) == ("hello", "world")
    assert response.json()["author"] == "alice"


@pytest.mark.parametrize("post_id", ["999999", "99999999999999999999"])
async def test_get_missing_post_is_a_json_404(client: AsyncClient, post_id: str) -> None:
    response = await client.get(f"/api/blog/posts/{post_id}")

    assert response.status_code == 404
    assert response.json() == {"detail": f"Post {post_id} does not exist"}


async def test_create_post_stores_it_as_the_callers(client: AsyncClient, alice: User) -> None:
    response = await client.post(
        "/api/blog/posts",
        {"title": "  New post  ", "body": "text", "published": True},
        content_type="application/json",
        headers=await bearer(alice),
    )

    assert response.status_code == 201
    assert response.json()["author"] == "alice"
    created = await Post.objects.aget(pk=response.json()["id"])
    assert (created.title, created.body, created.published) == ("New post", "text", True)
    assert created.author_id == alice.pk


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "\u000b\u3000"},  # whitespace too, once stripped
        {"title": "x" * 201},
        {"title": " " + "x" * 200},  # over the limit as sent, whatever stripping leaves
        {"title": "ok", "published": "maybe"},
        {"title": "ok", "published": 1},
        '"AAA"',  # a JSON string, not an object (Ninja would read "AAA".title())
        ["title"],
        # PostgreSQL cannot store NUL: a 422 here, not a 500 from the database.
        {"title": "a\u0000b"},
        {"title": "ok", "body": "a\u0000b"},
    ],
)
async def test_create_post_rejects_bad_input_and_stores_nothing(
    client: AsyncClient, payload: Any, alice: User
) -> None:
    response = await client.post(
        "/api/blog/posts", payload, content_type="application/json", headers=await bearer(alice)
    )

    assert response.status_code == 422
    assert await Post.objects.acount() == 0


async def test_publish_posts_publishes_all(client: AsyncClient, alice: User) -> None:
    first = await Post.objects.acreate(title="one", author=alice)
    second = await Post.objects.acreate(title="two", author=alice)

    response = await client.post(
        "/api/blog/posts/publish",
        {"ids": [second.pk, first.pk]},
        content_type="application/json",
        headers=await bearer(alice),
    )

    assert response.status_code == 200
    assert response.json() == {"published": [second.pk, first.pk]}
    assert await Post.objects.filter(published=True).acount() == 2


async def test_publish_with_an_unknown_id_is_a_404_and_changes_nothing(
    client: AsyncClient, alice: User
) -> None:
    first = await Post.objects.acreate(title="one", author=alice)
    second = await Post.objects.acreate(title="two", author=alice)

    response = await client.post(
        "/api/blog/posts/publish",
        {"ids": [first.pk, 424242, second.pk]},
        content_type="application/json",
        headers=await bearer(alice),
    )

    assert response.status_code == 404
    assert "424242" in response.json()["detail"]
    assert await Post.objects.filter(published=True).acount() == 0


@pytest.mark.parametrize(
    "payload",
    [{"ids": []}, {"ids": [0]}, {"ids": "1"}, {}, {"ids": ["1"]}, {"ids": [1.5]}, [1], '"ids"'],
)
async def test_publish_rejects_bad_input(client: AsyncClient, payload: Any, alice: User) -> None:
    response = await client.post(
        "/api/blog/posts/publish",
        payload,
        content_type="application/json",
        headers=await bearer(alice),
    )

    assert response.status_code == 422


@pytest.mark.django_db(transaction=True, reset_sequences=True)
async def test_publish_ids_are_strict_integers(client: AsyncClient, alice: User) -> None:
    post = await Post.objects.acreate(title="one", author=alice)
    assert post.pk == 1  # what JSON true would pass for, if ids were lax

    response = await client.post(
        "/api/blog/posts/publish",
        {"ids": [True]},
        content_type="application/json",
        headers=await bearer(alice),
    )

    assert response.status_code == 422
    assert not (await Post.objects.aget(pk=post.pk)).published


async def test_an_unparseable_body_is_a_json_400(client: AsyncClient, alice: User) -> None:
    response = await client.post(
        "/api/blog/posts", "{not json", content_type="application/json", headers=await bearer(alice)
    )

    assert response.status_code == 400
    assert response.json()["detail"].startswith("The body is not valid JSON: ")
    assert await Post.objects.acount() == 0


async def test_a_form_body_is_told_that_json_is_expected(client: AsyncClient, alice: User) -> None:
    response = await client.post("/api/blog/posts", {"title": "x"}, headers=await bearer(alice))

    assert response.status_code == 400
    assert response.json() == {
        "detail": "The body must be JSON, sent as Content-Type: application/json "
        "(not multipart/form-data)"
    }


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"title": "   "},
            "String should have a character other than spaces and control characters, and no NUL",
        ),
        ({"title": "ok", "body": "a\x00b"}, "String should have no NUL characters"),
        ({"body": "no title"}, "Field required"),
    ],
)
async def test_a_bad_field_is_named_as_the_client_sent_it_in_plain_words(
    client: AsyncClient, alice: User, payload: dict[str, str], message: str
) -> None:
    response = await client.post(
        "/api/blog/posts", payload, content_type="application/json", headers=await bearer(alice)
    )

    assert response.status_code == 422
    [issue] = response.json()["detail"]
    field = "body" if "body" in payload and "title" in payload else "title"
    assert (issue["loc"], issue["msg"]) == (["body", field], message)


async def test_an_id_that_is_not_a_number_is_a_404_like_a_missing_post(
    client: AsyncClient,
) -> None:
    for path in ("/api/blog/posts/abc", "/api/blog/posts/999999"):
        response = await client.get(path)

        assert response.status_code == 404, path
        assert response.json()["detail"], path


async def test_edit_changes_only_the_fields_sent(client: AsyncClient, alice: User) -> None:
    post = await Post.objects.acreate(title="before", body="kept", author=alice)
    headers = await bearer(alice)

    response = await client.patch(
        f"/api/blog/posts/{post.pk}",
        {"title": "  after  ", "body": None},  # null leaves a field as it is
        content_type="application/json",
        headers=headers,
    )

    assert response.status_code == 200
    assert (response.json()["title"], response.json()["body"]) == ("after", "kept")
    await post.arefresh_from_db()
    assert (post.title, post.body, post.published) == ("after", "kept", False)


@pytest.mark.parametrize(
    "payload", [{"title": ""}, {"title": "x" * 201}, {"published": "yes"}, [], '"title"']
)
async def test_edit_rejects_bad_input_and_changes_nothing(
    client: AsyncClient, alice: User, payload: Any
) -> None:
    post = await Post.objects.acreate(title="before", author=alice)

    response = await client.patch(
        f"/api/blog/posts/{post.pk}",
        payload,
        content_type="application/json",
        headers=await bearer(alice),
    )

    assert response.status_code == 422
    await post.arefresh_from_db()
    assert (post.title, post.published) == ("before", False)


async def test_deleting_a_missing_post_is_a_json_404(client: AsyncClient, alice: User) -> None:
    response = await client.delete("/api/blog/posts/424242", headers=await bearer(alice))

    assert response.status_code == 404
    assert response.json() == {"detail": "Post 424242 does not exist"}


async def test_an_author_who_deletes_their_account_leaves_their_posts(
    client: AsyncClient, make_post: MakePost
) -> None:
    author = await User.objects.acreate_user("leaving", password="a long and unguessed phrase")
    post = await sync_to_async(make_post)("stays", published=True, author=author)
    headers = await bearer(author)

    deleted = await client.delete(
        "/api/me", {"password": "a long and unguessed phrase"}, "application/json", headers=headers
    )

    assert deleted.status_code == 204
    await post.arefresh_from_db()
    assert post.author_id is None
    assert (await client.get(f"/api/blog/posts/{post.pk}")).json()["author"] is None
