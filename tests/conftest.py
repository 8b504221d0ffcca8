"""Fixtures shared by the test files; plain helpers (no fixtures) live in tests/helpers.py.

``from helpers import ...`` works because pyproject.toml's ``[tool.pytest.ini_options]`` puts
``tests/`` on ``sys.path`` (``pythonpath``), whatever the import mode.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import coord_env
from coord_env import registry


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Whatever a test registers is gone afterwards."""
    registered = coord_env.registered_policies()
    before = dict(registered)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    """The address of a Dask LocalCluster of 2 worker processes on 127.0.0.1 (loopback only),
    closed after the module."""
    from coord_env.distributed import local_cluster

    with local_cluster("local", workers=2) as address:
        assert address.startswith("tcp://127.0.0.1:")
        yield address


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """torch on one thread for the module: small networks run fastest so on a busy 2-core machine.

    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
