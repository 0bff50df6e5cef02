"""The bare app's one endpoint: the same operation as the project's say-async, same validation."""

import asyncio

from django.http import HttpRequest
from django.urls import path
from ninja import Field, NinjaAPI, Query, Schema

api = NinjaAPI(urls_namespace="minimal")


class SayAfterParams(Schema):
    delay: float = Field(0.0, ge=0, le=10, allow_inf_nan=False)
    word: str = Field("hello", min_length=1, max_length=100)


class Saying(Schema):
    saying: str


@api.get("/say-async", response=Saying)
async def say_async(request: HttpRequest, params: Query[SayAfterParams]) -> Saying:
    await asyncio.sleep(params.delay)
    return Saying(saying=params.word)


urlpatterns = [path("api/", api.urls)]
