"""A table with a pandas `category` column, for models that read categories themselves."""

from __future__ import annotations

import numpy as np
import pandas as pd

CITY = pd.CategoricalDtype(["rome", "paris", "oslo"])
"""Not in sorted order: the order the model was trained with must survive serving."""


def city_table(n: int = 240) -> tuple[pd.DataFrame, np.ndarray]:
    """`city` (a category) and `size` (a number), and a label that needs both."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "city": pd.Series(rng.choice(CITY.categories, n)).astype(CITY),
            "size": rng.normal(size=n),
        }
    )
    return X, ((X["city"] == "paris").to_numpy() ^ (X["size"] > 0).to_numpy()).astype(int)
