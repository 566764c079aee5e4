"""Read and write bundles (joblib/pickle and skops), pinned by sha256 when asked."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
from pydantic import ValidationError

from modelport.atomic import write_atomically
from modelport.completion import complete_metadata
from modelport.errors import BundleError
from modelport.metadata import ModelMetadata
from modelport.profile import PROFILE_VERSION, Profile

SKOPS_SUFFIX = ".skops"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelBundle:
    """A fitted estimator and everything known about it, as loaded from one file."""

    estimator: Any
    metadata: ModelMetadata
    path: Path | None = None
    sha256: str | None = None
    profile: Profile | None = None
    """The training data's reference profile, when the bundle carries one (drift needs it)."""

    @property
    def name(self) -> str:
        """The metadata's name, else the file's stem, else `model`."""
        return self.metadata.name or (self.path.stem if self.path else "model")


def load_bundle(
    path: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    trusted_types: Iterable[str] = (),
) -> ModelBundle:
    """Load a bundle file and complete its metadata.

    Accepts the Flask template's `{"model": ..., "metadata": {...}}` joblib/pickle dict, a bare
    pickled estimator or Pipeline, and the secure `.skops` format. Loading a pickle runs code
    from the file: pin it with `sha256`, or use `.skops` for files from others.

    Args:
        path: the bundle file.
        sha256: expected hex digest; the bytes are hashed in memory and loaded from that
            same copy, so a file swapped after the check is never loaded.
        trusted_types: types a `.skops` file may hold beyond skops' safe defaults.

    Raises:
        BundleError: with one sentence saying what is wrong with the file.

    Example:
        >>> bundle = load_bundle("iris.joblib")  # doctest: +SKIP
        >>> bundle.metadata.task
        <Task.MULTICLASS_CLASSIFICATION: 'MULTICLASS_CLASSIFICATION'>
    """
    path = Path(path)
    content, digest = load_object(path, sha256=sha256, trusted_types=trusted_types)
    estimator, given = _split(path, content)
    try:
        metadata = complete_metadata(estimator, given)
    except BundleError as error:
        raise BundleError(f"{path}: {error}") from None
    profile = _profile(path, content.get("profile") if isinstance(content, dict) else None)
    return ModelBundle(
        estimator=estimator, metadata=metadata, path=path, sha256=digest, profile=profile
    )


def load_object(
    path: str | os.PathLike[str], *, sha256: str | None = None, trusted_types: Iterable[str] = ()
) -> tuple[Any, str]:
    """Whatever object a joblib, pickle or skops file holds, and the file's sha256.

    `load_bundle` builds on this; `modelport bundle` uses it for bare preprocessors.

    Raises:
        BundleError: the file is missing, empty, corrupt, untrusted or has another hash.
    """
    path = Path(path)
    data = _read_bytes(path)
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256.lower():
        raise BundleError(
            f"{path} has sha256 {digest}, expected {sha256.lower()}: refusing to load it"
        )
    if path.suffix == SKOPS_SUFFIX:
        return _loads_skops(path, data, list(trusted_types)), digest
    return _loads_pickle(path, data), digest


def save_bundle(
    estimator: Any,
    path: str | os.PathLike[str],
    metadata: ModelMetadata | None = None,
    profile: Profile | None = None,
) -> str:
    """Write a bundle, joblib or `.skops` by the file's suffix, atomically.

    Args:
        profile: the training data's reference profile (`modelport.profile`), stored as
            plain data beside the metadata.

    Returns:
        The sha256 of the written file, to pin it when loading.
    """
    path = Path(path)
    content: dict[str, Any] = {"model": estimator, "metadata": _stored(metadata or ModelMetadata())}
    if profile is not None:
        content["profile"] = profile.model_dump(mode="json")
    if path.suffix == SKOPS_SUFFIX:
        import skops.io

        data = skops.io.dumps(content)
    else:
        buffer = io.BytesIO()
        joblib.dump(content, buffer)
        data = buffer.getvalue()
    write_atomically(path, data)
    return hashlib.sha256(data).hexdigest()


