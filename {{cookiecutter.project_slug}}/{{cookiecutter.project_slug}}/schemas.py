"""What the API's request bodies share: a body is a JSON object, and text bound for the
database holds no NUL."""

from typing import Any

from ninja import Schema
from ninja.schema import DjangoGetter
from pydantic import model_validator

from .errors import explained_pattern

# PostgreSQL text cannot hold NUL: refused here (422) rather than by the database (500).
NO_NUL = explained_pattern(r"^[^\x00]*$", "have no NUL characters")


class JsonObject(Schema):
    """A request body: a JSON object. Without this check Ninja would read the fields of
    any other JSON value as attributes: the body "AAA" was read as the title "Aaa" (str.title),
    and `[null, null]` was an edit that changed nothing."""

    @model_validator(mode="before")
    @classmethod
    def must_be_an_object(cls, data: Any) -> Any:
        # Ninja has already wrapped the value for attribute access; look at what came in.
        received = data._obj if isinstance(data, DjangoGetter) else data
        if not isinstance(received, dict):
            raise ValueError("The body should be a JSON object")
        return data
