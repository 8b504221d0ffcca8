"""Torch thread control for the small networks of the RL baselines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["torch_threads"]


@contextmanager
def torch_threads(count: int | None = 1) -> Iterator[None]:
    """Run a block with ``count`` torch intra-op threads, then restore the previous setting.

    The baselines' networks are tiny: on a 2-core machine a second thread only contends, and made
    training and acting 17x to 50x slower when other processes shared the cores. ``None`` leaves
    torch's setting alone.
    """
    if count is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
