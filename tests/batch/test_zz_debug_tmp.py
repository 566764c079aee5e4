import gc, warnings
from pathlib import Path
import pytest
from tests.batch.test_bad_input import runner, app, bank_csv, score


def test_dbg(example_dir: Path, tmp_path: Path, postgres_url: str):
    bank = str(example_dir / "bank-marketing.joblib")
    src = bank_csv(tmp_path / "c.csv")
    gc.collect()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = score(bank, str(src), "-o", postgres_url)
        gc.collect()
        print("after score", [str(x.message)[:80] for x in w])
        r = runner.invoke(app, ["runs", postgres_url, "--json"])
        gc.collect()
        print("after runs", [str(x.message)[:80] for x in w])
