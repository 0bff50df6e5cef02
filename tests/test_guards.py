"""The behaviours the baked test suite guards, each with the tests that guard it, proven by
breaking it: every guard below edits the default bake to break its behaviour, runs the
guarding tests, expects them to fail, and puts the file back.

This table is the list of what the suite is meant to guard. A test that still passes with
its behaviour broken is a test that guards nothing; a guard whose `original` text is no
longer in the file fails too, so the table follows the code.
"""

import subprocess
from dataclasses import dataclass

import pytest
from conftest import BakedProject

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Guard:
    id: str
    behaviour: str
    path: str  # in the baked project; {slug} is the project package
    original: str  # every occurrence is replaced
    broken: str
    tests: tuple[str, ...]
    bake: str = "default"  # or "redis": the defaults with cache=redis


SEARCH_API = "tests/search/test_search_api.py"
PERMISSIONS = "tests/test_permissions.py"
SQLITE = "tests/test_database_sqlite.py"
INDEXING = "tests/search/test_indexing.py"
HANDLER = "tests/test_handler.py"
OUTBOX = "tests/test_outbox.py"
LIMITS = "tests/test_rate_limits.py"
WEBHOOKS = "tests/test_webhooks.py"
SAY_STREAM = "tests/test_say_stream.py"
EXPORT = "tests/test_blog_export.py"
BLOG_CACHE = "tests/test_blog_cache.py"
SAY_AFTER = "tests/test_say_after.py"
TASKS = "tests/test_tasks.py"
TASK_WORKERS = "tests/test_task_workers.py"
REDIS = "tests/test_redis.py"
GUARDS = [
    Guard(
        "search-502s",
        "engine failures (auth, not Elasticsearch, errors, unreadable answers) are 502s",
        "search/errors.py",
        "answer(502, ",
        "answer(500, ",
        (f"{SEARCH_API}::test_engine_failures_are_a_502_without_internals",),
    ),
    Guard(
        "search-apierror-handler",
        "an engine error of no more specific kind is mapped, not a 500",
        "search/errors.py",
        "api.add_exception_handler(ApiError, answer(",
        "(lambda *not_added: None)(ApiError, answer(",
        (f"{SEARCH_API}::test_engine_failures_are_a_502_without_internals",),
    ),
    Guard(
        "search-transporterror-handler",
        "an answer the client cannot read is mapped, not a 500",
        "search/errors.py",
        "api.add_exception_handler(TransportError, answer(",
        "(lambda *not_added: None)(TransportError, answer(",
        (f"{SEARCH_API}::test_engine_failures_are_a_502_without_internals",),
    ),
    Guard(
        "search-no-retry-on-timeout",
        "a slow engine is asked once: a 504 after one timeout, not after three",
        "search/client.py",
        '"retry_on_timeout": False',
        '"retry_on_timeout": True',
        (f"{SEARCH_API}::test_engine_that_never_answers_is_a_504_after_one_try",),
    ),
    Guard(
        "search-leading-wildcard",
        "a leading wildcard (a scan of every term) is refused with a 400",
        "search/api.py",
        '"allow_leading_wildcard": False',
        '"allow_leading_wildcard": True',
        (f"{SEARCH_API}::test_malformed_or_expensive_query_is_a_400",),
    ),
    Guard(
        "search-published-only",
        "drafts never show up in search",
        "search/api.py",
        '"filter": {"term": {"published": True}},',
        "",
        (f"{SEARCH_API}::test_a_draft_left_in_the_index_never_shows",),
    ),
    Guard(
        "search-clients-closed-at-shutdown",
        "the lifespan shutdown closes every search client",
        "{slug}/asgi.py",
        "close_every_client, flush_logs]",
        "flush_logs]",
        ("tests/search/test_client_lifecycle.py::test_lifespan_shutdown_closes_the_clients",),
    ),
    Guard(
        "delay-bound-inclusive",
        "say-after accepts a delay of exactly SAY_AFTER_MAX_DELAY",
        "{slug}/api.py",
        "le=settings.SAY_AFTER_MAX_DELAY,",
        "lt=settings.SAY_AFTER_MAX_DELAY,",
        ("tests/test_say_after.py",),
    ),
    Guard(
        "delay-bound-is-the-setting",
        "the delay bound is SAY_AFTER_MAX_DELAY, not less",
        "{slug}/api.py",
        "le=settings.SAY_AFTER_MAX_DELAY,",
        "le=settings.SAY_AFTER_MAX_DELAY / 2,",
        ("tests/test_say_after.py",),
    ),
    Guard(
        "say-async-on-the-loop",
        "say-async waits on the event loop, not in a thread",
        "{slug}/api.py",
        "await asyncio.sleep(params.delay)",
        "await asyncio.to_thread(time.sleep, params.delay)",
        (f"{SAY_AFTER}::test_say_async_sends_no_work_to_a_thread",),
    ),
    Guard(
        "say-after-throttle",
        "say-after answers 429 with Retry-After past SAY_AFTER_RATE",
        "{slug}/api.py",
        "    return [ClientIPRateLimit(endpoint, settings.SAY_AFTER_RATE, "
        'setting="SAY_AFTER_RATE")]',
        "    return []",
        (f"{SAY_AFTER}::test_say_after_is_throttled_with_retry_after",),
    ),
    Guard(
        "publish-locks-rows",
        "publishing locks each row it changes (SELECT ... FOR UPDATE)",
        "blog/queries.py",
        '_posts(user).select_for_update(of=("self",))',
        "_posts(user)",
        ("tests/test_blog_queries.py::test_publish_locks_the_rows_it_changes",),
    ),
    Guard(
        "publish-all-or-nothing",
        "a publish with an unknown id publishes nothing",
        "blog/queries.py",
        "raise PostsNotFound(missing)",
        "pass",
        (
            "tests/test_blog_queries.py::test_publish_rolls_back_posts_published_before_the_bad_id",
            "tests/test_blog_api.py::test_publish_with_an_unknown_id_is_a_404_and_changes_nothing",
        ),
    ),
    Guard(
        "author-loaded-with-posts",
        "the queries load each post's author (no lazy query on the event loop)",
        "blog/queries.py",
        'Post.objects.select_related("author").filter(visible_posts(viewer))',
        "Post.objects.filter(visible_posts(viewer))",
        ("tests/test_blog_queries.py::test_queries_load_the_author_with_the_post",),
    ),
    Guard(
        "writes-need-credentials",
        "anonymous writes are a 401",
        "accounts/auth.py",
        "WRITE = [BearerToken(), SessionUser()]",
        "WRITE = [BearerToken(), SessionUser(), Anonymous()]",
        (f"{PERMISSIONS}::test_anonymous_writes_are_a_401_with_a_bearer_challenge",),
    ),
    Guard(
        "no-session-is-a-401-not-a-csrf-403",
        "a write with no credentials at all is a 401, not a CSRF 403",
        "accounts/auth.py",
        "if self.param_name not in request.COOKIES:",
        "if False:",
        (f"{PERMISSIONS}::test_anonymous_writes_are_a_401_with_a_bearer_challenge",),
    ),
    Guard(
        "session-writes-need-csrf",
        "a session write without the CSRF token is a 403",
        "accounts/auth.py",
        "WRITE = [BearerToken(), SessionUser()]",
        "WRITE = [BearerToken(), SessionUser(csrf=False)]",
        ("tests/test_accounts.py::test_a_session_write_needs_the_csrf_token",),
    ),
    Guard(
        "token-secret-checked",
        "a token is checked whole, not by its public prefix",
        "accounts/tokens.py",
        "matches = hmac.compare_digest(",
        "matches = True or hmac.compare_digest(",
        ("tests/test_accounts.py::test_a_known_prefix_with_a_wrong_secret_is_refused",),
    ),
    Guard(
        "expired-and-revoked-tokens-refused",
        "expired and revoked tokens are a 401",
        "accounts/models.py",
        "return self.revoked_at is None and (",
        "return True or (",
        ("tests/test_accounts.py::test_expired_and_revoked_tokens_are_refused",),
    ),
    Guard(
        "drafts-hidden-from-anonymous",
        "anonymous callers never see a draft",
        "blog/permissions.py",
        "    return Q(published=True)\n",
        "    return Q()\n",
        (
            f"{PERMISSIONS}::test_anonymous_list_never_contains_drafts",
            f"{PERMISSIONS}::test_a_draft_is_a_404_to_anonymous_and_other_users",
        ),
    ),
    Guard(
        "only-authors-and-staff-publish",
        "publishing someone else's post is a 403 and changes nothing",
        "blog/permissions.py",
        "return user.is_authenticated and (is_staff(user) or post.author_id == user.pk)",
        "return user.is_authenticated",
        (f"{PERMISSIONS}::test_publishing_someone_elses_post_is_a_403_and_changes_nothing",),
    ),
    Guard(
        "write-throttle",
        "writes past WRITE_RATE are a 429, per user",
        "blog/api.py",
        '[UserRateLimit("write", settings.WRITE_RATE, setting="WRITE_RATE")]\n    if settings',
        "[]\n    if settings",
        (f"{PERMISSIONS}::test_writes_are_throttled_per_user",),
    ),
    Guard(
        "cors-only-listed-origins",
        "browsers on unlisted origins get no CORS headers",
        "{slug}/settings.py",
        "CORS_ALLOW_CREDENTIALS = True",
        "CORS_ALLOW_ALL_ORIGINS = CORS_ALLOW_CREDENTIALS = True",
        ("tests/test_cors.py::test_an_unlisted_origin_gets_no_cors_headers",),
    ),
    Guard(
        "tokens-never-logged",
        "no log line carries a token or the Authorization header",
        "accounts/auth.py",
        "        if not scheme:\n",
        '        __import__("logging").getLogger("auth").info("Authorization: %s", token)\n'
        "        if not scheme:\n",
        ("tests/test_accounts.py::test_tokens_never_reach_the_logs",),
    ),
    Guard(
        "request-id-in-written-lines",
        "the lines the log handler writes carry the request's id",
        "{slug}/runtime/request_log.py",
        'record.request_id = getattr(request, "request_id", None) or request_id.get()',
        'record.request_id = "-"',
        (
            "tests/test_request_log.py::test_written_access_line_carries_the_request_id",
            "tests/test_request_log.py::test_djangos_own_lines_carry_the_request_id",
        ),
    ),
    Guard(
        "request-id-filter-configured",
        "LOGGING puts the request id filter on the handler",
        "{slug}/settings.py",
        '"filters": ["request_id"],',
        "",
        ("tests/test_request_log.py::test_written_access_line_carries_the_request_id",),
    ),
    Guard(
        "placeholder-key-refused",
        "with DEBUG off, the app does not start with the placeholder SECRET_KEY",
        "{slug}/settings.py",
        'if not SECRET_KEY or SECRET_KEY.startswith("change-me"):',
        "if not SECRET_KEY:",
        ("tests/test_asgi.py::test_refuses_to_start_without_a_real_secret_key_when_debug_is_off",),
    ),
    Guard(
        "health-exempt-from-https-redirect",
        "health checks answer over plain HTTP when HTTPS redirects are on",
        "{slug}/settings.py",
        'SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^api/ready$"]',
        "SECURE_REDIRECT_EXEMPT: list[str] = []",
        ("tests/test_health.py::test_health_checks_are_exempt_from_the_https_redirect",),
    ),
    Guard(
        "ready-checks-together",
        "readiness checks run at the same time, not one after another",
        "{slug}/health.py",
        "results = await asyncio.gather(*(run_check(check) for check in checks.values()))",
        "results = [await run_check(check) for check in checks.values()]",
        ("tests/test_health.py::test_ready_runs_the_checks_at_the_same_time",),
    ),
    Guard(
        "no-request-started-hop",
        "request_started costs no thread hop under ASGI",
        "{slug}/asgi.py",
        "request_started.disconnect(close_old_connections)",
        "",
        ("tests/test_asgi.py::test_request_signals_make_no_thread_hop_under_asgi",),
    ),
    Guard(
        "closed-log-stream-quiet",
        "lines waiting for a stream that was closed are dropped without a traceback",
        "{slug}/runtime/log_stream.py",
        'if getattr(self.stream, "closed", False):',
        "if False:",
        ("tests/test_log_stream.py::test_lines_waiting_for_a_closed_stream_are_dropped_quietly",),
    ),
    Guard(
        "search-html-highlights",
        "highlights are HTML-encoded: stored markup comes back escaped",
        "search/api.py",
        '"encoder": "html", ',
        "",
        (f"{SEARCH_API}::test_highlights_are_html_escaped",),
    ),
    Guard(
        "search-no-regex",
        "a regular expression (a scan of every term) is refused with a 400",
        "search/api.py",
        "    if has_regular_expression(params.q):",
        "    if False:",
        (f"{SEARCH_API}::test_malformed_or_expensive_query_is_a_400",),
    ),
    Guard(
        "sqlite-immediate-transactions",
        "concurrent SQLite writers wait for the lock instead of failing",
        "{slug}/settings.py",
        '"transaction_mode": "IMMEDIATE",',
        "",
        (f"{SQLITE}::test_concurrent_read_then_write_transactions_all_commit",),
    ),
    Guard(
        "sqlite-wal",
        "SQLite runs in WAL mode",
        "{slug}/settings.py",
        "PRAGMA journal_mode=WAL; ",
        "",
        (f"{SQLITE}::test_connections_use_wal_and_synchronous_normal",),
    ),
    Guard(
        "database-503",
        "a locked database is a 503 with Retry-After, not a 500",
        "{slug}/errors.py",
        "api.add_exception_handler(OperationalError, database_unavailable)",
        "",
        (f"{SQLITE}::test_a_locked_database_is_a_503_with_retry_after",),
    ),
    Guard(
        "json-errors",
        "errors under /api/ answer JSON, Django's own pages included",
        "{slug}/runtime/json_errors.py",
        "        return as_json(response, reason(request, response))",
        "        return response",
        ("tests/test_json_errors.py",),
    ),
    Guard(
        "contract-422",
        "the schema documents the 422 of every operation with input",
        "{slug}/openapi.py",
        "    if operation.models:",
        "    if not operation.models:",
        ("tests/test_openapi.py",),
    ),
    Guard(
        "body-is-an-object",
        'a body that is not a JSON object is a 422 (Ninja read "AAA" as a title)',
        "blog/schemas.py",
        "class PostIn(JsonObject):",
        "class PostIn(Schema):",
        ("tests/test_blog_api.py::test_create_post_rejects_bad_input_and_stores_nothing",),
    ),
    Guard(
        "strict-ids",
        "JSON true is not post 1",
        "blog/schemas.py",
        "if isinstance(value, bool) or ",
        "if ",
        ("tests/test_blog_api.py::test_publish_ids_are_strict_integers",),
    ),
    Guard(
        "body-limit",
        "a body over the limit is a 413, a chunked one stopped early",
        "{slug}/runtime/body_limit.py",
        "if received > limit:",
        "if False:",
        ("tests/test_asgi.py::test_a_chunked_body_is_stopped_when_it_goes_over_the_limit",),
    ),
    Guard(
        "abandoned-request-499",
        "a request the client abandoned still gets its access line, status 499",
        "{slug}/runtime/request_log.py",
        "            status = CLIENT_CLOSED_REQUEST\n",
        "",
        ("tests/test_request_log.py::test_an_abandoned_request_still_gets_its_access_line",),
    ),
    Guard(
        "log-line-forging",
        "a client's %0A cannot forge a log line, at any call site, in either format",
        "{slug}/runtime/request_log.py",
        "        record.message = escape_controls(record.message)\n",
        "",
        ("tests/test_request_log.py::test_no_client_value_can_forge_a_log_line",),
    ),
    Guard(
        "probes-any-host",
        "the probes answer whatever the Host",
        "{slug}/runtime/middleware.py",
        "        if request.path in PROBE_PATHS:",
        "        if False:",
        ("tests/test_health.py::test_probes_answer_whatever_the_host_and_nothing_else_does",),
    ),
    Guard(
        "throttle-per-endpoint",
        "each say-after endpoint has its own budget",
        "{slug}/api.py",
        "ClientIPRateLimit(endpoint, ",
        'ClientIPRateLimit("say-after", ',
        (f"{SAY_AFTER}::test_say_after_is_throttled_with_retry_after",),
    ),
    Guard(
        "deploy-check-clean",
        "check --deploy is clean with the minimal production environment",
        "{slug}/settings.py",
        '"SECURE_HSTS_PRELOAD", default=not DEBUG)',
        '"SECURE_HSTS_PRELOAD", default=False)',
        ("tests/test_asgi.py::test_deploy_check_is_clean_with_the_minimal_production_environment",),
    ),
    Guard(
        "post-save-records-the-change",
        "saving a post (API, admin, shell) records its search change in the same transaction",
        "blog/models.py",
        "super().save(*args, **kwargs)\n            changed([self.pk])",
        "super().save(*args, **kwargs)",
        (f"{INDEXING}::test_admin_writes_reach_the_index",),
    ),
    Guard(
        "post-delete-records-the-change",
        "deleting a post removes it from search",
        "blog/models.py",
        "deleted = super().delete(*args, **kwargs)\n            changed([pk])",
        "deleted = super().delete(*args, **kwargs)",
        (f"{INDEXING}::test_api_writes_reach_the_index",),
    ),
    Guard(
        "queryset-update-records-the-change",
        "a queryset update() of posts reaches search",
        "blog/models.py",
        "count = super().update(**kwargs)\n            changed(ids)",
        "count = super().update(**kwargs)",
        (f"{INDEXING}::test_queryset_writes_and_commands_reach_the_index",),
    ),
    Guard(
        "queryset-delete-records-the-change",
        "a queryset delete() of posts (the admin's bulk delete) reaches search",
        "blog/models.py",
        "deleted = super().delete()\n            changed(ids)",
        "deleted = super().delete()",
        (f"{INDEXING}::test_admin_writes_reach_the_index",),
    ),
    Guard(
        "bulk-create-records-the-change",
        "posts made with bulk_create (seed_posts) reach search",
        "blog/models.py",
        "changed(post.pk for post in created)",
        "None",
        (f"{INDEXING}::test_queryset_writes_and_commands_reach_the_index",),
    ),
    Guard(
        "search-indexes-published-only",
        "only published posts are in the index",
        "search/indexing.py",
        "Post.objects.filter(pk__in=versions, published=True)",
        "Post.objects.filter(pk__in=versions)",
        (f"{INDEXING}::test_queryset_writes_and_commands_reach_the_index",),
    ),
    Guard(
        "search-deletes-what-is-gone",
        "a post unpublished or deleted leaves the index",
        "search/indexing.py",
        'operations.append({"delete": meta})',
        "pass",
        (f"{INDEXING}::test_api_writes_reach_the_index",),
    ),
    Guard(
        "rebuild-swaps-when-complete",
        "searches during a rebuild see the old index whole",
        "search/rebuild.py",
        "    await client.indices.create(index=new, mappings=MAPPINGS)\n",
        "    await client.indices.create(index=new, mappings=MAPPINGS)\n"
        "    await swap_alias(new)\n",
        (f"{INDEXING}::test_rebuild_under_concurrent_searches_never_drops_and_loses_nothing",),
    ),
    Guard(
        "rebuild-replays-changes",
        "changes made during a rebuild are not lost",
        "search/rebuild.py",
        "summary.requeued = await sync_to_async(store.requeue_done_since)(",
        "summary.requeued = 0 and await sync_to_async(store.requeue_done_since)(",
        (f"{INDEXING}::test_rebuild_under_concurrent_searches_never_drops_and_loses_nothing",),
    ),
    Guard(
        "rebuild-removes-old-versions",
        "a rebuild deletes the older index versions",
        "search/rebuild.py",
        "if stale := [name for name in versions if name < new]:",
        "if stale := []:",
        (f"{INDEXING}::test_rebuild_under_concurrent_searches_never_drops_and_loses_nothing",),
    ),
    Guard(
        "search-client-closed-under-wsgi",
        "under WSGI each search closes its client (no leak per request)",
        "{slug}/runtime/loop_clients.py",
        "        if loop_is_long_lived():",
        "        if True:",
        ("tests/search/test_wsgi.py::test_a_view_on_a_short_lived_loop_closes_its_client",),
    ),
    Guard(
        "outbox-one-worker-per-key",
        "a key held by one worker is not claimed by another",
        "outbox/store.py",
        ".exclude(Exists(held))",
        "",
        (f"{OUTBOX}::test_a_held_key_is_not_claimed_again_until_it_is_done",),
    ),
    Guard(
        "outbox-lease-token",
        "a worker whose lease ran out cannot mark another's work done",
        "outbox/store.py",
        "mine = Message.objects.filter(lease_token=claim.token, state=PENDING)",
        "mine = Message.objects.filter(state=PENDING)",
        (f"{OUTBOX}::test_an_expired_lease_is_taken_over_and_the_first_worker_cannot_finish_it",),
    ),
    Guard(
        "outbox-failures-counted",
        "failed work is kept with its attempt count and reason, for a later retry",
        "outbox/store.py",
        "attempts=attempts + 1,",
        "attempts=attempts,",
        (f"{OUTBOX}::test_failed_work_is_retried_later",),
    ),
    Guard(
        "outbox-hand-back-on-stop",
        "a stopping worker hands back what it holds",
        "outbox/worker.py",
        "release = sync_to_async(store.release)(self.token)",
        "release = asyncio.sleep(0)",
        (f"{OUTBOX}::test_a_stopped_worker_hands_back_its_work_for_the_next_one",),
    ),
    Guard(
        "outbox-commit-wakes-worker",
        "a commit wakes the local worker (no wait for the poll)",
        "outbox/store.py",
        "transaction.on_commit(wake)",
        "None",
        (f"{OUTBOX}::test_the_lifespan_runs_a_worker_that_a_commit_wakes",),
    ),
    Guard(
        "sqlite-process-lock-released",
        "a rolled-back SQLite transaction lets the process's next writer go",
        "{slug}/runtime/sqlite/base.py",
        "            super()._rollback()  # type: ignore[misc]  # private: not in the stubs\n"
        "        finally:\n            self._release_write_lock()",
        "            super()._rollback()  # type: ignore[misc]  # private: not in the stubs\n"
        "        finally:\n            pass",
        (f"{SQLITE}::test_a_transaction_holds_the_process_write_lock_until_it_ends",),
    ),
    Guard(
        "sqlite-process-lock-bounded",
        "a writer waits for the process's lock no longer than DATABASE_TIMEOUT",
        "{slug}/runtime/sqlite/base.py",
        "_write_lock.acquire(timeout=timeout)",
        "_write_lock.acquire(timeout=30)",
        (f"{SQLITE}::test_a_writer_waits_for_the_process_lock_no_longer_than_the_timeout",),
    ),
    Guard(
        "handler-closes-inline",
        "an async request's response is closed on the event loop, with no thread",
        "{slug}/runtime/handler.py",
        'getattr(target, "__name__", None) == "close"',
        'getattr(target, "__name__", None) == "never"',
        (f"{HANDLER}::test_an_async_request_starts_no_thread_and_still_finishes",),
    ),
    Guard(
        "handler-reuses-threads",
        "requests that run sync code reuse kept threads instead of starting new ones",
        "{slug}/runtime/handler.py",
        "            if len(self._idle) < self.kept:",
        "            if False:",
        (f"{HANDLER}::test_requests_running_sync_code_reuse_threads",),
    ),
    Guard(
        "handler-bounds-kept-threads",
        "past ASGI_THREADS_KEPT, the extra threads end after their request",
        "{slug}/runtime/handler.py",
        "            if len(self._idle) < self.kept:",
        "            if True:",
        (f"{HANDLER}::test_past_the_kept_threads_sync_views_stay_concurrent",),
    ),
    Guard(
        "handler-closes-in-the-requests-thread",
        "a request that ran sync code is closed in its thread, which closes its connection",
        "{slug}/runtime/handler.py",
        "            self._executor is None\n            and self.response_sent",
        "            self.response_sent",
        (f"{HANDLER}::test_a_requests_connection_is_closed_in_its_own_thread",),
    ),
    Guard(
        "handler-steps-aside-for-receivers",
        "a request_finished receiver the project adds runs in a thread, not on the loop",
        "{slug}/runtime/handler.py",
        "            and not unknown_finished_receivers()\n",
        "\n",
        (
            f"{HANDLER}::test_a_receiver_added_to_request_finished_runs_and_the_fast_path_steps_aside",
        ),
    ),
    Guard(
        "change-permission",
        "only the author and staff edit, unpublish or delete a post",
        "blog/queries.py",
        "    if not can_change(user, post):",
        "    if False:",
        (f"{PERMISSIONS}::test_changing_someone_elses_post_is_a_403_and_changes_nothing",),
    ),
    Guard(
        "ratelimit-awaited-on-the-loop",
        "async operations await their rate-limit check (no sync store call on the loop)",
        "ratelimit/operation.py",
        "operation.__class__ = AsyncChecksOperation",
        "pass",
        (f"{LIMITS}::test_async_operations_await_their_check",),
    ),
    Guard(
        "ratelimit-window-slides",
        "a hit counts only within its window",
        "keyvalue/local.py",
        "if t > now - window]",
        "]",
        (f"{LIMITS}::test_the_store_counts_hits_in_a_sliding_window",),
    ),
    Guard(
        "ratelimit-fails-open",
        "a failing store lets the request through, and the log says so",
        "ratelimit/limits.py",
        "            fail_open_log.record(self.scope, error)\n            return Hit(True, 0.0)",
        "            raise",
        (f"{LIMITS}::test_a_failing_store_lets_requests_through_and_logs_it_once",),
    ),
    Guard(
        "post-list-cache-anonymous-only",
        "a signed-in reader's page (with drafts) is never cached for others",
        "blog/api.py",
        "    if viewer.is_authenticated or key is None or not settings.POST_LIST_CACHE_SECONDS:",
        "    if key is None or not settings.POST_LIST_CACHE_SECONDS:",
        (f"{BLOG_CACHE}::test_a_draft_never_reaches_the_cache",),
    ),
    Guard(
        "redis-one-count-for-all-workers",
        "with cache=redis, every worker counts in Redis: two let the limit through once",
        "{slug}/settings.py",
        'KEYVALUE_STORE = "keyvalue.redis_store.RedisStore"',
        'KEYVALUE_STORE = "keyvalue.local.LocalStore"',
        (f"{REDIS}::test_two_workers_let_through_the_limit_once",),
        bake="redis",
    ),
    Guard(
        "redis-limit-enforced",
        "the Redis script refuses a hit past the limit",
        "keyvalue/redis_store.py",
        "if redis.call('ZCARD', KEYS[1]) < limit then",
        "if true then",
        (f"{LIMITS}::test_the_store_counts_hits_in_a_sliding_window",),
        bake="redis",
    ),
    Guard(
        "redis-fails-fast-after-a-failure",
        "after a failed call, Redis is not asked again for REDIS_RETRY_INTERVAL",
        "keyvalue/redis_store.py",
        "self.failed_until = time.monotonic() + _retry_interval()",
        "self.failed_until = 0.0",
        (f"{REDIS}::test_a_redis_that_hangs_costs_a_check_the_timeout_then_nothing",),
        bake="redis",
    ),
    Guard(
        "redis-django-cache-fails-soft",
        "Django's cache reads a dead Redis as a miss, and sessions outlast it",
        "{slug}/settings.py",
        '"BACKEND": "keyvalue.django_cache.FailSoftRedisCache"',
        '"BACKEND": "django.core.cache.backends.redis.RedisCache"',
        (
            f"{REDIS}::test_djangos_cache_reads_a_dead_redis_as_a_miss",
            f"{REDIS}::test_sessions_live_in_redis_and_outlast_it",
        ),
        bake="redis",
    ),
    Guard(
        "redis-sessions-written-to-the-database",
        "sessions are cached_db: the database keeps them when Redis loses them",
        "{slug}/settings.py",
        '"django.contrib.sessions.backends.cached_db"',
        '"django.contrib.sessions.backends.cache"',
        (f"{REDIS}::test_sessions_live_in_redis_and_outlast_it",),
        bake="redis",
    ),
    Guard(
        "redis-optional-for-readiness",
        "a dead Redis makes /api/ready a 503 only with READY_REQUIRES_CACHE",
        "{slug}/health.py",
        'optional = set() if getattr(settings, "READY_REQUIRES_CACHE", True) else {"cache"}',
        "optional = set()",
        (f"{REDIS}::test_ready_reports_the_cache_and_requires_it_only_when_told",),
        bake="redis",
    ),
    Guard(
        "webhook-signed-with-the-secret",
        "each delivery is signed as Standard Webhooks say (id.timestamp.body, the secret's key)",
        "webhooks/signing.py",
        "hmac.new(secret_key(secret), signed, hashlib.sha256)",
        "hmac.new(secret_key(secret), body, hashlib.sha256)",
        (f"{WEBHOOKS}::test_a_publish_is_delivered_signed",),
    ),
    Guard(
        "webhook-timestamp-signed",
        "a replayed body with a fresh timestamp does not verify",
        "webhooks/signing.py",
        'signed = f"{delivery_id}.{timestamp}.".encode() + body',
        'signed = f"{delivery_id}.0.".encode() + body',  # the timestamp left out
        (f"{WEBHOOKS}::test_a_replayed_body_with_a_fresh_timestamp_is_refused",),
    ),
    Guard(
        "webhook-no-short-key",
        "a delivery is never signed with an empty or short key",
        "webhooks/signing.py",
        "    if len(key) < MIN_SECRET_BYTES:",
        "    if False:",
        (f"{WEBHOOKS}::test_a_delivery_is_never_signed_with_an_empty_or_short_key",),
    ),
    Guard(
        "webhook-unconfigured-url-given-up",
        "a delivery to a URL no longer in WEBHOOK_URLS is given up, never sent",
        "webhooks/delivery.py",
        "    if url not in settings.WEBHOOK_URLS:",
        "    if False:",
        (f"{WEBHOOKS}::test_a_delivery_to_a_url_no_longer_configured_is_given_up",),
    ),
    Guard(
        "webhook-one-outcome-each",
        "one delivery raising touches no other (each is a task with its own outcome)",
        "outbox/task_worker.py",
        "        except Exception as exc:  # a timeout too: this attempt fails, no other does",
        "        except ZeroDivisionError as exc:",
        (f"{WEBHOOKS}::test_a_delivery_that_raises_touches_no_other",),
    ),
    Guard(
        "outbox-round-within-lease",
        "a round's handlers are stopped in time to finish before the lease ends",
        "outbox/worker.py",
        "START_SHARE, STOP_SHARE = 0.5, 0.75",
        "START_SHARE, STOP_SHARE = 0.5, 1.5",
        (f"{OUTBOX}::test_a_round_is_finished_before_its_lease_ends",),
    ),
    Guard(
        "outbox-idle-takes-no-lock",
        "an idle worker looks with a read before it takes the write lock",
        "outbox/store.py",
        "    if not _anything_to_claim(topics, now):",
        "    if False:",
        (f"{OUTBOX}::test_an_idle_worker_looks_without_taking_the_write_lock",),
    ),
    Guard(
        "outbox-failed-purged",
        "failed messages are purged after OUTBOX_KEEP_FAILED",
        "outbox/store.py",
        "                    done_at=now,  # when it ended",
        "                    done_at=None,  # when it ended",
        (f"{OUTBOX}::test_failed_messages_are_purged_after_their_keep_time",),
    ),
    Guard(
        "search-stale-write-refused",
        "a late, stale index write never overwrites a newer state",
        "search/indexing.py",
        '"version": version, "version_type": "external_gte"',
        '"op_type": "index"',
        (f"{INDEXING}::test_a_stale_write_that_lands_late_never_overwrites_a_newer_one",),
    ),
    Guard(
        "search-reason-not-echoed",
        "a malformed query's answer does not echo the engine's reason",
        "search/errors.py",
        '"Malformed query: check the query_string syntax (quotes, brackets, field:value)"',
        'f"Malformed query: {query_error_reason(exc)}"',
        (f"{SEARCH_API}::test_a_malformed_query_is_not_answered_with_the_engines_reason",),
    ),
    Guard(
        "database-url-options-kept",
        "DATABASE_URL's own options (sslmode, timeout) survive the project's",
        "{slug}/settings.py",
        '        **DATABASES["default"].get("OPTIONS", {}),\n',
        "",
        ("tests/test_settings.py::test_a_sqlite_urls_own_options_are_kept",),
    ),
    Guard(
        "thread-goes-back-clean",
        "a reused request thread never inherits a dirty connection",
        "{slug}/runtime/handler.py",
        "executor.submit(close_dirty_connections)",
        "pass",
        (f"{HANDLER}::test_a_reused_thread_never_inherits_a_dirty_connection",),
    ),
    Guard(
        "thread-goes-back-clean-after-an-answer",
        "a request that answered leaves its thread's connections clean too",
        "{slug}/runtime/handler.py",
        "fn = functools.partial(_close_then_clean, fn)",
        "pass",
        (f"{HANDLER}::test_a_reused_thread_never_inherits_a_dirty_connection",),
    ),
    Guard(
        "token-use-noted-aside",
        "noting a token's use never holds up (or fails) a read",
        "accounts/tokens.py",
        "        note_use(found.pk, now)",
        "        await ApiToken.objects.filter(pk=found.pk).aupdate(last_used_at=now)",
        ("tests/test_accounts.py::test_noting_a_tokens_use_never_holds_up_a_read",),
    ),
    Guard(
        "post-list-cache-bounded",
        "only the first pages at the default size are cached",
        "blog/cache.py",
        "    if limit != CACHED_PAGE_SIZE or offset % limit or offset >= CACHED_PAGES * limit:",
        "    if False:",
        (f"{BLOG_CACHE}::test_only_the_first_pages_at_the_default_size_are_cached",),
    ),
    Guard(
        "counts-apart-from-cached-values",
        "a flood of cached values never pushes a rate-limit count out",
        "keyvalue/local.py",
        'self.cache = LocMemCache("keyvalue-cache", {"OPTIONS": {"MAX_ENTRIES": MAX_CACHED}})',
        "self.cache = self.counts",
        (f"{LIMITS}::test_cached_values_never_push_a_rate_limit_count_out",),
    ),
    Guard(
        "sync-refused-past-its-rate",
        "a sync operation's check refuses past its rate",
        "ratelimit/limits.py",
        "        _retry_after.set(hit.retry_after)\n        return hit.allowed",
        "        _retry_after.set(hit.retry_after)\n        return True",
        (f"{LIMITS}::test_a_sync_operation_is_refused_past_its_rate",),
    ),
    Guard(
        "sync-refused-past-its-rate-redis",
        "a sync operation's check refuses past its rate, on Redis",
        "ratelimit/limits.py",
        "        _retry_after.set(hit.retry_after)\n        return hit.allowed",
        "        _retry_after.set(hit.retry_after)\n        return True",
        (f"{LIMITS}::test_a_sync_operation_is_refused_past_its_rate",),
        bake="redis",
    ),
    Guard(
        "ipv6-counted-by-64",
        "one host rotating IPv6 addresses in its /64 shares one limit",
        "ratelimit/limits.py",
        "        return str(ipaddress.IPv6Network((ip, 64), strict=False))",
        "        return str(ip)",
        (f"{LIMITS}::test_one_host_rotating_its_ipv6_addresses_shares_one_limit",),
    ),
    Guard(
        "ready-reused",
        "/api/ready runs its checks at most once per READY_CACHE_SECONDS",
        "{slug}/health.py",
        "if _last_answer and time.monotonic() - _last_answer[0] < settings.READY_CACHE_SECONDS:",
        "if False:",
        ("tests/test_health.py::test_ready_runs_its_checks_at_most_once_per_cache_time",),
    ),
    Guard(
        "admin-uploads-own-bound",
        "admin file uploads get ADMIN_UPLOAD_MAX_BYTES, the API its own limit",
        "{slug}/asgi.py",
        '        larger={"/admin/": settings.ADMIN_UPLOAD_MAX_BYTES},',
        "",
        (
            "tests/test_asgi.py::test_an_admin_file_upload_over_the_api_limit_goes_through_to_its_own",
        ),
    ),
    Guard(
        "thread-getter-visibility",
        "get_post_in_thread hides a draft as get_post does",
        "blog/queries.py",
        "    return await sync_to_async(_posts(viewer).get)(pk=post_id)",
        '    return await sync_to_async(Post.objects.select_related("author").get)(pk=post_id)',
        ("tests/test_blog_queries.py::test_the_thread_getter_hides_a_draft_as_get_post_does",),
    ),
    Guard(
        "webhook-5xx-retried",
        "a 5xx or a 429 is retried",
        "webhooks/delivery.py",
        "    if status >= 500 or status in RETRIED_STATUSES:",
        "    if False:",
        (f"{WEBHOOKS}::test_server_errors_are_retried",),
    ),
    Guard(
        "webhook-4xx-not-retried",
        "another 4xx fails the delivery at once",
        "webhooks/delivery.py",
        'raise GiveUp(f"answered {status}, not retried")',
        'raise NotDelivered(f"answered {status}")',
        (f"{WEBHOOKS}::test_other_refusals_are_not_retried",),
    ),
    Guard(
        "webhook-410-stops-the-receiver",
        "a 410 Gone stops deliveries to that receiver",
        "webhooks/delivery.py",
        "await sync_to_async(StoppedReceiver.objects.get_or_create)(url=url)",
        "await asyncio.sleep(0)",
        (f"{WEBHOOKS}::test_a_410_stops_the_receiver",),
    ),
    Guard(
        "webhook-max-age",
        "a delivery older than WEBHOOK_MAX_AGE fails instead of being retried forever",
        "webhooks/delivery.py",
        "    if timezone.now() - enqueued_at > timedelta(seconds=settings.WEBHOOK_MAX_AGE):",
        "    if False:",
        (f"{WEBHOOKS}::test_too_old_a_delivery_fails_and_can_be_requeued",),
    ),
    Guard(
        "webhook-urls-kept-out-of-the-log",
        "httpx's request lines (full URLs, tokens included) are not logged",
        "{slug}/settings.py",
        '"httpx": {"level": "WARNING"},',
        "",
        (f"{WEBHOOKS}::test_the_secret_and_the_token_stay_out_of_the_log",),
    ),
    Guard(
        "export-only-readable-posts",
        "the export streams only the posts the caller may read",
        "blog/queries.py",
        "list(_posts(viewer).filter(pk__gt=after)",
        'list(Post.objects.select_related("author").filter(pk__gt=after)',
        (f"{EXPORT}::test_the_export_streams_the_posts_the_caller_may_read",),
    ),
    Guard(
        "export-memory-flat",
        "a request keeps no finished call's result (a streamed export stays flat)",
        "{slug}/runtime/handler.py",
        "future.add_done_callback(self._running.discard)",
        "pass",
        (f"{EXPORT}::test_the_exports_memory_stays_flat_whatever_the_count",),
    ),
    Guard(
        "sse-nothing-outlives-the-client",
        "a say-stream whose client went away leaves no timer behind",
        "{slug}/api.py",
        "await asyncio.sleep(min(left, settings.SAY_STREAM_KEEP_ALIVE))",
        "await asyncio.shield(asyncio.sleep(min(left, settings.SAY_STREAM_KEEP_ALIVE)))",
        (f"{SAY_STREAM}::test_a_client_that_goes_away_leaves_nothing_running",),
    ),
    Guard(
        "sse-keep-alive",
        "a long wait between events sends keep-alive comments",
        "{slug}/api.py",
        "        if deadline - loop.time() > 0:\n            yield KEEP_ALIVE",
        "        if False:\n            yield KEEP_ALIVE",
        (f"{SAY_STREAM}::test_a_long_wait_keeps_the_stream_alive",),
    ),
    Guard(
        "search-optional-for-readiness",
        "a dead search cluster makes /api/ready a 503 only with READY_REQUIRES_SEARCH",
        "{slug}/health.py",
        'if not getattr(config, "ready_required", True):',
        "if False:",
        (
            "tests/search/test_search_ready.py::"
            "test_ready_reports_search_down_and_requires_it_only_when_told",
        ),
    ),
    Guard(
        "outage-summed-up",
        "work that keeps failing is logged when it starts, then summed up, not per retry",
        "outbox/outages.py",
        "if now - outage.last_logged >= self.summary_every:",
        "if True:",
        (
            f"{OUTBOX}::"
            "test_work_that_keeps_failing_is_logged_when_it_starts_then_summed_up_then_ended",
        ),
    ),
    Guard(
        "outage-ended",
        "work that works again after failing is logged once as back",
        "outbox/worker.py",
        "            self.outages.succeeded(topic)\n",
        "            pass\n",
        (
            f"{OUTBOX}::"
            "test_work_that_keeps_failing_is_logged_when_it_starts_then_summed_up_then_ended",
        ),
    ),
    Guard(
        "not-json-said",
        "a body that is not JSON is told that JSON is expected",
        "{slug}/errors.py",
        "detail = not_json(request, exc) or str(exc)",
        "detail = str(exc)",
        ("tests/test_blog_api.py::test_a_form_body_is_told_that_json_is_expected",),
    ),
    Guard(
        "client-field-locations",
        "a 422 locates a body field by the client's name, not Ninja's parameter",
        "{slug}/errors.py",
        'error["loc"] = ("body", *loc[2:])',
        'error["loc"] = loc',
        ("tests/test_blog_api.py::test_a_bad_field_is_named_as_the_client_sent_it_in_plain_words",),
    ),
    Guard(
        "pattern-in-words",
        "a pattern mismatch says in words what the field needs, not the regex",
        "{slug}/errors.py",
        'error["msg"] = f"String should {PATTERN_MEANINGS[pattern]}"',
        "pass",
        ("tests/test_blog_api.py::test_a_bad_field_is_named_as_the_client_sent_it_in_plain_words",),
    ),
    Guard(
        "docs-csrf-token",
        "the docs page carries the CSRF token that a session's writes need",
        "accounts/docs.py",
        '"add_csrf": True,',
        '"add_csrf": False,',
        (
            "tests/test_accounts.py::"
            "test_the_docs_page_carries_the_csrf_token_a_session_write_needs",
        ),
    ),
    Guard(
        "seeded-posts-have-an-author",
        "seed_posts gives every post an author who may edit it",
        "blog/management/commands/seed_posts.py",
        "                author=user,\n",
        "",
        ("tests/test_blog_queries.py::test_seed_posts_gives_every_post_an_author_who_may_edit_it",),
    ),
    Guard(
        "token-for-a-new-normal-user",
        "create_api_token --new-user makes a normal user, not staff",
        "accounts/management/commands/create_api_token.py",
        "user = users.create_user(**{users.model.USERNAME_FIELD: username})",
        "user = users.create_superuser(**{users.model.USERNAME_FIELD: username})",
        ("tests/test_accounts.py::test_create_api_token_makes_a_normal_user_for_a_new_client",),
    ),
    Guard(
        "tasks-claims-serialized",
        "task claims are serialized: four workers in two processes run each task once",
        "outbox/task_store.py",
        "    with transaction.atomic():\n        _serialize_claims()\n        rows = list(_due(",
        "    if True:\n        rows = list(_due(",
        (
            f"{TASK_WORKERS}::test_a_thousand_tasks_across_four_workers_in_two_processes_run_once_each",
        ),
    ),
    Guard(
        "tasks-lost-worker-lease",
        "a task whose worker was lost runs again when its lease ends",
        "outbox/task_store.py",
        "lapsed = Q(status=RUNNING, lease_until__lte=now)",
        "lapsed = Q(pk__in=[])",
        (f"{TASKS}::test_a_lost_workers_task_runs_again_after_its_lease",),
    ),
    Guard(
        "tasks-priority-first",
        "higher-priority tasks are claimed first",
        "outbox/task_store.py",
        '.order_by("-priority", "due_at")',
        '.order_by("priority", "due_at")',
        (f"{TASKS}::test_higher_priority_runs_first",),
    ),
    Guard(
        "tasks-retried-until-max-attempts",
        "a failed attempt is retried until the task's max_attempts",
        "outbox/task_store.py",
        "if outcome.final or attempt >= row.max_attempts:",
        "if True:",
        (f"{TASKS}::test_the_context_tells_a_task_its_attempt",),
    ),
    Guard(
        "tasks-give-up-is-final",
        "a task that raises GiveUp fails without its retries",
        "outbox/task_store.py",
        "if outcome.final or attempt >= row.max_attempts:",
        "if attempt >= row.max_attempts:",
        (f"{TASKS}::test_a_task_that_gives_up_fails_without_its_retries",),
    ),
    Guard(
        "tasks-timeout-per-attempt",
        "an attempt past its task's timeout fails, alone",
        "outbox/task_worker.py",
        "async with asyncio.timeout(row.timeout):",
        "async with asyncio.timeout(None):",
        (f"{TASKS}::test_a_task_past_its_timeout_fails_alone",),
    ),
    Guard(
        "tasks-stopping-worker-hands-back",
        "a stopping worker hands its tasks back, their attempt not counted",
        "outbox/task_store.py",
        "            row.worker_ids = row.worker_ids[:-1]\n",
        "",
        (f"{TASKS}::test_a_stopping_worker_hands_its_tasks_back",),
    ),
    Guard(
        "ready-shows-the-task-queue",
        "/api/ready shows the task queue",
        "{slug}/health.py",
        "outbox=backlog, tasks=queue",
        "outbox=backlog, tasks=None",
        (f"{TASKS}::test_ready_shows_the_task_queue",),
    ),
]


