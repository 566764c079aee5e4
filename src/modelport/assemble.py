"""Join the separate pickles tutorials leave behind (preprocessor + model) into one bundle."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from modelport.bundle import load_object
from modelport.categories import infer_categories
from modelport.completion import complete_metadata
from modelport.errors import BundleError, InvalidInputError, ModelportError
from modelport.introspection import is_text_pipeline
from modelport.metadata import FeatureSpec, FeatureType, ModelMetadata
from modelport.profile import Profile, profile_input
from modelport.sample import profile_sample
from modelport.validation import validate_records

SAMPLE_ROWS_CHECKED = 200


@dataclass
class Assembly:
    """The joined estimator, its inferred metadata, and what could not be inferred."""

    estimator: Any
    metadata: ModelMetadata
    notes: list[str] = field(default_factory=list)
    profile: Profile | None = None
    """The sample's reference profile, for drift (none without a sample)."""


def assemble(
    model_path: str | os.PathLike[str],
    *,
    preprocessor_path: str | os.PathLike[str] | None = None,
    sample: pd.DataFrame | None = None,
    target: str | None = None,
    name: str | None = None,
) -> Assembly:
    """Load a model (and a preprocessor), join them in a Pipeline, infer metadata from a sample.

    The sample gives types, categories, defaults (median or mode), ranges and example rows;
    the joined pipeline must then predict the sample without error.

    Raises:
        BundleError: a file can't be read, isn't what it should be, or the pipeline fails
            on the sample.
    """
    model, _ = load_object(model_path)
    if not callable(getattr(model, "predict", None)):
        raise BundleError(
            f"{model_path} holds a {type(model).__name__}, not a model (no predict method)"
        )
    estimator = model
    if preprocessor_path is not None:
        preprocessor, _ = load_object(preprocessor_path)
        if not callable(getattr(preprocessor, "transform", None)):
            raise BundleError(
                f"{preprocessor_path} holds a {type(preprocessor).__name__}, "
                "not a preprocessor (no transform method)"
            )
        estimator = Pipeline([("preprocess", preprocessor), ("model", model)])
    notes: list[str] = []
    given = ModelMetadata(name=name)
    if sample is not None:
        sample = _drop_target(sample, target)
        given = _from_sample(estimator, sample, name, notes)
    else:
        notes.append("no sample given: features have no types, defaults, ranges or example rows")
    metadata = complete_metadata(estimator, given)
    if not metadata.features:
        notes.append("the model does not say how many features it takes: add them to the metadata")
    profile = None
    if sample is not None:
        _check_predicts(estimator, metadata, sample)
        profile = _profile(estimator, metadata, sample)
    return Assembly(estimator=estimator, metadata=metadata, notes=notes, profile=profile)


def _drop_target(sample: pd.DataFrame, target: str | None) -> pd.DataFrame:
    if target is None:
        return sample
    if target not in sample.columns:
        raise BundleError(
            f"the sample has no column {target!r} "
            f"(its columns: {', '.join(map(str, sample.columns))})"
        )
    return sample.drop(columns=[target])


def _from_sample(
    estimator: Any, sample: pd.DataFrame, name: str | None, notes: list[str]
) -> ModelMetadata:
    if is_text_pipeline(estimator):
        texts = [c for c in sample.columns if not pd.api.types.is_numeric_dtype(sample[c])]
        if not texts:
            raise BundleError("the model takes text but the sample has no text column")
        column = str(texts[0])
        spec = FeatureSpec(name=column, type=FeatureType.TEXT, example=str(sample[column].iloc[0]))
        rows = [{column: str(text)} for text in sample[column].head(5)]
        return ModelMetadata(name=name, features=[spec], examples=rows)
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is not None:
        extra = [str(c) for c in sample.columns if c not in set(fitted)]
        if extra:
            notes.append(f"sample columns the model does not take were ignored: {', '.join(extra)}")
        sample = sample[[c for c in sample.columns if c in set(fitted)]]
    profile = profile_sample(sample)
    notes.extend(profile.notes)
    known = infer_categories(estimator)  # the encoder saw every category; a sample may not
    features = [
        f.model_copy(update={"type": FeatureType.CATEGORICAL, "categories": known[f.name]})
        if f.name in known and (f.default is None or f.default in known[f.name])
        else f
        for f in profile.features
    ]
    return ModelMetadata(name=name, features=features, examples=profile.examples)


def _check_predicts(estimator: Any, metadata: ModelMetadata, sample: pd.DataFrame) -> None:
    """Run the joined pipeline on the sample, so a mismatch shows now, not in production."""
    from modelport.bundle import ModelBundle
    from modelport.predictor import Predictor

    rows = sample.head(SAMPLE_ROWS_CHECKED)
    records = rows.astype(object).where(rows.notna(), None).to_dict("records")
    records = [{k: v for k, v in r.items() if k in set(metadata.feature_names)} for r in records]
    try:
        X = validate_records(records, metadata, max_rows=len(records))
        Predictor(ModelBundle(estimator, metadata)).predict(X)
    except InvalidInputError as error:
        raise BundleError(f"the joined model cannot predict the sample: {error}") from None
    except ModelportError:
        raise
    except Exception as error:  # the user's own code: any failure is worth one clear line
        raise BundleError(
            f"the joined model failed on the sample: {type(error).__name__}: {error}"
        ) from None


def _profile(estimator: Any, metadata: ModelMetadata, sample: pd.DataFrame) -> Profile:
    from modelport.bundle import ModelBundle
    from modelport.predictor import Predictor

    try:
        return profile_input(Predictor(ModelBundle(estimator, metadata)), sample)
    except InvalidInputError as error:
        raise BundleError(f"cannot profile the sample: {error}") from None


def read_sample(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A CSV or Parquet sample of the training data.

    Raises:
        BundleError: the file is missing, empty or not a table.
    """
    path = Path(path)
    try:
        if path.suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except FileNotFoundError:
        raise BundleError(f"sample file not found: {path}") from None
    except (
        pd.errors.EmptyDataError,
        pd.errors.ParserError,
        UnicodeDecodeError,
        ValueError,
        ImportError,
    ) as error:
        raise BundleError(f"cannot read the sample {path}: {error}") from None
