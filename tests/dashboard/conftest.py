"""The real server fixture of the end-to-end tests, for the remote mode."""

from tests.e2e.conftest import serve  # noqa: F401 - a fixture, used by name
