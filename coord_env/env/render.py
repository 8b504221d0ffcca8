"""Rendering: a text table (``"ansi"``) and a small dashboard image (``"rgb_array"``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from coord_env.env.parallel import RetailParallelEnv

__all__ = ["ansi", "rgb_array"]


def ansi(env: RetailParallelEnv) -> str:
    """One row per product: stock, pipeline, last order, exposure, sales and lost sales."""
    snap = env.snapshot()
    s = env.scenario
    shown = np.zeros(s.num_products, dtype=int)
    for slate in snap["last_slates"]:
        shown[np.unique(slate[slate >= 0])] += 1
    header = (
        f"{s.env_id}  period {snap['period']}/{s.horizon}  tick {snap['tick']}/{s.num_ticks}  "
        f"episode profit {env.episode_profit:,.2f}"
    )
    columns = f"{'product':>7} {'on_hand':>8} {'pipeline':>8} {'ordered':>8} {'slates':>6} {'sold':>6} {'lost':>6}"
    rows = [
        f"{i:>7} {snap['on_hand'][i]:>8} {snap['pipeline'][i].sum():>8} {snap['last_orders'][i]:>8} "
        f"{shown[i]:>6} {snap['sales'][i]:>6} {snap['lost'][i]:>6}"
        for i in range(s.num_products)
    ]
    return "\n".join([header, columns, *rows])


def rgb_array(env: RetailParallelEnv, width_inches: float = 6.4, dpi: int = 80) -> np.ndarray:
    """Bars of on-hand and pipeline per product, and how many slates show each product."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    snap = env.snapshot()
    s = env.scenario
    products = np.arange(s.num_products)
    shown = np.zeros(s.num_products)
    for slate in snap["last_slates"]:
        shown[np.unique(slate[slate >= 0])] += 1
    figure = Figure(figsize=(width_inches, width_inches * 0.6), dpi=dpi)
    stock_axes, slate_axes = figure.subplots(2, 1, sharex=True)
    stock_axes.bar(products, snap["on_hand"], label="on hand", color="tab:blue")
    stock_axes.bar(
        products,
        snap["pipeline"].sum(axis=1),
        bottom=snap["on_hand"],
        label="pipeline",
        color="tab:gray",
        alpha=0.6,
    )
    stock_axes.set_ylabel("units")
    stock_axes.legend(loc="upper right", fontsize="small")
    stock_axes.set_title(
        f"{s.env_id}  period {snap['period']}  profit {env.episode_profit:,.0f}", fontsize="small"
    )
    slate_axes.bar(products, shown, color="tab:orange")
    slate_axes.set_ylabel("slates showing")
    slate_axes.set_xlabel("product")
    figure.tight_layout()
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()
