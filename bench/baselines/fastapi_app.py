"""A tutorial-style FastAPI model server: pydantic rows → DataFrame → predict_proba (uvicorn)."""

import os

import joblib
import pandas as pd
from fastapi import FastAPI
from pydantic import create_model

model = joblib.load(os.environ["BENCH_MODEL_PATH"])
# The tutorials' `class Row(BaseModel): f0: float ...`, written out for the model's columns.
Row = create_model("Row", **dict.fromkeys(model.feature_names_in_, (float, ...)))
app = FastAPI()


@app.get("/health")
def health() -> str:
    return "up"


@app.post("/predict")
def predict(rows: list[Row]) -> dict:  # type: ignore[valid-type]
    frame = pd.DataFrame([row.model_dump() for row in rows])
    return {"prediction": model.predict_proba(frame).tolist()}