def _stored(metadata: ModelMetadata) -> dict[str, Any]:
    """Metadata as plain data; what load time infers from the estimator is not stored."""
    return metadata.model_dump(
        mode="json", exclude_none=True, exclude={"input_kind", "is_explainable", "allows_nan"}
    )


def _profile(path: Path, raw: Any) -> Profile | None:
    """The stored profile; none in the file (an older bundle) or a newer shape is no profile,
    since a model serves without one; a malformed one is an error, as malformed metadata is."""
    if raw is None:
        return None
    if isinstance(raw, dict) and isinstance(raw.get("version"), int):
        if raw["version"] > PROFILE_VERSION:
            logger.warning(
                "%s: its reference profile has version %s, newer than this modelport reads "
                "(%s): drift has no reference",
                path,
                raw["version"],
                PROFILE_VERSION,
            )
            return None
    try:
        return Profile.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BundleError(
            f"{path} has an invalid reference profile{f' at {where}' if where else ''}: "
            f"{first['msg']}"
        ) from None


def _read_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise BundleError(f"{path} is a folder, not a bundle file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"bundle file not found: {path}") from None
    except OSError as error:
        raise BundleError(f"cannot read bundle {path}: {error.strerror or error}") from None
    if not data:
        raise BundleError(f"{path} is empty")
    return data


def _loads_pickle(path: Path, data: bytes) -> Any:
    try:
        return joblib.load(io.BytesIO(data))
    except ModuleNotFoundError as error:
        raise BundleError(
            f"{path} needs the Python module {error.name!r}, which is not installed"
        ) from None
    except (EOFError, pickle.UnpicklingError, ValueError, IndexError, KeyError) as error:
        raise BundleError(
            f"{path} is not a readable joblib or pickle file (truncated or corrupt: {error})"
        ) from None
    except Exception as error:  # unpickling runs arbitrary code; any failure is the file's
        raise BundleError(
            f"{path} could not be unpickled: {type(error).__name__}: {error}"
        ) from None


def _loads_skops(path: Path, data: bytes, trusted: list[str]) -> Any:
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(data=data)
        refused = sorted(set(untrusted) - set(trusted))
        if refused:
            raise BundleError(
                f"{path} holds types that are not trusted: {', '.join(refused)} "
                "(trust them with MODELPORT_TRUSTED_TYPES if you trust the file's author)"
            )
        return skops.io.loads(data, trusted=untrusted)
    except BundleError:
        raise
    except ModuleNotFoundError as error:
        raise BundleError(
            f"{path} needs the Python module {error.name!r}, which is not installed"
        ) from None
    except Exception as error:  # a corrupt zip, a malformed schema: all the file's fault
        raise BundleError(
            f"{path} is not a readable skops file: {type(error).__name__}: {error}"
        ) from None


def _split(path: Path, content: Any) -> tuple[Any, ModelMetadata]:
    """The estimator and the metadata the file gives (empty when it gives none)."""
    raw_metadata: Any = {}
    if isinstance(content, dict):
        if "model" not in content:
            keys = ", ".join(sorted(map(str, content))) or "none"
            raise BundleError(f"{path} holds a dict without a 'model' key (its keys: {keys})")
        estimator, raw_metadata = content["model"], content.get("metadata") or {}
    else:
        estimator = content
    if not callable(getattr(estimator, "predict", None)):
        raise BundleError(
            f"{path} holds a {type(estimator).__name__}, not a model (it has no predict method)"
        )
    _check_fitted(path, estimator)
    if not isinstance(raw_metadata, dict):
        raise BundleError(f"{path}: metadata must be a dict, not a {type(raw_metadata).__name__}")
    try:
        return estimator, ModelMetadata.model_validate(raw_metadata)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise BundleError(
            f"{path} has invalid metadata{f' at {where}' if where else ''}: {message}"
        ) from None


def _check_fitted(path: Path, estimator: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise BundleError(
            f"{path} holds an unfitted {type(estimator).__name__}: call fit() before saving it"
        ) from None
    except TypeError:
        pass  # not a scikit-learn estimator: duck-typed models are trusted to be ready
