"""Route order: prediction routes are tried first, which is safe only while no two overlap."""

from __future__ import annotations

import re

from starlette.routing import Match

from modelport import Settings
from modelport.api import create_app
from modelport.api.app import PREDICTION_PATHS


def test_prediction_routes_come_first_and_no_two_routes_answer_the_same_request(example_dir):
    app = create_app(Settings(bundle_path=example_dir, admin_keys=["admin"]))
    routes = [route for route in app.router.routes if getattr(route, "path", None)]
    leading = [route.path for route in routes][: sum(r.path in PREDICTION_PATHS for r in routes)]
    assert set(leading) == PREDICTION_PATHS
    for route in routes:
        concrete = re.sub(r"\{[^}]+\}", "m1", route.path)
        for method in getattr(route, "methods", None) or {"GET"}:
            scope = {"type": "http", "path": concrete, "method": method, "root_path": ""}
            also = [
                other.path
                for other in routes
                if other is not route and other.matches(scope)[0] is Match.FULL
            ]
            assert not also, f"{method} {concrete} is answered by {route.path} and {also}"
