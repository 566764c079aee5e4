"""The dashboard's four pages, each a function of the model source (and the store)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from modelport.dashboard.sources import ModelSource
from modelport.errors import InvalidInputError, ModelportError
from modelport.metadata import FeatureSpec, FeatureType, ModelMetadata


def try_model(source: ModelSource, name: str) -> None:
    """A form built from the metadata, the answer, and why the model gave it."""
    metadata = source.metadata(name)
    st.header(f"Try {name}")
    if metadata.description:
        st.caption(metadata.description)
    with st.form("try"):
        record = {spec.name: _field(spec) for spec in metadata.features}
        pressed = st.form_submit_button("Predict", type="primary")
    if not pressed:
        return
    record = {key: value for key, value in record.items() if value is not None}
    try:
        label, probabilities = source.predict(name, record)
    except InvalidInputError as error:
        for problem in error.problems:
            st.error(f"{problem.field or 'input'}: {problem.detail}")
        return
    except ModelportError as error:
        st.error(str(error))
        return
    st.metric("prediction", str(label))
    if probabilities:
        st.subheader("Class probabilities")
        st.bar_chart(pd.DataFrame({"probability": probabilities}), horizontal=True)
    if metadata.is_explainable:
        _explanation(source, name, record, label)


def _field(spec: FeatureSpec) -> Any:
    help_text = spec.description or None
    if spec.type is FeatureType.TEXT:
        return st.text_area(
            spec.name, value=str(spec.example or spec.default or ""), help=help_text
        )
    if spec.type is FeatureType.BOOLEAN:
        return st.checkbox(spec.name, value=bool(spec.default), help=help_text)
    if spec.type is FeatureType.CATEGORICAL and spec.categories:
        options = list(spec.categories)
        index = options.index(spec.default) if spec.default in options else 0
        return st.selectbox(spec.name, options, index=index, help=help_text)
    if spec.type is FeatureType.CATEGORICAL:
        return st.text_input(spec.name, value=str(spec.default or ""), help=help_text) or None
    return _number(spec, help_text)


def _number(spec: FeatureSpec, help_text: str | None) -> Any:
    integer = spec.type is FeatureType.INTEGER
    default = spec.default if isinstance(spec.default, int | float) else spec.example
    value = default if isinstance(default, int | float) else (spec.min or 0)
    low, high = spec.min, spec.max
    if low is not None and high is not None and low < high:
        span = max(abs(high - low), 1e-9)
        low, high = low - span, high + span  # the training range, with room either side
    if integer:
        return st.number_input(
            spec.name,
            value=int(value),
            min_value=int(np.floor(low)) if low is not None else None,
            max_value=int(np.ceil(high)) if high is not None else None,
            step=1,
            help=help_text,
        )
    step = (
        10.0 ** np.floor(np.log10(abs(high - low) / 100))
        if low is not None and high is not None and high > low
        else 0.1
    )
    return st.number_input(
        spec.name,
        value=float(value),
        min_value=float(low) if low is not None else None,
        max_value=float(high) if high is not None else None,
        step=float(step),
        format="%g",
        help=help_text,
    )


def _explanation(source: ModelSource, name: str, record: dict[str, Any], label: Any) -> None:
    try:
        explanation = source.explain(name, record)
    except ModelportError as error:
        st.info(f"no explanation: {error}")
        return
    values, base = explanation["values"], explanation["base_value"]
    if isinstance(base, dict):  # multiclass: the predicted class
        values, base = values[str(label)], base[str(label)]
    contributions = pd.Series(values).sort_values(key=abs, ascending=False)
    st.subheader("Why: each feature's contribution")
    st.caption(
        f"in {explanation['output']} space: the base value {base:.4g} plus the contributions "
        f"make {base + contributions.sum():.4g}"
    )
    st.bar_chart(contributions.rename("contribution").iloc[::-1], horizontal=True)


def score_file(source: ModelSource, name: str) -> None:
    """Upload a CSV, see and download its predictions; rows that fail say why."""
    st.header(f"Score a file with {name}")
    upload = st.file_uploader("A CSV file with a header row", type=["csv"])
    if upload is None:
        return
    try:
        table = pd.read_csv(upload, dtype=str, keep_default_na=False, na_values=[""])
        scored = source.score(name, table)
    except (ValueError, pd.errors.ParserError) as error:
        st.error(f"cannot score this file: {error}")
        return
    rejected = len({p.row for p in scored.problems})
    st.write(f"{len(scored.predictions):,} rows scored, {rejected:,} rejected")
    st.dataframe(scored.predictions, hide_index=True)
    st.download_button(
        "Download the predictions (CSV)",
        scored.predictions.to_csv(index=False).encode(),
        file_name=f"{name}-predictions.csv",
        mime="text/csv",
    )
    if scored.problems:
        st.subheader("Rejected rows")
        st.dataframe(
            pd.DataFrame(
                [{"row": p.row, "field": p.field, "problem": p.detail} for p in scored.problems]
            ),
            hide_index=True,
        )


def published(location: str | None, table: str) -> None:
    """Runs in a predictions store, a run's rows with filters, and a look-up by id."""
    st.header("Published predictions")
    if not location:
        st.info(
            "no predictions store given: start the dashboard with "
            "`--predictions sqlite:///predictions.db` (or a Parquet folder, a CSV file)"
        )
        return
    from modelport.store import open_store

    try:
        with open_store(location, table) as store:
            runs = store.runs()
            if not runs:
                st.info(f"no runs in {location} yet: `modelport score` writes them")
                return
            st.dataframe(_runs_table(runs), hide_index=True)
            finished = [run.id for run in runs if run.status == "completed"] or [runs[-1].id]
            chosen = st.selectbox("Run", finished[::-1])
            rows = store.rows(chosen)
            _rows(rows)
            _look_up(store, runs[-1].options.get("id_column") or "row")
    except ModelportError as error:
        st.error(str(error))


