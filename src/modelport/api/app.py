"""`create_app(settings)`: the FastAPI application, wiring only."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import FrameType

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from modelport._version import __version__
from modelport.api.auth import Guard, KeyRing
from modelport.api.debug import BodyLogMiddleware, configured_secrets
from modelport.api.dispatch import Dispatcher
from modelport.api.gate import FastLane, Gate
from modelport.api.heap import change_models
from modelport.api.metrics import Metrics
from modelport.api.monitor import Monitor
from modelport.api.openapi import install_openapi
from modelport.api.prediction_log import close_prediction_log, create_prediction_log
from modelport.api.problems import install_problem_handlers
from modelport.api.routes import PROBE_PATHS, route_table
from modelport.api.routes.operation import to_routes
from modelport.api.state import ServerState, server_state
from modelport.parallel import shared_by
from modelport.registry import Registry
from modelport.settings import Settings

logger = logging.getLogger("modelport.api")

DOCS_PATHS = frozenset({"/docs", "/openapi.json", "/docs/oauth2-redirect", "/redoc"})
STATIC_PREFIX = "/static-offline-docs"
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's OpenTelemetry off: it would look the providers up on every request."""
PREDICTION_PATHS = frozenset(
    {
        "/predict",
        "/models/{name}/predict",
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
    }
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for the bundle (or folder of bundles) that settings name.

    The server accepts connections at once; models load in a background thread, and
    `/ready` answers 503 until every one is loaded.

    Raises:
        BundleError: the bundle path holds nothing to serve.
        StoreError: MODELPORT_PREDICTION_LOG names nothing a log can be written to.

    Example:
        >>> from fastapi.testclient import TestClient
        >>> app = create_app(Settings(bundle_path="iris.joblib"))  # doctest: +SKIP
        >>> with TestClient(app) as client:  # doctest: +SKIP
        ...     client.post("/predict", json={"petal length (cm)": 5.1}).json()
        {'prediction': ['virginica']}
    """
    settings = settings or Settings()  # a worker process reads the environment its parent set
    metrics = Metrics(drift=settings.drift)
    registry = Registry(
        settings,
        on_load=lambda name, ok: metrics.loads.labels(name, "loaded" if ok else "failed").inc(),
    )
    app = FastAPIOffline(
        title="modelport",
        version=__version__,
        description="Predictions, probabilities and explanations from " + ", ".join(registry.names),
        lifespan=_lifespan,
        static_url=STATIC_PREFIX,
        telemetry=None if settings.opentelemetry else NO_TELEMETRY,
    )
    prediction_log = create_prediction_log(settings, registry, metrics)
    app.state.modelport = ServerState(
        settings,
        registry,
        metrics,
        Dispatcher(settings, metrics),
        Monitor(settings, registry, metrics, log=prediction_log),
        started_at=time.time(),
        prediction_log=prediction_log,
    )
    install_problem_handlers(app)
    keys, admin_keys = KeyRing.from_settings(settings), KeyRing.for_admins(settings)
    operations = route_table(admin=admin_keys.enabled)
    # On the app itself, not an included router, so `app.routes` lists every one.
    app.router.routes.extend(to_routes(operations))
    install_openapi(app, operations, api_keys=keys.enabled, admin_keys=admin_keys.enabled)
    _prediction_routes_first(app)
    guard = None
    if keys.enabled or admin_keys.enabled:
        public = PROBE_PATHS | (DOCS_PATHS if settings.docs_public else frozenset())
        guard = Guard(
            keys,
            public_paths=public,
            admin_keys=admin_keys,
            # Swagger UI's own scripts and styles: without them a public /docs page is blank.
            public_prefixes=(STATIC_PREFIX + "/",) if settings.docs_public else (),
        )
    fast_lane = None
    if settings.debug:  # inside the gate, so its lines carry the request id
        app.add_middleware(BodyLogMiddleware, secrets=configured_secrets(settings))
    else:  # the body log needs the stack: in debug mode every route takes it
        hot = [r for r in app.router.routes if isinstance(r, Route) and r.path in PREDICTION_PATHS]
        fast_lane = FastLane(hot, app.exception_handlers)
    state = server_state(app)
    app.middleware_stack = Gate(
        app.build_middleware_stack(),
        metrics=metrics,
        guard=guard,
        body_timeout=settings.body_timeout,
        draining=lambda: state.draining,
        fast_lane=fast_lane,
    )
    return app


def _prediction_routes_first(app: FastAPI) -> None:
    """Starlette tries routes in order: the ones that take the load are tried first.

    No two routes' patterns overlap, so the order changes nothing but the time to find a
    route (about 15% of the app's own work for a one-row prediction, measured).
    """
    app.router.routes.sort(key=lambda route: getattr(route, "path", "") not in PREDICTION_PATHS)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state = server_state(app)
    registry = state.registry
    loading = asyncio.create_task(change_models(registry, registry.load_all))
    state.loading = loading
    _drain_on_sigterm(state, state.settings.drain_seconds)
    interval = state.settings.reload_interval
    watching = asyncio.create_task(_watch(registry, loading, interval)) if interval > 0 else None
    state.monitor.start()
    if state.prediction_log is not None:
        state.prediction_log.start()
    with shared_by(state.settings.workers):  # each worker process gets its share of the cores
        yield
    if watching is not None:
        watching.cancel()
    await run_in_threadpool(state.monitor.close)  # hands the last records to the log
    if state.prediction_log is not None:  # after the requests in flight: it writes their rows
        await asyncio.to_thread(close_prediction_log, state.prediction_log)
    if not loading.done():
        logger.info("stopping while models are still loading")


async def _watch(registry: Registry, loading: asyncio.Task[None], interval: float) -> None:
    """Hot reload: every `interval` seconds, load what changed on disk beside what serves."""
    await asyncio.shield(loading)
    while True:
        await asyncio.sleep(interval)
        try:
            await change_models(registry, registry.refresh)
        except Exception:  # a reload must never stop the server; the reason is logged
            logger.exception("checking the repository for changes failed")


def _drain_on_sigterm(state: ServerState, seconds: float) -> None:
    """SIGTERM: /ready turns 503 at once, requests are served `seconds` more (so a load
    balancer notices), then the server's own handler stops accepting and finishes what is
    in flight. A second SIGTERM stops at once.

    Installed at startup, after the server's handlers, and only in the main thread (a test
    client runs the app elsewhere and has no signals to handle).
    """
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        return
    server_handler = signal.getsignal(signal.SIGTERM)
    if not callable(server_handler):
        return
    loop = asyncio.get_running_loop()

    def on_sigterm(sig: int, frame: FrameType | None) -> None:
        if state.draining:
            server_handler(sig, frame)
            return
        state.draining = True
        logger.info("SIGTERM: /ready is 503; serving %.1f s more before stopping", seconds)
        loop.call_soon_threadsafe(loop.call_later, seconds, server_handler, sig, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
