"""The online API: one FastAPI application built by `create_app(settings)`."""

from modelport.api.app import create_app

__all__ = ["create_app"]
