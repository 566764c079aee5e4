"""The Monitoring page: how far a model's inputs and answers have moved from its reference.

The report is the one `/drift` answers and `modelport drift --json` prints; where it comes
from depends on the source: a server's live window, else the prediction log
(`MODELPORT_PREDICTION_LOG`), else a table the user uploads. The charts are built from
the report by plain functions, so they are tested without Streamlit.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from modelport.batch.drift import Drift, parse_since
from modelport.dashboard.sources import Embedded, ModelSource, Remote
from modelport.drift import PREDICTION
from modelport.errors import ModelportError
from modelport.settings import Settings
from modelport.store import is_url

STATUS_COLOURS = {"ok": "#2e7d32", "warn": "#ef8f00", "alert": "#c62828", "no-data": "#9e9e9e"}
"""Bar colour per status (each bar is also labelled with its status, for those who can't
tell the colours apart)."""
PREDICTION_LABEL = "(prediction)"
"""The predictions' row among the features, as `modelport drift` prints it."""
SINCE = {
    "the last hour": "1h",
    "the last 24 hours": "24h",
    "the last 7 days": "7d",
    "the last 30 days": "30d",
    "every row": None,
}
"""The prediction log's rows the report is drawn from, by age."""
_TICKS = (0.5, 1, 2, 5, 10, 20, 50)
_NO_PROFILE = (
    "{name} has no reference profile in {where} to compare with: add one with "
    "`modelport profile BUNDLE --sample TRAINING_TABLE --output PROFILED_BUNDLE`"
)
UPLOAD_TYPES = ["csv", "tsv", "txt", "gz", "parquet", "pq", "jsonl", "ndjson", "json"]
"""What `modelport drift --input` reads from a file, by suffix."""


def monitoring(source: ModelSource, name: str, settings: Settings) -> None:
    """The drift of the model's inputs and predictions: PSI per feature and shares per bin."""
    st.header(f"Monitor {name}")
    try:
        drift = _drift(source, name, settings)
    except ModelportError as error:
        st.error(str(error))
        return
    if drift is not None:
        show_drift(drift, settings, name)


def _drift(source: ModelSource, name: str, settings: Settings) -> Drift | None:
    """The report from where this source has one; None when the user has still to choose."""
    if isinstance(source, Remote):
        try:
            report = source.drift(name)
        except ModelportError as error:  # an older server, drift off, an unknown model
            raise ModelportError(f"{source.where} gives no drift for {name}: {error}") from None
        window = f"the last {report['window']:,} rows" if report.get("window") else "the rows"
        st.caption(f"live: {window} {source.where} served")
        return Drift(report)
    assert isinstance(source, Embedded)
    if not source.has_profile(name):
        st.warning(_NO_PROFILE.format(name=name, where="its bundle"))
        return None
    if settings.prediction_log:
        chosen = st.selectbox("Rows served in", list(SINCE), index=1, key=f"since-{name}")
        age = SINCE[chosen]
        st.caption(f"from the prediction log {_shown(settings.prediction_log)}")
        return source.drift_of_log(name, settings.prediction_log, parse_since(age) if age else None)
    upload = st.file_uploader(
        "A table to compare with the training data (CSV, Parquet or JSON lines)",
        type=UPLOAD_TYPES,
        key=f"drift-table-{name}",
    )
    if upload is None:
        st.info(
            "upload a table of recent inputs, or start the dashboard with "
            "MODELPORT_PREDICTION_LOG set to the log the server writes"
        )
        return None
    st.caption(f"from {upload.name}")
    kept = f"drift-of-{name}-{upload.file_id}"  # an upload does not change: read it once
    if kept not in st.session_state:
        st.session_state[kept] = source.drift_of_upload(name, upload.name, upload.getvalue())
    drift: Drift = st.session_state[kept]
    return drift


def show_drift(drift: Drift, settings: Settings, name: str) -> None:
    """The report: its status and size, PSI bars, and a chosen feature's bins."""
    report = drift.report
    if report["status"] == "no-reference":
        st.warning(
            _NO_PROFILE.format(name=name, where="the server")
            + " (or serve it with MODELPORT_DRIFT_REFERENCE=first-window, which takes the "
            "first window of rows served as the reference once it is full)"
        )
        return
    warn, alert = thresholds(report, settings)
    prediction = report.get(PREDICTION)
    left, middle, right = st.columns(3)
    left.metric("drift", report["status"])
    held = f"{report['rows']:,}" + (f" of {report['window']:,}" if report.get("window") else "")
    middle.metric("rows held" if report.get("window") else "rows compared", held)
    right.metric("prediction PSI", _psi_text(prediction), help=_status_help(prediction))
    for note in drift.notes:
        st.caption(f"note: {note}")
    if not report["rows"]:
        st.info("no rows to compare yet")
        return
    table = psi_table(report)
    st.subheader("Population stability index")
    st.caption(f"warn from {warn:g}, alert from {alert:g} (the dashed lines)")
    st.vega_lite_chart(psi_chart(table, warn, alert), width="stretch")
    st.dataframe(table, hide_index=True)
    st.subheader("Reference and current shares")
    chosen = st.selectbox("Feature", table["feature"].tolist(), key=f"drift-feature-{name}")
    entry = _entries(report)[chosen]
    st.vega_lite_chart(shares(entry), shares_chart(), width="stretch")


