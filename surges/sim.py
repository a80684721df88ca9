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
        return pd.DataFrame(
            {
                "level": level,
                "cell": np.repeat(np.array([f"c{i}" for i in range(C)], dtype=object), T),
                "period": np.tile(self.periods, C),
                "count": self.y.ravel().astype(np.int64),
                "exposure": np.tile(self.exposure, C),
            }
        )


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
    return Sim(
        y=y,
        exposure=exposure,
        base=base,
        event=kinds,
        size=sizes,
        onset=onset,
        duration=duration,
        spike_week=-1 if spike_week is None else spike_week,
        periods=first_period + weeks,
        phi_choices=tuple(phi_choices),
        alpha_extra=alpha_extra,
    )


# --------------------------------------------------------------------------------------------------
@dataclass
class TicketSim:
    """Weekly counts of a simulated brand, in the shape the surge stage reads (see surges.cells)."""

    counts: pd.DataFrame  # week, intent, topic_id, product, model, batch, n, n_safety
    total: pd.Series  # all tickets per week
    product_total: pd.DataFrame  # week, product, n
    theme_of: dict[int, int]  # topic id -> theme id (complaint and question topics)
    weeks: list[int]
    planted: dict  # what was injected in the last week (empty for a null run)

    def table(self, themes: bool = True, until: int | None = None):  # noqa: ANN201
        from voc.surges.cells import count_table

        weeks = [w for w in self.weeks if until is None or w <= until]
        c = self.counts[self.counts["week"].isin(weeks)]
        pt = self.product_total[self.product_total["week"].isin(weeks)]
        return count_table(
            c, self.total.reindex(weeks), weeks, theme_of=self.theme_of if themes else None, product_total=pt
        )


