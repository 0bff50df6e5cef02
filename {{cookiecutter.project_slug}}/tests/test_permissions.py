"""Who may read and write which posts, through URL routing, middleware and auth."""

from typing import Any

import pytest
from django.test import AsyncClient

from accounts.models import User
from blog.api import write_throttles
from blog.models import Post

from .conftest import bearer

pytestmark = pytest.mark.django_db(transaction=True)

WRITES = [
    pytest.param("post", "/api/blog/posts", {"title": "sneaky"}, id="create"),
    pytest.param("post", "/api/blog/posts/publish", {"ids": [1]}, id="publish"),
    pytest.param("patch", "/api/blog/posts/1", {"title": "sneaky"}, id="edit"),
    pytest.param("delete", "/api/blog/posts/1", None, id="delete"),
]


async def send_json(method: str, path: str, payload: Any, **headers: str) -> Any:
    # CSRF enforced as for a real caller (Django's test client skips it by default).
    client = AsyncClient(enforce_csrf_checks=True)
    return await getattr(client, method)(
        path, payload, content_type="application/json", headers=headers
    )


async def post_json(path: str, payload: Any, **headers: str) -> Any:
    return await send_json("post", path, payload, **headers)


@pytest.mark.parametrize(("method", "path", "payload"), WRITES)
async def test_anonymous_writes_are_a_401_with_a_bearer_challenge(
    method: str, path: str, payload: Any
) -> None:
    response = await send_json(method, path, payload)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"]
    assert await Post.objects.acount() == 0


BAD_CREDENTIALS = {
    "malformed": "Bearer not-a-token",
    "unknown": "Bearer tok_00000000_" + "x" * 43,
    "empty": "Bearer ",
    "other-scheme": "Token tok_00000000_" + "x" * 43,
}


@pytest.mark.parametrize(("method", "path", "payload"), WRITES)
@pytest.mark.parametrize("authorization", BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS)
async def test_bad_tokens_are_a_401_alike(
    method: str, path: str, payload: Any, authorization: str
) -> None:
    anonymous = await send_json(method, path, payload)

    response = await send_json(method, path, payload, Authorization=authorization)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == anonymous.json()  # nothing tells one bad token from another
    assert await Post.objects.acount() == 0


async def test_a_bad_token_is_refused_on_reads_too() -> None:
    response = await AsyncClient().get(
        "/api/blog/posts", headers={"Authorization": BAD_CREDENTIALS["unknown"]}
    )

    assert response.status_code == 401


async def test_anonymous_list_never_contains_drafts(alice: User) -> None:
    await Post.objects.acreate(title="draft", author=alice)
    await Post.objects.acreate(title="live", author=alice, published=True)

    for published in ("", "true", "false"):
        response = await AsyncClient().get(
            "/api/blog/posts", {"published": published} if published else {}
        )
        titles = [item["title"] for item in response.json()["items"]]
        assert "draft" not in titles and response.json()["count"] == len(titles), published


async def test_a_draft_is_a_404_to_anonymous_and_other_users(alice: User, bob: User) -> None:
    draft = await Post.objects.acreate(title="draft", author=alice)
    missing = await AsyncClient().get("/api/blog/posts/424242")

    as_anonymous = await AsyncClient().get(f"/api/blog/posts/{draft.pk}")
    as_bob = await AsyncClient().get(f"/api/blog/posts/{draft.pk}", headers=await bearer(bob))

    assert as_anonymous.status_code == as_bob.status_code == 404
    assert as_anonymous.json()["detail"] == missing.json()["detail"].replace(
        "424242", str(draft.pk)
    )


async def test_drafts_are_visible_to_their_author_and_staff(
    alice: User, bob: User, staff: User
) -> None:
    draft = await Post.objects.acreate(title="alice's draft", author=alice)
    await Post.objects.acreate(title="bob's draft", author=bob)

    for user, expected in ((alice, ["alice's draft"]), (staff, ["bob's draft", "alice's draft"])):
        got = await AsyncClient().get(f"/api/blog/posts/{draft.pk}", headers=await bearer(user))
        drafts = await AsyncClient().get(
            "/api/blog/posts", {"published": "false"}, headers=await bearer(user)
        )
        assert got.status_code == 200, user
        assert [item["title"] for item in drafts.json()["items"]] == expected, user


