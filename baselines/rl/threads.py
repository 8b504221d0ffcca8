"""Torch thread control for the small networks of the RL baselines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["torch_threads"]


@contextmanager
def torch_threads(count: int | None = 1) -> Iterator[None]:
    """Run a block with ``count`` torch intra-op threads, then restore the previous setting.

    The baselines' networks are tiny, so extra threads only contend with other processes for the
    cores (docs/training.md, "One torch thread"). ``None`` leaves torch's setting alone.
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
