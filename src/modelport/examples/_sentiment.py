"""Sentiment: TF-IDF + naive Bayes on a small corpus of short reviews kept in the package."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline

from modelport.metadata import FeatureSpec, FeatureType, ModelMetadata


def load_reviews() -> pd.DataFrame:
    """The labelled corpus: columns `text` and `label` (Positive or Negative)."""
    with (
        resources.files("modelport.examples")
        .joinpath("data/reviews.csv")
        .open("r", encoding="utf-8") as file
    ):
        return pd.read_csv(file)


def sentiment() -> tuple[Any, ModelMetadata]:
    """A text pipeline with one `text` feature: the classic sentiment API's model, in one piece."""
    reviews = load_reviews()
    model = Pipeline(
        [
            ("vectorise", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("classify", MultinomialNB(alpha=0.3)),
        ]
    )
    model.fit(reviews["text"], reviews["label"])
    text = FeatureSpec(
        name="text",
        type=FeatureType.TEXT,
        description="A short review in English.",
        example="Great value, the staff were friendly and helpful.",
    )
    return model, ModelMetadata(
        name="sentiment",
        version="1",
        features=[text],
        description="Is a short review Positive or Negative?",
        examples=[{"text": t} for t in reviews["text"].head(5)],
    )