def run_tests(project: BakedProject, tests: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(project.path / ".venv/bin/pytest"), "-q", "-p", "no:cacheprovider", *tests],
        cwd=project.path,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


BAKES = {"default": "default_project", "redis": "redis_project"}


@pytest.mark.parametrize("bake", BAKES)
def test_every_guard_passes_on_the_unbroken_project(
    request: pytest.FixtureRequest, bake: str
) -> None:
    project: BakedProject = request.getfixturevalue(BAKES[bake])
    tests = sorted({test for guard in GUARDS if guard.bake == bake for test in guard.tests})

    result = run_tests(project, tuple(tests))

    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.parametrize("guard", GUARDS, ids=[guard.id for guard in GUARDS])
def test_breaking_the_behaviour_fails_its_guard(
    request: pytest.FixtureRequest, guard: Guard
) -> None:
    project: BakedProject = request.getfixturevalue(BAKES[guard.bake])
    path = project.path / guard.path.format(slug=project.slug)
    source = path.read_text()
    assert guard.original in source, f"{guard.id}: the code changed; update the guard"

    path.write_text(source.replace(guard.original, guard.broken))
    try:
        result = run_tests(project, guard.tests)
    finally:
        path.write_text(source)

    # 1: tests ran and failed (2 would be an import or collection error, not a caught break).
    assert result.returncode == 1, f"{guard.behaviour}: not caught\n{result.stdout[-4000:]}"
