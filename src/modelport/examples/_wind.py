"""Wind turbine: power from SCADA sensor averages, on a deterministic synthetic generator.

Column names follow the SCADA convention of public turbine data (`Ws1_avg`, `Ot_avg`, ...).
Every feature has a default (its median), so a caller may send only the wind speed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor

from modelport.metadata import ModelMetadata
from modelport.sample import profile_sample

SEED = 11
N_ROWS = 4000
RATED_KW = 2050.0
DESCRIPTIONS = {
    "Ws1_avg": "Wind speed from anemometer 1, m/s (the main input).",
    "Ws2_avg": "Wind speed from anemometer 2, m/s (a noisier second sensor).",
    "Ws_std": "Standard deviation of wind speed over the interval (turbulence), m/s.",
    "Wa_avg": "Absolute wind direction, degrees.",
    "Va_avg": "Vane position: wind direction relative to the nacelle, degrees.",
    "Ot_avg": "Outdoor temperature, °C.",
    "Yt_avg": "Nacelle temperature, °C.",
    "Gb1t_avg": "Gearbox bearing 1 temperature, °C.",
    "Gb2t_avg": "Gearbox bearing 2 temperature, °C.",
    "Db1t_avg": "Generator bearing 1 temperature, °C.",
    "Db2t_avg": "Generator bearing 2 temperature, °C.",
    "Pa_avg": "Air pressure, hPa.",
}


def power_curve(wind_speed: np.ndarray) -> np.ndarray:
    """Ideal power in kW: nothing below 3 m/s, cubic to rated at 12 m/s, cut out above 25."""
    ramp = np.clip((wind_speed - 3.0) / (12.0 - 3.0), 0.0, 1.0) ** 3
    return np.where(wind_speed > 25.0, 0.0, RATED_KW * ramp)


def generate(n_rows: int = N_ROWS, seed: int = SEED) -> tuple[pd.DataFrame, np.ndarray]:
    """Ten-minute sensor averages and the power produced, from a fixed seed."""
    rng = np.random.default_rng(seed)
    wind = rng.weibull(2.0, n_rows) * 8.0
    outdoor = rng.normal(11.0, 7.0, n_rows)
    vane = rng.normal(0.0, 8.0, n_rows)
    pressure = rng.normal(1013.0, 9.0, n_rows)
    density = (pressure / 1013.0) * (288.15 / (outdoor + 273.15))
    power = power_curve(wind) * np.cos(np.radians(vane)) ** 2 * np.clip(density, 0.85, 1.15)
    power = np.clip(power + rng.normal(0, 25.0, n_rows), 0.0, RATED_KW)
    load = power / RATED_KW
    frame = pd.DataFrame(
        {
            "Ws1_avg": wind + rng.normal(0, 0.3, n_rows),
            "Ws2_avg": wind + rng.normal(0, 1.5, n_rows),
            "Ws_std": np.abs(wind * 0.12 + rng.normal(0, 0.3, n_rows)),
            "Wa_avg": rng.uniform(0, 360, n_rows),
            "Va_avg": vane,
            "Ot_avg": outdoor,
            "Yt_avg": outdoor + 8 + 6 * load + rng.normal(0, 3, n_rows),
            "Gb1t_avg": outdoor + 30 + 25 * load + rng.normal(0, 6, n_rows),
            "Gb2t_avg": outdoor + 32 + 24 * load + rng.normal(0, 6, n_rows),
            "Db1t_avg": outdoor + 20 + 18 * load + rng.normal(0, 6, n_rows),
            "Db2t_avg": outdoor + 18 + 16 * load + rng.normal(0, 6, n_rows),
            "Pa_avg": pressure,
        }
    ).round(2)
    return frame, power.round(1)


def wind_turbine() -> tuple[Any, ModelMetadata]:
    """Gradient boosting on twelve sensors; a query with only `Ws1_avg` gets a sensible answer."""
    frame, power = generate()
    model = GradientBoostingRegressor(
        n_estimators=150, max_depth=3, learning_rate=0.1, random_state=SEED
    )
    model.fit(frame.to_numpy(), power)
    features = [
        spec.model_copy(update={"description": DESCRIPTIONS[spec.name]})
        for spec in profile_sample(frame).features
    ]
    return model, ModelMetadata(
        name="wind-turbine",
        version="1",
        features=features,
        description="Active power (kW) of a 2 MW wind turbine from ten-minute sensor averages.",
        examples=profile_sample(frame.head(5)).examples,
    )
