"""`create_app(settings)`: the FastAPI application, wiring only."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from modelport._version import __version__
from modelport.api.auth import PROBE_PATHS, BearerAuthMiddleware, KeyRing
from modelport.api.middleware import RequestIdMiddleware
from modelport.api.openapi import install_openapi
from modelport.api.problems import install_problem_handlers
from modelport.api.routes.classic import create_classic_router
from modelport.api.routes.server import create_server_router
from modelport.registry import Registry
from modelport.settings import Settings

logger = logging.getLogger("modelport.api")

DOCS_PATHS = frozenset({"/docs", "/openapi.json", "/docs/oauth2-redirect", "/redoc"})
STATIC_PREFIX = "/static-offline-docs"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for the bundle (or folder of bundles) that settings name.

    The server accepts connections at once; models load in a background thread, and
    `/ready` answers 503 until every one is loaded.

    Raises:
        BundleError: the bundle path holds nothing to serve.

    Example:
        >>> from fastapi.testclient import TestClient
        >>> app = create_app(Settings(bundle_path="iris.joblib"))  # doctest: +SKIP
        >>> with TestClient(app) as client:  # doctest: +SKIP
        ...     client.post("/predict", json={"petal length (cm)": 5.1}).json()
        {'prediction': ['virginica']}
    """
    settings = settings or Settings()
    registry = Registry(settings)
    app = FastAPIOffline(
        title="modelport",
        version=__version__,
        description="Predictions, probabilities and explanations from " + ", ".join(registry.names),
        lifespan=_lifespan,
        static_url=STATIC_PREFIX,
    )
    app.state.settings = settings
    app.state.registry = registry
    app.state.draining = False
    app.state.started_at = time.time()
    install_problem_handlers(app)
    install_openapi(app)
    app.include_router(create_server_router())
    app.include_router(create_classic_router())
    keys = KeyRing.from_settings(settings)
    if keys.enabled:
        public = PROBE_PATHS | (DOCS_PATHS if settings.docs_public else frozenset())
        app.add_middleware(BearerAuthMiddleware, keys=keys, public_paths=public)
    app.add_middleware(RequestIdMiddleware)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    registry: Registry = app.state.registry
    loading = asyncio.create_task(asyncio.to_thread(registry.load_all))
    app.state.loading = loading
    yield
    if not loading.done():
        logger.info("stopping while models are still loading")
