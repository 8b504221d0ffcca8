"""Pictures of results: profit with confidence intervals, and trajectories of stock, orders and exposure.

Plots read results documents and trajectories only, never the env's internals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from coord_env.fileio import atomic_output
from coord_env.harness.trajectory import Trajectory

__all__ = [
    "plot_learning_curves",
    "plot_performance_profiles",
    "plot_profit",
    "plot_trajectories",
]


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: str | Path) -> None:
    """Save ``figure`` atomically, in the format its suffix names (PNG when it has none)."""
    file_format = Path(path).suffix.lstrip(".").lower() or "png"
    with atomic_output(path, "wb") as handle:
        figure.savefig(handle, format=file_format)


def plot_profit(results: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Mean episode profit with its 95% bootstrap CI, one bar per policy, and every seed as a dot.

    Parameters
    ----------
    results : sequence of results documents (same scenario)
    path : where to write the PNG

    Returns
    -------
    Path of the written file.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    names = [r["policy"] for r in results]
    # Horizontal bars, one row per policy from the top: long names stay readable at any count.
    figure = _figure(7.2, 1.3 + 0.34 * len(results))
    axes = figure.add_subplot()
    means = np.array([r["profit"]["mean"] for r in results])
    low = means - np.array([r["profit"]["ci_low"] for r in results])
    high = np.array([r["profit"]["ci_high"] for r in results]) - means
    positions = np.arange(len(results))
    axes.barh(positions, means, height=0.6, color="tab:blue", alpha=0.35)
    axes.errorbar(
        means,
        positions,
        xerr=[low, high],
        fmt="o",
        color="tab:blue",
        capsize=4,
        label="mean, 95% CI",
    )
    rng = np.random.default_rng(0)  # jitter only
    for position, result in zip(positions, results, strict=True):
        profits = [row["profit"] for row in result["per_seed"]]
        axes.scatter(
            profits,
            position + rng.uniform(-0.2, 0.2, len(profits)),
            s=6,
            color="black",
            alpha=0.5,
            label="one seed" if position == 0 else None,
        )
    axes.axvline(0.0, color="grey", linewidth=0.8)
    axes.set_yticks(positions, names)
    axes.invert_yaxis()  # the first policy on top, as in the table
    axes.xaxis.set_major_locator(MaxNLocator(nbins=7))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1000:,.0f}k"))
    axes.set_xlabel("episode profit")
    axes.grid(axis="x", alpha=0.3)
    axes.set_title(
        f"{results[0]['scenario']}: profit over {len(results[0]['seeds'])} seeds", fontsize="medium"
    )
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    _save(figure, path)
    return Path(path)


def plot_trajectories(
    trajectories: Mapping[str, Trajectory], path: str | Path, products: Sequence[int] | None = None
) -> Path:
    """Per-product on-hand, orders and exposure over time, one column per policy.

    Parameters
    ----------
    trajectories : mapping policy name -> Trajectory of the same scenario and seed
    path : where to write the PNG
    products : which products to draw (default: the first four)
    """
    names = list(trajectories)
    first = trajectories[names[0]]
    products = list(products if products is not None else range(min(4, first.num_products)))
    figure = _figure(4.2 * len(names), 7.0)
    grid = figure.subplots(3, len(names), sharex=True, squeeze=False)
    colors = [f"C{i}" for i in range(len(products))]
    rows = (
        ("on_hand_start", "on-hand (period start)"),
        ("orders", "orders"),
        ("impressions", "exposure (impressions)"),
    )
    for column, name in enumerate(names):
        trajectory = trajectories[name]
        periods = np.arange(trajectory.num_periods)
        for row, (field, label) in enumerate(rows):
            axes = grid[row][column]
            values = getattr(trajectory, field)
            for color, product in zip(colors, products, strict=True):
                axes.plot(
                    periods,
                    values[:, product],
                    color=color,
                    linewidth=1.0,
                    label=f"product {product}",
                )
            if column == 0:
                axes.set_ylabel(label)
            if row == 0:
                axes.set_title(name)
        grid[-1][column].set_xlabel("period")
    grid[0][0].legend(loc="upper right", fontsize="x-small")
    figure.tight_layout()
    _save(figure, path)
    return Path(path)


def plot_learning_curves(
    curves: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray]]],
    path: str | Path,
    references: Mapping[str, float] | None = None,
    title: str = "",
    x_label: str = "environment steps",
    y_label: str = "held-out episode profit",
) -> Path:
    """Held-out profit against training steps (or time): per baseline the mean over training
    seeds and a band from the lowest to the highest seed, with horizontal reference lines; the
    legend sits right of the axes, where it cannot cover a curve.

    Parameters
    ----------
    curves : mapping
        Baseline name -> one ``(x, profit)`` pair of arrays per training seed, x being the steps
        (or the wall-clock time) of each evaluation. Seeds are aligned on the evaluations they
        share, at the mean x over seeds.
    path : where to write the PNG
    references : mapping, optional
        Label -> profit, drawn as dashed lines (e.g. the heuristics and the upper bound).
    title : str
    x_label : str
        The x axis's label, e.g. "wall-clock minutes" for curves against time.
    y_label : str
        The y axis's label, e.g. "gap to the optimum" for curves of a gap rather than a profit.

    Returns
    -------
    Path of the written file.
    """
    figure = _figure(9.0, 4.2)
    axes = figure.add_subplot()
    for index, (name, runs) in enumerate(curves.items()):
        length = min(len(steps) for steps, _ in runs)
        steps = np.mean([np.asarray(x[:length], dtype=np.float64) for x, _ in runs], axis=0)
        profits = np.array([np.asarray(profit[:length], dtype=np.float64) for _, profit in runs])
        color = f"C{index}"
        axes.plot(steps, profits.mean(axis=0), color=color, label=f"{name} ({len(runs)} seeds)")
        if len(runs) > 1:
            axes.fill_between(
                steps, profits.min(axis=0), profits.max(axis=0), color=color, alpha=0.2
            )
    for index, (label, value) in enumerate((references or {}).items()):
        axes.axhline(
            value, color=f"C{len(curves) + index}", linestyle="--", linewidth=1.0, label=label
        )
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.set_title(title, fontsize="medium")
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", borderaxespad=0)
    figure.tight_layout()
    _save(figure, path)
    return Path(path)


def plot_performance_profiles(
    profiles: Mapping[str, Mapping[str, np.ndarray]],
    taus: np.ndarray,
    path: str | Path,
    title: str = "",
    x_label: str = "normalized score τ",
    references: Mapping[str, float] | None = None,
) -> Path:
    """Performance profiles: per method, the fraction of runs x tasks scoring above τ, with its
    confidence band; the legend sits outside the axes, right of the plot.

    Parameters
    ----------
    profiles : mapping
        Method name -> ``{"value", "ci_low", "ci_high"}`` arrays over ``taus`` (as
        :func:`coord_env.harness.stats.interval_estimate` returns for
        :func:`~coord_env.harness.stats.performance_profile`).
    taus : array of float
        The thresholds.
    path : where to write the PNG
    title : str
    x_label : str
    references : mapping, optional
        Label -> score, drawn as dashed vertical lines (e.g. a heuristic's score: one point, no
        runs to profile).

    Returns
    -------
    Path of the written file.

    Raises
    ------
    ValueError
        A profile whose length differs from ``taus``'s.
    """
    thresholds = np.asarray(taus, dtype=float)
    figure = _figure(8.0, 4.2)
    axes = figure.add_subplot()
    for index, (name, profile) in enumerate(profiles.items()):
        for key in ("value", "ci_low", "ci_high"):
            if np.shape(profile[key]) != thresholds.shape:
                raise ValueError(
                    f"profile {name!r}: {key} has shape {np.shape(profile[key])}, taus "
                    f"{thresholds.shape}; compute it over the same taus"
                )
        color = f"C{index}"
        axes.plot(thresholds, profile["value"], color=color, label=name)
        axes.fill_between(thresholds, profile["ci_low"], profile["ci_high"], color=color, alpha=0.2)
    for index, (label, value) in enumerate((references or {}).items()):
        axes.axvline(
            value, color=f"C{len(profiles) + index}", linestyle="--", linewidth=1.0, label=label
        )
    axes.set_xlabel(x_label)
    axes.set_ylabel("fraction of runs with score > τ")
    axes.set_ylim(-0.02, 1.02)
    axes.set_title(title, fontsize="medium")
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", borderaxespad=0)
    figure.tight_layout()
    _save(figure, path)
    return Path(path)
