"""Seeded simulation of weekly complaint counts with planted surges (benchmark and tests)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Sim:
    y: np.ndarray  # (C, T) counts
    exposure: np.ndarray  # (T,) total ticket volume (includes the cells' counts)
    base: np.ndarray  # (C,) baseline mean per week
    event: np.ndarray  # (C,) event kind: '' (null cell), 'step', 'ramp'
    size: np.ndarray  # (C,) step: relative rise (0.3 = +30%); ramp: rise per week
    onset: np.ndarray  # (C,) onset week (-1 for null cells)
    duration: int
    spike_week: int
    periods: np.ndarray  # (T,) period ordinals
    phi_choices: tuple[float, ...] = (1.5, 2.0)
    alpha_extra: float = 0.0

    def long(self, level: str = "topic") -> pd.DataFrame:
        C, T = self.y.shape
        return pd.DataFrame({
            "level": level,
            "cell": np.repeat(np.array([f"c{i}" for i in range(C)], dtype=object), T),
            "period": np.tile(self.periods, C),
            "count": self.y.ravel().astype(np.int64),
            "exposure": np.tile(self.exposure, C),
        })


def simulate(
    n_cells: int = 5000,
    n_weeks: int = 104,
    baselines: tuple[float, ...] = (2, 5, 10, 50),
    step_sizes: tuple[float, ...] = (0.3, 0.5, 1.0, 2.0),
    ramp_rate: float = 0.25,
    frac_events: float = 0.25,
    onset_range: tuple[int, int] = (60, 96),
    duration: int = 4,
    spike_week: int | None = 70,
    spike_factor: float = 1.8,
    phi_choices: tuple[float, ...] = (1.5, 2.0),
    alpha_extra: float = 0.0,
    season_amp: float = 0.3,
    seed: int = 0,
    first_period: int = 105_000,
) -> Sim:
    """Counts ~ negative binomial with mean base x season x volume x surge and variance
    phi mu + alpha mu^2 (phi per cell, Noufaily-style, plus a little gamma noise). Yearly seasonality
    with a random amplitude (0..season_amp) and phase per cell, plus a mild global one. One global
    spike week multiplies all volume (and every cell) by ``spike_factor``. A fraction of cells get
    one event: a step of +size for ``duration`` weeks, or a ramp compounding ``ramp_rate`` a week."""
    rng = np.random.default_rng(seed)
    C, T = n_cells, n_weeks
    weeks = np.arange(T)
    base = np.asarray(baselines, float)[np.arange(C) % len(baselines)]
    amp = rng.uniform(0, season_amp, C)
    phase = rng.uniform(0, 2 * np.pi, C)
    season = 1 + amp[:, None] * np.sin(2 * np.pi * weeks[None, :] / 52 + phase[:, None])
    vol = 1 + 0.1 * np.sin(2 * np.pi * weeks / 52) + 0.002 * weeks  # global: season + growth
    if spike_week is not None:
        vol = vol.copy()
        vol[spike_week] *= spike_factor
    mult = np.ones((C, T))
    kinds = np.array([""] * C, dtype=object)
    sizes = np.zeros(C)
    onset = np.full(C, -1)
    ev = rng.random(C) < frac_events
    ev_idx = np.nonzero(ev)[0]
    choices = [("step", s) for s in step_sizes] + [("ramp", ramp_rate)]
    pick = rng.integers(0, len(choices), len(ev_idx))
    starts = rng.integers(onset_range[0], onset_range[1] + 1, len(ev_idx))
    if spike_week is not None:  # keep planted events clear of the spike week
        clash = (starts <= spike_week) & (starts + duration > spike_week)
        starts[clash] = np.minimum(spike_week + 1 + (starts[clash] % 7), T - duration)
    for c, j, s0 in zip(ev_idx, pick, starts, strict=True):
        kind, size = choices[j]
        kinds[c], sizes[c], onset[c] = kind, size, s0
        d = np.arange(duration)
        mult[c, s0 : s0 + duration] = 1 + size if kind == "step" else (1 + size) ** (d + 1)
    mu = base[:, None] * season * vol[None, :] * mult
    phi = np.asarray(phi_choices)[rng.integers(0, len(phi_choices), C)]
    extra = (phi[:, None] - 1) + alpha_extra * mu
    size_nb = mu / np.maximum(extra, 1e-9)
    lam = rng.gamma(size_nb, mu / size_nb)
    y = rng.poisson(lam)
    other = rng.poisson(base.sum() * 1.5 * vol)  # tickets that are not in these cells
    exposure = (y.sum(axis=0) + other).astype(float)
    return Sim(y=y, exposure=exposure, base=base, event=kinds, size=sizes, onset=onset,
               duration=duration, spike_week=-1 if spike_week is None else spike_week,
               periods=first_period + weeks, phi_choices=tuple(phi_choices), alpha_extra=alpha_extra)
