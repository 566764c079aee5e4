"""Permutation SHAP values, drawn from a generator of their own.

SHAP's `PermutationExplainer` shuffles with numpy's global generator and reseeds it when
built, so explanations running at once disturb each other and everything else in the
process that draws random numbers. This is the same estimate (antithetic permutations
against background rows, as SHAP computes it with an independent masker) with a seeded
`numpy.random.Generator` per row: a row is always explained the same way, whatever runs
beside it, and numpy's global generator is never touched.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MAX_BACKGROUND = 100
"""Background rows each masked input is completed with (SHAP's masker keeps 100 too)."""


class PermutationShap:
    """SHAP values of `model` for rows of numbers, against background rows.

    Args:
        model: rows (a 2-D float array) → one output per row (1-D) or per row and class.
        background: rows hidden features take their values from (sampled down to 100).
        seed: where each row's permutations start; the same seed gives the same values.
    """

    def __init__(
        self, model: Callable[[np.ndarray], np.ndarray], background: np.ndarray, seed: int
    ) -> None:
        background = np.asarray(background, dtype=np.float64)
        if len(background) > MAX_BACKGROUND:
            chosen = np.random.default_rng(seed).choice(len(background), MAX_BACKGROUND, False)
            background = background[np.sort(chosen)]
        self.model = model
        self.background = background
        self.seed = seed
        self.base_value = np.asarray(model(background), dtype=np.float64).mean(axis=0)

    def __call__(self, X: np.ndarray, max_evals: int) -> tuple[np.ndarray, np.ndarray]:
        """Values `[n_rows, n_features(, n_outputs)]` and base values, one per row.

        `base_value + sum(values)` is the model's output for each row, exactly: every
        permutation's contributions add up to it.
        """
        X = np.asarray(X, dtype=np.float64)
        permutations = max(1, max_evals // (2 * X.shape[1] + 1))
        values = np.stack([self._row(x, permutations) for x in X])
        base = np.broadcast_to(self.base_value, (len(X), *self.base_value.shape))
        return values, base

    def _row(self, x: np.ndarray, permutations: int) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        n_features, n_background = len(x), len(self.background)
        steps = np.arange(n_features + 1)[:, None]
        total = np.zeros((n_features, *self.base_value.shape))
        for _ in range(permutations):
            rank = np.empty(n_features, dtype=np.int64)
            order = rng.permutation(n_features)
            rank[order] = np.arange(n_features)
            # Features switched on one by one in `order`, then off again in the same order.
            masks = np.concatenate([rank < steps, rank >= steps[1:]])
            inputs = np.where(masks[:, None, :], x, self.background[None, :, :])
            outputs = np.asarray(
                self.model(inputs.reshape(-1, n_features)), dtype=np.float64
            ).reshape(len(masks), n_background, *self.base_value.shape)
            deltas = np.diff(outputs.mean(axis=1), axis=0)
            total[order] += deltas[:n_features] - deltas[n_features:]
        return total / (2 * permutations)
