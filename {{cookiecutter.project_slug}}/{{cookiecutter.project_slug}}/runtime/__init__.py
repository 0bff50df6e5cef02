"""How the project runs, apart from what it is (settings, urls, api).

The ASGI handler, the lifespan wrapper, the body limit, the middleware, the request log,
the log stream, the deploy-check shim and the SQLite backend: each module says in its
first lines what it saves, and how that was measured.
"""
