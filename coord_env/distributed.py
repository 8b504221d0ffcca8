"""Where independent jobs run: in this process, in a local process pool, or on a Dask cluster.

Evaluation episodes (one per seed) and training runs (baseline x scenario x seed x config) are
independent, deterministic jobs. :func:`map_jobs` runs a picklable function over them and returns
the results in job order, whatever the engine, so the results are bit-identical to a serial run:

- ``scheduler=None``: in this process (``workers=0``) or a :class:`ProcessPoolExecutor`;
- ``scheduler="local"``: a ``dask.distributed.LocalCluster`` of ``workers`` processes bound to
  127.0.0.1, started for the call and closed after it;
- ``scheduler="tcp://host:8786"`` (any Dask address): an existing cluster (``dask-scheduler`` and
  ``dask-worker``, dask-jobqueue, dask-kubernetes; see docs/training.md).

Dask is optional (``pip install 'coord-env[dask]'``) and imported only when a scheduler is given.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = [
    "DASK_PROTOCOLS",
    "LOCAL",
    "SchedulerError",
    "WorkerDiedError",
    "add_scheduler_argument",
    "local_cluster",
    "map_jobs",
]

Job = TypeVar("Job")
Result = TypeVar("Result")

LOCAL = "local"
DASK_PROTOCOLS = ("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")
CONNECT_TIMEOUT = "10s"


class WorkerDiedError(RuntimeError):
    """A worker process died (killed, out of memory, a crash in native code) while running a job.

    The message names the job (by :func:`map_jobs`'s ``label``) that was running in it.
    """


class SchedulerError(ValueError):
    """A ``scheduler`` that is not ``None``, ``"local"`` or a reachable Dask scheduler address."""


def _dask() -> Any:
    try:
        import dask.distributed as distributed
    except ImportError as error:
        raise ImportError(
            "scheduler needs Dask's distributed scheduler: pip install 'coord-env[dask]'"
        ) from error
    return distributed


def _check(scheduler: str) -> None:
    if not isinstance(scheduler, str) or not (
        scheduler == LOCAL or scheduler.startswith(DASK_PROTOCOLS)
    ):
        raise SchedulerError(
            f"scheduler must be None, {LOCAL!r} or a Dask scheduler address such as "
            f"'tcp://host:8786' (protocols: {', '.join(DASK_PROTOCOLS)}); got {scheduler!r}"
        )


@contextmanager
def local_cluster(scheduler: str | None, workers: int = 0) -> Iterator[str | None]:
    """Start the loopback cluster of ``scheduler="local"`` once for several :func:`map_jobs` calls.

    Yields the scheduler to pass on: the cluster's ``tcp://127.0.0.1:PORT`` address for
    ``"local"`` (closed on exit), anything else unchanged.

    Raises
    ------
    SchedulerError
        A malformed scheduler.

    Examples
    --------
    >>> with local_cluster(None) as scheduler:
    ...     map_jobs(abs, [-1], scheduler=scheduler)
    [1]
    """
    if scheduler is None:
        yield None
        return
    _check(scheduler)
    if scheduler != LOCAL:
        yield scheduler
        return
    cluster = _dask().LocalCluster(
        host="127.0.0.1",
        n_workers=workers if workers > 0 else os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",  # loopback, any free port
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@contextmanager
def _client(scheduler: str, workers: int) -> Iterator[Any]:
    """A Dask client on a fresh loopback LocalCluster (``"local"``) or on an existing scheduler."""
    _check(scheduler)
    distributed = _dask()
    with local_cluster(scheduler, workers) as address:
        try:
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise SchedulerError(
                f"scheduler {scheduler!r}: no Dask scheduler answered within {CONNECT_TIMEOUT} "
                f"({error}); start one with dask-scheduler, or pass scheduler={LOCAL!r}"
            ) from None
        with client:
            yield client


def _pool_context() -> multiprocessing.context.BaseContext | None:
    """How worker processes start: the platform's default, but ``forkserver`` once torch is loaded.

    A forked worker inherits the locks of torch's intra-op thread pool without its threads and can
    wait on them forever (docs/training.md, "Worker processes start clean"). Forkserver workers
    start clean but, like ``spawn``, import the jobs' functions afresh: they must be importable (not
    defined in ``__main__`` of an interactive session), and a script must guard its top level with
    ``if __name__ == "__main__":``.
    """
    if "torch" in sys.modules and "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return None


def map_jobs(
    function: Callable[[Job], Result],
    jobs: Sequence[Job],
    *,
    scheduler: str | None = None,
    workers: int = 0,
    retries: int = 2,
    keys: Sequence[str] | None = None,
    on_result: Callable[[Result], None] | None = None,
    label: Callable[[Job], str] | None = None,
) -> list[Result]:
    """``[function(job) for job in jobs]``, run here, in a process pool, or on a Dask cluster.

    Parameters
    ----------
    function : callable
        A module-level (picklable) function of one job; it must be importable on the workers.
    jobs : sequence
        Picklable jobs.
    scheduler : str, optional
        ``None`` (this machine, see ``workers``), ``"local"`` (a loopback ``LocalCluster``) or the
        address of a running Dask scheduler (``"tcp://host:8786"``).
    workers : int
        Without a scheduler: worker processes (0: run in this process). With ``"local"``: the
        cluster's worker processes (0: one per CPU core). Ignored for an existing cluster.
    retries : int
        With Dask: how many times a task is rerun when its worker dies or it raises.
    keys : sequence of str, optional
        With Dask: one task key per job (deterministic names such as ``"train-mtma-tiny-seed0"``;
        jobs with equal keys run once). Default: random keys.
    on_result : callable, optional
        Called with each result as it arrives (progress bars); the return value keeps job order.
    label : callable, optional
        ``job -> str`` naming a job in errors (``"policy 'x' on seed 3"``); runs in this process
        only. Default: ``"job <index>"``.

    Returns
    -------
    list
        The results, in the order of ``jobs``.

    Raises
    ------
    SchedulerError
        A malformed or unreachable scheduler address (a ``ValueError``).
    WorkerDiedError
        A worker process died; the message names the job it was running.
    ImportError
        A scheduler without Dask installed (the message names the ``dask`` extra).

    Examples
    --------
    >>> map_jobs(abs, [-2, 3])
    [2, 3]
    """
    if not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer; got {retries!r}")
    if keys is not None and len(keys) != len(jobs):
        raise ValueError(f"keys must name every job: {len(keys)} keys for {len(jobs)} jobs")
    report = on_result or (lambda result: None)
    if scheduler is None:
        if workers and workers > 0:
            results = []
            with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
                futures = [pool.submit(function, job) for job in jobs]
                for future in futures:
                    try:
                        results.append(future.result())
                    except BrokenProcessPool as error:
                        unfinished = [
                            position
                            for position, other in enumerate(futures)
                            if not other.done() or other.exception() is not None
                        ]
                        raise WorkerDiedError(_died(jobs, unfinished[:workers], label)) from error
                    report(results[-1])
            return results
        results = []
        for job in jobs:
            results.append(function(job))
            report(results[-1])
        return results
    with _client(scheduler, workers) as client:
        distributed = _dask()
        futures = client.map(
            function,
            list(jobs),
            key=list(keys) if keys is not None else None,
            pure=keys is not None,
            retries=retries,
        )
        for future in distributed.as_completed(futures):
            report(future.result())
        return client.gather(futures)


def _died(jobs: Sequence[Job], running: list[int], label: Callable[[Job], str] | None) -> str:
    """The one-line message of a dead worker, naming the jobs that may have been running in it.

    Jobs start in order and at most ``workers`` run at once, so the running ones are the first
    ``workers`` unfinished jobs (``running``); the pool does not say which of them died.
    """

    def name(position: int) -> str:
        return label(jobs[position]) if label is not None else f"job {position}"

    names = [name(position) for position in running]
    where = names[0] if len(names) == 1 else "one of " + ", ".join(names)
    return (
        f"a worker process died while running {where}"
        + ": killed, out of memory or crashed. If the job's function is defined in __main__, "
        "move it to an importable module, or use workers=0"
    )


def add_scheduler_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """The ``--scheduler`` option of the commands that fan ``what`` out (``coord-bench --help``)."""
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS|local",
        help=f"run the {what} on Dask: 'local' starts a loopback cluster of --workers processes, "
        "an address such as tcp://host:8786 uses a running scheduler (pip install "
        "'coord-env[dask]'; results are bit-identical to a serial run)",
    )
