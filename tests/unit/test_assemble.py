"""`modelport bundle`'s core: separate pickles joined into one bundle, metadata from a sample."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelport import BundleError, FeatureType, Predictor, Task, load_bundle, save_bundle
from modelport.assemble import assemble, read_sample
from modelport.examples._bank import generate


@pytest.fixture
def encoded_pickles(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame]:
    """What a tutorial leaves: an encoder pickle, a model pickle and the training table."""
    frame, subscribed = generate(n_rows=400)
    columns = ["job", "marital", "housing"]
    encoder = OneHotEncoder(sparse_output=False).fit(frame[columns])
    model = LogisticRegression(max_iter=500).fit(encoder.transform(frame[columns]), subscribed)
    with open(tmp_path / "encoder.pkl", "wb") as file:
        pickle.dump(encoder, file)
    joblib.dump(model, tmp_path / "model.pkl")
    sample = frame[columns].assign(subscribed=subscribed)
    return tmp_path / "model.pkl", tmp_path / "encoder.pkl", sample


def test_encoder_and_model_become_one_pipeline_with_inferred_metadata(encoded_pickles, tmp_path):
    model_path, encoder_path, sample = encoded_pickles
    result = assemble(
        model_path, preprocessor_path=encoder_path, sample=sample, target="subscribed", name="bank"
    )
    metadata = result.metadata
    assert metadata.feature_names == ["job", "marital", "housing"]
    job = metadata.feature("job")
    assert job.type is FeatureType.CATEGORICAL
    assert set(job.categories) == set(sample["job"])
    assert job.default == sample["job"].mode()[0]
    assert metadata.task is Task.BINARY_CLASSIFICATION
    assert len(metadata.examples) == 5
    save_bundle(result.estimator, tmp_path / "bank.joblib", metadata)
    predictor = Predictor(load_bundle(tmp_path / "bank.joblib"))
    # Absent features take the sample's modes: the joined pipeline's own answer for that row.
    row = {"job": "student", "marital": metadata.feature("marital").default}
    row["housing"] = metadata.feature("housing").default
    expected = result.estimator.predict(pd.DataFrame([row])).tolist()
    assert predictor.predict_records({"job": "student"}) == expected
    assert predictor.predict_records(row) == expected


def test_sample_columns_the_model_does_not_take_are_named_in_a_note(encoded_pickles):
    model_path, encoder_path, sample = encoded_pickles
    result = assemble(model_path, preprocessor_path=encoder_path, sample=sample.assign(extra=1))
    assert any("extra" in note and "subscribed" in note for note in result.notes)


def test_vectoriser_and_naive_bayes_become_a_text_model(tmp_path):
    texts = [
        "great product, love it",
        "awful, broke at once",
        "really good value",
        "terrible and slow",
    ] * 5
    labels = ["Positive", "Negative", "Positive", "Negative"] * 5
    vectoriser = TfidfVectorizer().fit(texts)
    model = MultinomialNB().fit(vectoriser.transform(texts), labels)
    joblib.dump(vectoriser, tmp_path / "vectoriser.pkl")
    joblib.dump(model, tmp_path / "model.pkl")
    sample = pd.DataFrame({"review": texts, "label": labels})
    result = assemble(
        tmp_path / "model.pkl",
        preprocessor_path=tmp_path / "vectoriser.pkl",
        sample=sample,
        target="label",
    )
    assert [(f.name, f.type) for f in result.metadata.features] == [("review", FeatureType.TEXT)]
    predictor = Predictor(load_bundle_of(result, tmp_path))
    assert predictor.predict_records({"review": "love it, great"}) == ["Positive"]


def load_bundle_of(result, folder: Path):
    save_bundle(result.estimator, folder / "joined.joblib", result.metadata)
    return load_bundle(folder / "joined.joblib")


def test_without_a_sample_the_note_says_what_is_unknown(tmp_path):
    model = StandardScaler().fit(np.ones((3, 2)))
    joblib.dump(
        LogisticRegression().fit(np.arange(8.0).reshape(4, 2), [0, 0, 1, 1]), tmp_path / "m.pkl"
    )
    joblib.dump(model, tmp_path / "scaler.pkl")
    result = assemble(tmp_path / "m.pkl", preprocessor_path=tmp_path / "scaler.pkl")
    assert result.metadata.feature_names == ["f0", "f1"]
    assert any("no sample" in note for note in result.notes)


def test_a_preprocessor_without_transform_is_refused(tmp_path):
    joblib.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), tmp_path / "m.pkl")
    joblib.dump({"not": "a transformer"}, tmp_path / "p.pkl")
    with pytest.raises(BundleError, match="not a preprocessor"):
        assemble(tmp_path / "m.pkl", preprocessor_path=tmp_path / "p.pkl")


def test_a_model_without_predict_is_refused(tmp_path):
    joblib.dump(StandardScaler().fit([[0.0], [1.0]]), tmp_path / "m.pkl")
    with pytest.raises(BundleError, match="not a model"):
        assemble(tmp_path / "m.pkl")


def test_a_missing_target_column_is_named(encoded_pickles):
    model_path, encoder_path, sample = encoded_pickles
    with pytest.raises(BundleError, match="no column 'label'"):
        assemble(model_path, preprocessor_path=encoder_path, sample=sample, target="label")


def test_a_sample_the_pipeline_cannot_predict_is_refused(tmp_path):
    joblib.dump(
        LogisticRegression().fit(np.arange(8.0).reshape(4, 2), [0, 0, 1, 1]), tmp_path / "m.pkl"
    )
    sample = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0], "c": [5.0, 6.0]})
    with pytest.raises(BundleError, match="3 features but the model was fitted on 2"):
        assemble(tmp_path / "m.pkl", sample=sample)


def test_read_sample_reports_missing_and_unreadable_files(tmp_path):
    with pytest.raises(BundleError, match="sample file not found"):
        read_sample(tmp_path / "none.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(BundleError, match="cannot read the sample"):
        read_sample(tmp_path / "empty.csv")
    (tmp_path / "ok.csv").write_text("a,b\n1,x\n2,y\n")
    assert read_sample(tmp_path / "ok.csv").shape == (2, 2)


def test_categories_come_from_the_encoder_not_only_the_sample(encoded_pickles):
    model_path, encoder_path, sample = encoded_pickles
    few = sample[sample["job"].isin(["student", "retired"])]
    result = assemble(model_path, preprocessor_path=encoder_path, sample=few, target="subscribed")
    assert set(result.metadata.feature("job").categories) == set(sample["job"])
