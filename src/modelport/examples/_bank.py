"""Bank marketing: a deterministic synthetic generator of term-deposit campaign calls.

Shaped like the well-known UCI data set (which cannot be downloaded here): a client's age,
job, marital status, education, balance, loans, and the last call's duration and count.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelport.metadata import ModelMetadata
from modelport.sample import profile_sample

SEED = 7
N_ROWS = 3000
JOBS = [
    "admin",
    "blue-collar",
    "entrepreneur",
    "management",
    "retired",
    "services",
    "student",
    "technician",
    "unemployed",
]
CATEGORICAL = ["job", "marital", "education", "housing", "loan"]
INTEGER = ["age", "balance", "duration", "campaign"]
DESCRIPTIONS = {
    "age": "Client's age in years.",
    "job": "Type of job.",
    "marital": "Marital status.",
    "education": "Highest education level.",
    "balance": "Average yearly balance, in euros (may be negative).",
    "housing": "Has a housing loan?",
    "loan": "Has a personal loan?",
    "duration": "Duration of the last call, in seconds.",
    "campaign": "Number of calls to this client during this campaign, including the last.",
}


def generate(n_rows: int = N_ROWS, seed: int = SEED) -> tuple[pd.DataFrame, np.ndarray]:
    """Clients and whether each subscribed (True), from a fixed seed: the same rows every time."""
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(41, 11, n_rows), 18, 92).astype(int)
    job = rng.choice(JOBS, n_rows, p=[0.13, 0.2, 0.04, 0.2, 0.06, 0.1, 0.03, 0.19, 0.05])
    job = np.where(age > 62, "retired", job)
    marital = rng.choice(["married", "single", "divorced"], n_rows, p=[0.6, 0.28, 0.12])
    education = rng.choice(["primary", "secondary", "tertiary"], n_rows, p=[0.15, 0.52, 0.33])
    balance = np.round(rng.lognormal(6.5, 1.3, n_rows) - 300).astype(int)
    housing = rng.choice(["yes", "no"], n_rows, p=[0.55, 0.45])
    loan = rng.choice(["yes", "no"], n_rows, p=[0.16, 0.84])
    duration = np.round(rng.exponential(260, n_rows) + 5).astype(int)
    campaign = rng.geometric(0.4, n_rows)
    logit = (
        -3.2
        + 0.0045 * duration
        + 0.9 * np.isin(job, ["student", "retired"])
        + 0.35 * (education == "tertiary")
        - 0.6 * (housing == "yes")
        - 0.4 * (loan == "yes")
        - 0.12 * (campaign - 1)
        + 0.00006 * balance
        + 0.2 * (marital == "single")
    )
    subscribed = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "age": age,
            "job": job,
            "marital": marital,
            "education": education,
            "balance": balance,
            "housing": housing,
            "loan": loan,
            "duration": duration,
            "campaign": campaign,
        }
    )
    return frame, subscribed


def _metadata(name: str, description: str, frame: pd.DataFrame) -> ModelMetadata:
    features = [
        spec.model_copy(update={"description": DESCRIPTIONS[spec.name]})
        for spec in profile_sample(frame).features
    ]
    return ModelMetadata(
        name=name,
        version="1",
        description=description,
        features=features,
        examples=profile_sample(frame.head(5)).examples,
    )


def bank_marketing() -> tuple[Any, ModelMetadata]:
    """A Pipeline: one-hot encoded categories and scaled integers into a logistic regression."""
    frame, subscribed = generate()
    encode = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="error"), CATEGORICAL),
            ("integer", StandardScaler(), INTEGER),
        ]
    )
    model = Pipeline([("encode", encode), ("classify", LogisticRegression(max_iter=1000))])
    model.fit(frame, np.where(subscribed, "yes", "no"))
    description = "Will the client subscribe a term deposit after this campaign call? (yes/no)"
    return model, _metadata("bank-marketing", description, frame)


def lightgbm_binary() -> tuple[Any, ModelMetadata]:
    """LightGBM on the same clients, its categorical features given as pandas categories."""
    from lightgbm import LGBMClassifier

    frame, subscribed = generate()
    typed = frame.copy()
    for column in CATEGORICAL:
        typed[column] = pd.Categorical(frame[column], categories=sorted(frame[column].unique()))
    model = LGBMClassifier(
        n_estimators=80, num_leaves=15, learning_rate=0.1, random_state=SEED, verbose=-1, n_jobs=1
    )
    model.fit(typed, subscribed.astype(int))
    description = (
        "Will the client subscribe a term deposit? (1 = yes), LightGBM with native categories."
    )
    return model, _metadata("lightgbm-binary", description, frame)