def simulate_tickets(
    seed: int = 0,
    n_weeks: int = 26,
    n_products: int = 6,
    n_topics: int = 300,
    n_question_topics: int = 80,
    n_themes: int = 50,
    batches_per_model: int = 4,
    scenario: str = "null",
    first_period: int = 2800,
) -> TicketSim:
    """A brand's tickets as counts: products with 2 models each and batches entering the field over
    time (ramping up over 4 weeks, slowly fading); complaint topics with heavy-tailed weekly rates
    (most small), mostly about one product, grouped into themes with question topics; a few
    safety-heavy topics and one small safety series per product (~1-2 a week); negative binomial
    noise, a mild volume trend and a third of tickets that are neither complaint nor question.
    ``scenario`` plants one event in the last week: 'null' (none), 'theme' (a theme of 8-15 a week
    x2.5, 75% of the rise from one batch of one product), 'safety' (a product's safety tickets from
    ~1-2 to 6-8, inside a broader non-safety topic)."""
    rng = np.random.default_rng(seed)
    T = n_weeks
    weeks = list(range(first_period, first_period + T))
    prods = [f"P{i}" for i in range(n_products)]
    models = {p: [f"{p}-M{j}" for j in range(2)] for p in prods}
    batches: list[tuple[str, str, str, int]] = []  # product, model, batch, birth week index
    for p in prods:
        for m in models[p]:
            for b in range(batches_per_model):
                birth = int(rng.integers(-30, T - 3)) if b else -40
                batches.append((p, m, f"{m}-B{b}", birth))
    t_idx = np.arange(T)
    bw = np.zeros((len(batches), T))  # batch weight in its product's mix
    for i, (_, _, _, birth) in enumerate(batches):
        age = t_idx - birth
        bw[i] = np.where(age >= 0, np.minimum(1.0, (age + 1) / 4.0) * np.exp(-np.maximum(age, 0) / 80.0), 0.0)
    bprod = np.array([prods.index(b[0]) for b in batches])
    vol = 1.0 + 0.004 * t_idx + 0.05 * np.sin(2 * np.pi * t_idx / 52)

    def topics(n, intent, id0):
        rate = np.clip(np.exp(rng.normal(np.log(1.5), 1.1, n)), 0.1, 40.0)
        main = rng.integers(0, n_products, n)
        mix = np.zeros((n, n_products))
        mix[np.arange(n), main] = 1.0
        multi = rng.random(n) < 0.2
        mix[multi] = rng.dirichlet(np.ones(n_products), int(multi.sum()))
        p_safe = np.full(n, 0.002)  # stray safety mentions; the safety series below carry the rest
        return {
            "id": id0 + np.arange(n),
            "intent": intent,
            "rate": rate,
            "mix": mix,
            "p_safe": p_safe,
            "theme": rng.integers(0, n_themes, n),
            "phi": rng.uniform(1.2, 2.0, n),
        }

    groups = [topics(n_topics, "complaint", 1), topics(n_question_topics, "question", 10_001)]
    # one small safety series per product (~1-2 a week): a complaint topic of its own
    safe = {
        "id": np.arange(n_products) + 20_001,
        "intent": "complaint",
        "rate": rng.uniform(0.8, 1.6, n_products),
        "mix": np.eye(n_products),
        "p_safe": np.ones(n_products),
        "theme": rng.integers(0, n_themes, n_products),
        "phi": np.full(n_products, 1.2),
    }
    groups.append(safe)
    rows: list[tuple] = []
    planted: dict = {}
    extra: dict[tuple[int, int], tuple[int, int]] = {}  # (topic id, batch index) -> (n, n_safety), last week
    if scenario == "theme":
        g = groups[0]
        q = groups[1]
        th_rate = np.bincount(g["theme"], g["rate"], n_themes) + np.bincount(q["theme"], q["rate"], n_themes)
        cand = np.nonzero((th_rate >= 8) & (th_rate <= 15))[0]
        th = int(rng.choice(cand)) if len(cand) else int(np.argmin(np.abs(th_rate - 11)))
        members = np.nonzero(g["theme"] == th)[0]
        rise = int(rng.poisson(1.5 * th_rate[th] * vol[-1]))
        p_main = int(
            np.argmax(np.bincount(np.argmax(g["mix"][members], axis=1), g["rate"][members], n_products))
        )
        live = np.nonzero((bprod == p_main) & (bw[:, -1] > 0))[0]
        b_main = int(rng.choice(live))
        w_t = g["rate"][members] / g["rate"][members].sum()
        n_batch = int(round(0.75 * rise))
        for j, k in zip(members, rng.multinomial(n_batch, w_t), strict=True):
            if k:
                extra[(int(g["id"][j]), b_main)] = (int(k), 0)
        spread = rng.multinomial(rise - n_batch, w_t)
        for j, k in zip(members, spread, strict=True):
            pp = np.nonzero(bprod == int(np.argmax(g["mix"][j])))[0]
            for bi, kk in zip(pp, rng.multinomial(int(k), bw[pp, -1] / bw[pp, -1].sum()), strict=True):
                if kk:
                    e = extra.get((int(g["id"][j]), int(bi)), (0, 0))
                    extra[(int(g["id"][j]), int(bi))] = (e[0] + int(kk), 0)
        planted = {
            "theme": int(th),
            "base": float(th_rate[th]),
            "rise": rise,
            "product": prods[p_main],
            "batch": batches[b_main][2],
            "topics": [int(g["id"][j]) for j in members],
        }
    elif scenario == "safety":
        pi = int(rng.integers(0, n_products))
        g = groups[0]
        host = np.nonzero((np.argmax(g["mix"], axis=1) == pi) & (g["p_safe"] < 0.1))[0]
        j_host = int(host[np.argmax(g["rate"][host])])
        target = int(rng.integers(6, 9))
        planted = {"product": prods[pi], "topic": int(g["id"][j_host]), "target": target}
    for g in groups:
        n_t = len(g["id"])
        mu = g["rate"][:, None] * vol[None, :]
        size = mu / np.maximum((g["phi"][:, None] - 1.0), 1e-9) + 1e-9
        y = rng.poisson(rng.gamma(np.maximum(size, 1e-6), mu / np.maximum(size, 1e-6)))
        for jt in range(n_t):
            if not y[jt].any():
                continue
            w_b = g["mix"][jt][bprod][None, :] * bw.T  # (T, batches)
            split = rng.multinomial(y[jt], w_b / w_b.sum(axis=1, keepdims=True))
            ts, bs = np.nonzero(split)
            kt = split[ts, bs]
            kst = rng.binomial(kt, g["p_safe"][jt])
            rows.extend(
                zip(
                    np.asarray(weeks)[ts].tolist(),
                    [g["intent"]] * len(ts),
                    [int(g["id"][jt])] * len(ts),
                    bs.tolist(),
                    kt.tolist(),
                    kst.tolist(),
                    strict=True,
                )
            )
    if scenario == "safety":
        pi = prods.index(planted["product"])
        sid = 20_001 + pi
        have = sum(r[5] for r in rows if r[0] == weeks[-1] and r[2] == sid)
        add = max(0, planted["target"] - have)
        live = np.nonzero((bprod == pi) & (bw[:, -1] > 0))[0]
        for bi in rng.choice(live, add):
            e = extra.get((planted["topic"], int(bi)), (0, 0))
            extra[(planted["topic"], int(bi))] = (e[0] + 1, e[1] + 1)
        planted["observed"] = have + add
    intents = {int(i): g["intent"] for g in groups for i in g["id"]}
    for (tid, b_i), (n_x, ns_x) in extra.items():
        rows.append((weeks[-1], intents[tid], tid, b_i, n_x, ns_x))
    df = pd.DataFrame(rows, columns=["week", "intent", "topic_id", "b", "n", "n_safety"])
    df["product"] = [batches[b][0] for b in df["b"]]
    df["model"] = [batches[b][1] for b in df["b"]]
    df["batch"] = [batches[b][2] for b in df["b"]]
    df = df.groupby(["week", "intent", "topic_id", "product", "model", "batch"], as_index=False)[
        ["n", "n_safety"]
    ].sum()
    # tickets that are neither complaint nor question (praise, service requests): a third more
    per_prod = df.groupby(["week", "product"])["n"].sum().unstack(fill_value=0).reindex(weeks, fill_value=0)
    other = rng.poisson(0.5 * per_prod.to_numpy().mean(axis=0)[None, :] * vol[:, None])
    prod_total = per_prod + other
    pt = prod_total.stack().rename("n").reset_index()
    pt.columns = ["week", "product", "n"]
    total = pd.Series(prod_total.sum(axis=1).to_numpy() + rng.poisson(20, T), index=weeks, dtype=float)
    theme_of = {int(i): int(h) for g in groups for i, h in zip(g["id"], g["theme"], strict=True)}
    return TicketSim(
        counts=df, total=total, product_total=pt, theme_of=theme_of, weeks=weeks, planted=planted
    )