async def test_publishing_someone_elses_post_is_a_403_and_changes_nothing(
    alice: User, bob: User
) -> None:
    bobs = await Post.objects.acreate(title="bob's", author=bob, published=True)
    alices = await Post.objects.acreate(title="alice's draft", author=alice)

    response = await post_json(
        "/api/blog/posts/publish", {"ids": [alices.pk, bobs.pk]}, **(await bearer(alice))
    )

    assert response.status_code == 403
    assert str(bobs.pk) in response.json()["detail"]
    await alices.arefresh_from_db()
    assert alices.published is False  # all or nothing, across permission failures too


async def test_publishing_someone_elses_draft_is_a_404(alice: User, bob: User) -> None:
    bobs_draft = await Post.objects.acreate(title="bob's draft", author=bob)

    response = await post_json(
        "/api/blog/posts/publish", {"ids": [bobs_draft.pk]}, **(await bearer(alice))
    )

    assert response.status_code == 404
    await bobs_draft.arefresh_from_db()
    assert bobs_draft.published is False


async def test_staff_publish_anyones_posts(alice: User, staff: User) -> None:
    draft = await Post.objects.acreate(title="alice's draft", author=alice)

    response = await post_json(
        "/api/blog/posts/publish", {"ids": [draft.pk]}, **(await bearer(staff))
    )

    assert response.status_code == 200
    await draft.arefresh_from_db()
    assert draft.published is True


CHANGES = [
    pytest.param("patch", {"title": "defaced"}, id="edit"),
    pytest.param("patch", {"published": False}, id="unpublish"),
    pytest.param("delete", None, id="delete"),
]


@pytest.mark.parametrize(("method", "payload"), CHANGES)
async def test_changing_someone_elses_post_is_a_403_and_changes_nothing(
    alice: User, bob: User, method: str, payload: Any
) -> None:
    bobs = await Post.objects.acreate(title="bob's", author=bob, published=True)

    response = await send_json(
        method, f"/api/blog/posts/{bobs.pk}", payload, **(await bearer(alice))
    )

    assert response.status_code == 403
    assert await Post.objects.filter(pk=bobs.pk, title="bob's", published=True).aexists()


@pytest.mark.parametrize(("method", "payload"), CHANGES)
async def test_changing_someone_elses_draft_is_a_404(
    alice: User, bob: User, method: str, payload: Any
) -> None:
    bobs_draft = await Post.objects.acreate(title="bob's draft", author=bob)

    response = await send_json(
        method, f"/api/blog/posts/{bobs_draft.pk}", payload, **(await bearer(alice))
    )

    assert response.status_code == 404
    assert await Post.objects.filter(pk=bobs_draft.pk, title="bob's draft").aexists()


async def test_authors_and_staff_change_and_delete_posts(alice: User, staff: User) -> None:
    post = await Post.objects.acreate(title="alice's", author=alice)

    edited = await send_json(
        "patch", f"/api/blog/posts/{post.pk}", {"title": "edited"}, **(await bearer(alice))
    )
    by_staff = await send_json(
        "patch", f"/api/blog/posts/{post.pk}", {"published": True}, **(await bearer(staff))
    )
    deleted = await send_json("delete", f"/api/blog/posts/{post.pk}", None, **(await bearer(staff)))

    assert (edited.status_code, edited.json()["title"]) == (200, "edited")
    assert (by_staff.status_code, by_staff.json()["published"]) == (200, True)
    assert deleted.status_code == 204
    assert not await Post.objects.filter(pk=post.pk).aexists()


async def test_writes_are_throttled_per_user(
    monkeypatch: pytest.MonkeyPatch, alice: User, bob: User
) -> None:
    (throttle,) = write_throttles
    monkeypatch.setattr(throttle, "limit", 2)
    alice_headers = await bearer(alice)

    statuses = [
        (await post_json("/api/blog/posts", {"title": str(n)}, **alice_headers)).status_code
        for n in range(3)
    ]
    bobs = await post_json("/api/blog/posts", {"title": "bob's"}, **(await bearer(bob)))

    assert statuses == [201, 201, 429]
    assert bobs.status_code == 201  # a budget per user, not one for all