def _runs_table(runs: list[Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "run": run.id,
                "status": run.status,
                "model": run.model,
                "version": run.model_version,
                "read": run.rows_read,
                "scored": run.rows_scored,
                "rejected": run.rows_rejected,
                "started": run.started_at,
            }
            for run in runs[::-1]
        ]
    )


def _rows(rows: pd.DataFrame) -> None:
    if rows.empty:
        st.info("this run published no rows")
        return
    predictions = rows["prediction"]
    if pd.api.types.is_float_dtype(predictions):
        counts, edges = np.histogram(predictions, bins=20)
        chart = pd.Series(counts, index=[f"{edge:.3g}" for edge in edges[:-1]], name="rows")
    else:
        chosen = st.multiselect("Predictions", sorted(map(str, predictions.unique())))
        if chosen:
            rows = rows[predictions.astype(str).isin(chosen)]
        chart = rows["prediction"].astype(str).value_counts().rename("rows")
    st.bar_chart(chart)
    st.dataframe(rows, hide_index=True)


def _look_up(store: Any, id_column: str) -> None:
    wanted = st.text_input(f"Look up the latest prediction of an id ({id_column})")
    if not wanted:
        return
    ids: list[Any] = [wanted] + ([int(wanted)] if wanted.lstrip("-").isdigit() else [])
    found = store.latest(ids)
    if found.empty:
        st.warning(f"no completed run published {wanted!r}")
    else:
        st.dataframe(found, hide_index=True)


def model_card(source: ModelSource, name: str) -> None:
    """What the model is: task, classes, features, importances, version and hash."""
    metadata: ModelMetadata = source.metadata(name)
    facts = source.facts(name)
    st.header(name)
    if metadata.description:
        st.write(metadata.description)
    st.table(
        pd.DataFrame(
            {
                "task": [str(metadata.task or "-")],
                "classes": [", ".join(metadata.class_names or []) or "-"],
                "version": [facts.get("version") or "-"],
                "runtime": [facts.get("runtime") or "-"],
                "sha256": [facts.get("sha256") or "-"],
            }
        ).T.rename(columns={0: ""})
    )
    features = pd.DataFrame(
        [
            {
                "feature": spec.name,
                "type": str(spec.type),
                "default": spec.default,
                "range / categories": _range(spec),
                "description": spec.description or "",
            }
            for spec in metadata.features
        ]
    )
    st.dataframe(features.astype(str), hide_index=True)
    importances = {spec.name: spec.importance for spec in metadata.features if spec.importance}
    if importances:
        st.subheader("Feature importances")
        st.bar_chart(pd.Series(importances, name="importance").sort_values(), horizontal=True)


def _range(spec: FeatureSpec) -> str:
    if spec.categories:
        return ", ".join(map(str, spec.categories[:8])) + (
            ", ..." if len(spec.categories) > 8 else ""
        )
    if spec.min is not None and spec.max is not None:
        return f"{spec.min:g} .. {spec.max:g}"
    return "-"