def thresholds(report: dict[str, Any], settings: Settings) -> tuple[float, float]:
    """The report's own thresholds (the server's), else the dashboard's settings."""
    given = report.get("thresholds") or {}
    return float(given.get("warn", settings.drift_warn)), float(
        given.get("alert", settings.drift_alert)
    )


def psi_table(report: dict[str, Any]) -> pd.DataFrame:
    """One row per feature and for the predictions: PSI, status and rows, largest PSI first
    (those without rows last)."""
    entries = _entries(report)
    table = pd.DataFrame(
        [
            {"feature": name, "psi": entry["psi"], "status": entry["status"], "rows": entry["rows"]}
            for name, entry in entries.items()
        ],
        columns=["feature", "psi", "status", "rows"],
    )
    return table.sort_values("psi", ascending=False, na_position="last", kind="stable").reset_index(
        drop=True
    )


def _entries(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each feature's entry by name, and the predictions' as `(prediction)`."""
    entries = dict(report["features"])
    if report.get(PREDICTION):
        entries[PREDICTION_LABEL] = report[PREDICTION]
    return entries


def psi_chart(table: pd.DataFrame, warn: float, alert: float) -> dict[str, Any]:
    """Vega-Lite: a bar per feature coloured and labelled by status, and a dashed line at
    each threshold. The scale is logarithmic past the warn threshold, so a PSI of 5 does
    not flatten the ones near the lines."""
    bars = table.dropna(subset=["psi"])[["feature", "psi", "status"]].to_dict("records")
    largest = max([alert, *(bar["psi"] for bar in bars)])
    top = next((tick for tick in _TICKS if tick >= largest), largest)  # the lines always show
    x = {
        "field": "psi",
        "type": "quantitative",
        "title": "PSI",
        "scale": {"type": "symlog", "constant": max(warn, 1e-3), "domain": [0, top]},
        "axis": {
            "values": [0, warn, alert, *(tick for tick in _TICKS if alert < tick <= top)],
            "format": "~g",
        },
    }
    y = {"field": "feature", "type": "nominal", "sort": None, "title": None}
    colour = {
        "field": "status",
        "type": "nominal",
        "scale": {"domain": list(STATUS_COLOURS), "range": list(STATUS_COLOURS.values())},
        "legend": {"title": "status"},
    }
    return {
        "layer": [
            {
                "data": {"values": bars},
                "mark": {"type": "bar"},
                "encoding": {
                    "x": x,
                    "y": y,
                    "color": colour,
                    "tooltip": [{"field": "feature"}, {"field": "psi"}, {"field": "status"}],
                },
            },
            {
                "data": {"values": bars},
                "mark": {"type": "text", "align": "left", "dx": 4},
                "encoding": {"x": x, "y": y, "text": {"field": "status"}},
            },
            *(
                {
                    "data": {"values": [{"psi": value, "threshold": label}]},
                    "mark": {"type": "rule", "strokeDash": [6, 4], "color": STATUS_COLOURS[label]},
                    "encoding": {
                        "x": {"field": "psi", "type": "quantitative"},
                        "tooltip": [{"field": "threshold"}, {"field": "psi"}],
                    },
                }
                for label, value in (("warn", warn), ("alert", alert))
            ),
        ]
    }


def shares(entry: dict[str, Any]) -> pd.DataFrame:
    """One row per bin and side: the bin, `reference` or `current`, and its share of rows."""
    return pd.DataFrame(
        [
            {"bin": str(label), "side": side, "share": share}
            for side in ("reference", "current")
            for label, share in zip(entry["bins"], entry[side], strict=True)
        ],
        columns=["bin", "side", "share"],
    )


def shares_chart() -> dict[str, Any]:
    """Vega-Lite, over `shares`: each bin's reference and current share side by side, bins
    in their order."""
    return {
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "bin", "type": "nominal", "sort": None, "title": None},
            "xOffset": {"field": "side", "sort": ["reference", "current"]},
            "y": {"field": "share", "type": "quantitative", "axis": {"format": "%"}},
            "color": {
                "field": "side",
                "type": "nominal",
                "scale": {"domain": ["reference", "current"], "range": ["#8c9eb5", "#1f4e99"]},
                "legend": {"title": None},
            },
            "tooltip": [{"field": "bin"}, {"field": "side"}, {"field": "share", "format": ".1%"}],
        },
    }


def _shown(location: str) -> str:
    """A log's location as it may be shown: a database URL without its password."""
    if not is_url(location):
        return location
    from modelport.store.sql import safe_url

    return safe_url(location)


def _psi_text(entry: dict[str, Any] | None) -> str:
    if entry is None or entry["psi"] is None:
        return "-"
    return f"{entry['psi']:.3f} ({entry['status']})"


def _status_help(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "the bundle's profile holds no predictions to compare with"
    return f"{entry['rows']:,} predictions compared"
