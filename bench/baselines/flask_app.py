"""A tutorial-style Flask model server: record(s) → DataFrame → predict_proba (gunicorn, 1 worker)."""

import os

import joblib
import pandas as pd
from flask import Flask, jsonify, request

app = Flask(__name__)
model = joblib.load(os.environ["BENCH_MODEL_PATH"])


@app.get("/health")
def health():
    return "up"


@app.post("/predict")
def predict():
    body = request.get_json(force=True)
    rows = body if isinstance(body, list) else [body]
    frame = pd.DataFrame(rows)
    return jsonify({"prediction": model.predict_proba(frame).tolist()})
