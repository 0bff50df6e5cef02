"""Your own account over the API, at /api/me: who you are (read, edit), your API tokens (list,
make a named one for a script, revoke one), and deleting the account.

Sign-up, login, logout, email addresses and passwords are django-allauth's, under /_allauth/
(its own OpenAPI document: /_allauth/openapi.json); these are what its headless API lacks.
Every operation needs a token or a signed-in session (accounts/auth.py). Making a token and
deleting the account also take the password: a stolen token can neither outlive its own
expiry nor end the account. The password is checked off the event loop (Django's PBKDF2
takes about 0.4 s of CPU, by design), and those tries count against WRITE_RATE.
"""

from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.db import IntegrityError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema, Status
from pydantic import Field

from ratelimit import limits

from {{ cookiecutter.project_slug }}.errors import Message, explained_pattern
from {{ cookiecutter.project_slug }}.schemas import NO_NUL, JsonObject

from .auth import WRITE
from .models import ApiToken, User
from .tokens import issue_token

router = Router(tags=["me"])

# Writes per user (WRITE_RATE, as every write): also what bounds guesses of the password. Every
# write documents 403 too: what a session caller without the CSRF token gets (accounts/auth.py).
write_throttles = limits.write_throttles()
# Django's username rule (letters, digits and @.+-_), as its UnicodeUsernameValidator has it.
USERNAME = explained_pattern(r"^[\w.@+-]+$", "hold only letters, digits and @ . + - _")


class MeOut(Schema):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    date_joined: datetime


class MePatch(JsonObject):
    """The fields to change; those left out stay as they are. The email address changes
    through allauth (/_allauth/app/v1/account/email), which verifies the new one."""

    username: str | None = Field(None, min_length=1, max_length=150, pattern=USERNAME)
    first_name: str | None = Field(None, max_length=150, pattern=NO_NUL)
    last_name: str | None = Field(None, max_length=150, pattern=NO_NUL)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="The token's first characters: not secret.")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class TokenIn(JsonObject):
    name: str = Field(
        min_length=1, max_length=100, pattern=NO_NUL, description="What the token is for."
    )
    password: str = Field(min_length=1, max_length=4096, description="Your password.")
    expires_in_days: int | None = Field(
        90, ge=1, le=3650, description="Days the token lives; null: until revoked."
    )


class TokenMade(TokenOut):
    token: str = Field(description="The token itself, shown this once: only its digest is kept.")


class PasswordIn(JsonObject):
    password: str = Field(min_length=1, max_length=4096, description="Your password.")


def caller(request: HttpRequest) -> User:
    user: User = request.auth  # type: ignore[attr-defined]
    return user


async def password_matches(user: User, password: str) -> bool:
    # In the request's own kept thread, not on the loop: the hash is CPU work by design.
    matches: bool = await sync_to_async(user.check_password)(password)
    return matches


WRONG_PASSWORD = "The password is not right"
TAKEN = "That username is taken"


@router.get("", response=MeOut, auth=WRITE)
async def read_me(request: HttpRequest) -> User:
    """Your account."""
    return caller(request)


@router.patch(
    "", response={200: MeOut, 403: Message, 409: Message}, auth=WRITE, throttle=write_throttles
)
async def edit_me(request: HttpRequest, data: MePatch) -> User | Status[Message]:
    """Change your username or name; fields left out stay as they are."""
    user = caller(request)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    username = changes.get("username")
    taken = User.objects.filter(username__iexact=username).exclude(pk=user.pk)
    if username and await taken.aexists():
        return Status(409, Message(detail=TAKEN))
    if changes:
        for field, value in changes.items():
            setattr(user, field, value)
        try:
            await user.asave(update_fields=list(changes))
        except IntegrityError:  # taken by another rename between the check and this write
            return Status(409, Message(detail=TAKEN))
    return user


@router.delete("", response={204: None, 403: Message}, auth=WRITE, throttle=write_throttles)
async def delete_me(request: HttpRequest, data: PasswordIn) -> Status[Message | None]:
    """Delete your account, its tokens and sessions; what you wrote stays, without an author."""
    user = caller(request)
    if not await password_matches(user, data.password):
        return Status(403, Message(detail=WRONG_PASSWORD))
    await user.adelete()
    return Status(204, None)


@router.get("/tokens", response=list[TokenOut], auth=WRITE)
async def list_my_tokens(request: HttpRequest) -> list[ApiToken]:
    """Your tokens that still work, newest first (never the tokens themselves)."""
    now = timezone.now()
    tokens = ApiToken.objects.filter(user=caller(request), revoked_at=None).exclude(
        expires_at__lte=now
    )
    return [token async for token in tokens]


@router.post(
    "/tokens", response={201: TokenMade, 403: Message}, auth=WRITE, throttle=write_throttles
)
async def make_my_token(request: HttpRequest, data: TokenIn) -> Status[TokenMade | Message]:
    """Make a named token for a script. The answer holds the token, once."""
    user = caller(request)
    if not await password_matches(user, data.password):
        return Status(403, Message(detail=WRONG_PASSWORD))
    lifetime = timedelta(days=data.expires_in_days) if data.expires_in_days else None
    record, token = await sync_to_async(issue_token)(user, name=data.name, expires_in=lifetime)
    return Status(201, TokenMade(**TokenOut.model_validate(record).model_dump(), token=token))


@router.delete(
    "/tokens/{int:token_id}",
    response={204: None, 403: Message, 404: Message},
    auth=WRITE,
    throttle=write_throttles,
)
async def revoke_my_token(request: HttpRequest, token_id: int) -> Status[Message | None]:
    """Revoke one of your tokens: it stops working at once. Revoking it again is no error."""
    mine = ApiToken.objects.filter(user=caller(request), pk=token_id)
    if not await mine.aexists():
        return Status(404, Message(detail="You have no token with that id"))
    await mine.filter(revoked_at=None).aupdate(revoked_at=timezone.now())
    return Status(204, None)
