"""Bearer-token auth, checked by the gate in front of every route, so none can forget it."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from starlette.responses import Response
from starlette.types import Scope

from modelport.api.problems import problem_response
from modelport.errors import ConfigurationError
from modelport.settings import Settings

ADMIN_PREFIX = "/v2/repository"
"""Paths under it take an admin key, and only an admin key."""


@dataclass(frozen=True)
class KeyRing:
    """Clients' names and the sha256 of their keys; keys themselves are never kept."""

    digests: tuple[tuple[str, bytes], ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """Keys from MODELPORT_API_KEYS (named key-1, key-2, ...) and MODELPORT_API_KEYS_FILE."""
        pairs = _named(settings.api_keys, "key")
        if settings.api_keys_file is not None:
            pairs += read_keys_file(settings.api_keys_file)
        return cls(tuple(pairs))

    @classmethod
    def for_admins(cls, settings: Settings) -> KeyRing:
        """Keys from MODELPORT_ADMIN_KEYS (named admin-1, admin-2, ...)."""
        return cls(tuple(_named(settings.admin_keys, "admin")))

    @property
    def enabled(self) -> bool:
        """Auth is on when at least one key is configured."""
        return bool(self.digests)

    def identify(self, token: bytes) -> str | None:
        """The client's name for this token, or None; every stored digest is compared."""
        digest = hashlib.sha256(token).digest()
        caller = None
        for name, expected in self.digests:
            if hmac.compare_digest(digest, expected) and caller is None:
                caller = name
        return caller


def _named(keys: list[SecretStr], prefix: str) -> list[tuple[str, bytes]]:
    return [
        (f"{prefix}-{i}", hashlib.sha256(key.get_secret_value().encode()).digest())
        for i, key in enumerate(keys, start=1)
    ]


def read_keys_file(path: Path) -> list[tuple[str, bytes]]:
    """Parse `name: sha256-hex` lines; blank lines and `#` comments are skipped.

    Raises:
        ConfigurationError: the file is missing or a line is malformed (names the line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(
            f"cannot read the API keys file {path}: {error.strerror or error}"
        ) from None
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, digest = (part.strip() for part in line.partition(":"))
        try:
            raw = bytes.fromhex(digest)
        except ValueError:
            raw = b""
        if not name or len(raw) != 32:
            raise ConfigurationError(
                f"{path} line {number}: expected 'name: <64 hex digits of sha256>'"
            )
        pairs.append((name, raw))
    return pairs


class Guard:
    """Refuses every request without a known bearer token, except probes (and docs if public).

    Paths under an admin prefix need an admin key, and only an admin key. Without API keys
    the other routes are open. The caller's name (never the key) is put in
    `scope["state"]["caller"]` for logs and metrics.
    """

    def __init__(
        self,
        keys: KeyRing,
        public_paths: frozenset[str],
        admin_keys: KeyRing | None = None,
        admin_prefix: str = ADMIN_PREFIX,
        public_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.keys = keys
        self.public_paths = public_paths
        self.public_prefixes = public_prefixes
        self.admin_keys = admin_keys or KeyRing(())
        self.admin_prefix = admin_prefix

    def refusal(self, scope: Scope) -> Response | None:
        """The 401 to answer, or None (the request may go on; its caller is named)."""
        path = _route_path(scope)
        admin = path == self.admin_prefix or path.startswith(self.admin_prefix + "/")
        keys = self.admin_keys if admin else self.keys
        public = path in self.public_paths or path.startswith(self.public_prefixes)
        if not admin and (public or not self.keys.enabled):
            return None
        token = _bearer_token(scope)
        caller = keys.identify(token) if token else None
        if caller is None:
            detail = (
                "a bearer token is required" if token is None else "the bearer token is not valid"
            )
            error = "" if token is None else ', error="invalid_token"'
            return problem_response(
                None,
                401,
                detail,
                title="Unauthorized",
                path=scope["path"],
                headers={"WWW-Authenticate": f"Bearer{error}"},
            )
        scope.setdefault("state", {})["caller"] = caller
        return None


def _route_path(scope: Scope) -> str:
    """The path as the app's router sees it: without the prefix it is mounted under."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _bearer_token(scope: Scope) -> bytes | None:
    """The token of `Authorization: Bearer <token>`; b"" for another scheme, None if absent."""
    key: bytes
    value: bytes
    for key, value in scope["headers"]:
        if key == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
            return b""
    return None
