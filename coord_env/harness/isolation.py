"""What a policy may see of the scored env, and running a policy in a child process under limits.

The harness scores a policy on an env the policy never receives. A factory ``env -> policy`` gets
:func:`public_env`: a throwaway env built from a private copy of the same scenario and options,
which is never reset or stepped; rewriting it changes nothing the harness reads. A privileged
built-in (``optimal`` reads the true on-hand every step) gets a :class:`PrivilegedView` instead:
the same public attributes plus ``snapshot()`` of the scored env, as copies.

In-process, that protects against accidents, not against hostile code (which shares the harness's
memory). :class:`IsolatedPolicy` runs the factory and every ``act`` in a child process: the child
receives observations and infos (and, for a privileged policy, the snapshot) pickled by the
parent, and answers with actions as raw numeric arrays behind a small JSON header, which the
parent checks field by field and never unpickles. The child has an address-space limit, each
step and the whole episode have time limits, and a child that hangs, exhausts its memory,
crashes, exits or answers garbage is stopped (terminate, then kill); the episode then fails with
one :class:`IsolatedPolicyError` line naming the policy, the seed and the cause.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from coord_env.env import RetailParallelEnv
from coord_env.env.actions import INVENTORY, RECOMMENDER
from coord_env.scenarios import Scenario

__all__ = [
    "POLICY_ENV_OPTIONS",
    "IsolatedPolicy",
    "IsolatedPolicyError",
    "IsolationLimits",
    "PrivilegedView",
    "check_policy_env_options",
    "decode_frame",
    "encode_frame",
    "is_privileged",
    "public_env",
]

# The env options a policy may choose (its factory's env_options_for): how it acts and observes,
# never the scenario's parameters, which are the harness's alone.
POLICY_ENV_OPTIONS = {
    "observation_mode": str,
    "reward_mode": str,
    "continuous_actions": bool,
    "inventory_action": str,
}
# What the child may send: numeric arrays only, of these kinds and sizes.
ACTION_DTYPES = frozenset(
    np.dtype(f"{order}{kind}{size}").str
    for order in "<>"
    for kind, sizes in (("i", (1, 2, 4, 8)), ("u", (1, 2, 4, 8)), ("f", (2, 4, 8)))
    for size in sizes
)
MAX_FRAME_BYTES = 16 * 2**20  # far above the largest action (large, continuous: 20 x 200 scores)
MAX_HEADER_BYTES = 64 * 2**10
MAX_ARRAY_DIMENSIONS = 4
MAX_MESSAGE_CHARACTERS = 300  # of a child's error message, after flattening to one line
_HEADER_LENGTH = struct.Struct(">I")


class IsolatedPolicyError(RuntimeError):
    """An isolated policy was stopped: the one-line message names the policy, the seed and why."""


@dataclass(frozen=True)
class IsolationLimits:
    """Limits of an isolated policy's child process.

    Attributes
    ----------
    memory_bytes : int
        Address-space limit of the child (``RLIMIT_AS``): the interpreter, the imports (torch
        reserves a lot of address space), the model and whatever the policy allocates.
    step_seconds : float
        Wall time for one ``act`` call, pipe transfers included.
    episode_seconds : float
        Wall time for the whole episode, from starting the child (imports, the factory, loading
        weights) to the last action.

    Examples
    --------
    >>> IsolationLimits(step_seconds=2.0).memory_bytes == 4 * 2**30
    True
    """

    memory_bytes: int = 4 * 2**30
    step_seconds: float = 10.0
    episode_seconds: float = 600.0

    def __post_init__(self) -> None:
        if isinstance(self.memory_bytes, bool) or not isinstance(self.memory_bytes, int):
            raise ValueError(f"memory_bytes must be an integer; got {self.memory_bytes!r}")
        if self.memory_bytes < 2**28:
            raise ValueError(
                f"memory_bytes must be at least {2**28} (256 MiB: the interpreter and numpy); "
                f"got {self.memory_bytes}"
            )
        for field in ("step_seconds", "episode_seconds"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{field} must be a number of seconds; got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{field} must be positive and finite; got {value!r}")


def is_privileged(factory: Any) -> bool:
    """Whether a factory is granted :class:`PrivilegedView`: its ``privileged`` attribute (a
    :class:`~coord_env.registry.PolicySpec` registered with ``privileged=True``, or a factory
    object such as :class:`~coord_env.analysis.optimal.OptimalPolicy`).

    Examples
    --------
    >>> is_privileged(lambda env: None)
    False
    """
    return getattr(factory, "privileged", False) is True


def check_policy_env_options(options: Any, what: str = "env_options_for") -> dict[str, Any]:
    """A policy's requested env options, checked: only :data:`POLICY_ENV_OPTIONS`, right types.

    A policy chooses how it acts and what it observes, never the scenario it is scored on (an
    override such as ``price`` would score it on another retailer under this one's name). A
    ``reward_scale`` it was trained with is accepted and dropped: scoring reads no rewards.

    Raises
    ------
    ValueError
        A key that is not a policy option, or a value of the wrong type; the message names it.

    Examples
    --------
    >>> check_policy_env_options({"continuous_actions": True, "reward_scale": "auto"})
    {'continuous_actions': True}
    >>> check_policy_env_options({"price": 1.0})
    Traceback (most recent call last):
    ...
    ValueError: env_options_for: 'price' is not an option a policy may set; allowed: observation_mode, reward_mode, continuous_actions, inventory_action
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"{what}: must be a dict of env options; got {type(options).__name__}")
    checked = {}
    for key, value in options.items():
        if key == "reward_scale":
            continue
        if key not in POLICY_ENV_OPTIONS:
            raise ValueError(
                f"{what}: {str(key)[:80]!r} is not an option a policy may set; allowed: "
                + ", ".join(POLICY_ENV_OPTIONS)
            )
        kind = POLICY_ENV_OPTIONS[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ValueError(f"{what}: {key} must be a {kind.__name__}; got {value!r:.80}")
        checked[key] = value
    return checked


def public_env(scenario: Scenario, env_options: Mapping[str, Any] | None) -> RetailParallelEnv:
    """The env a factory receives: same scenario values and options as the scored env, but its
    own objects (a deep copy of the scenario), never reset, stepped or read by the harness.

    Examples
    --------
    >>> import coord_env
    >>> scenario = coord_env.load_scenario("tiny")
    >>> env = public_env(scenario, None)
    >>> env.scenario is scenario, env.scenario.content_hash == scenario.content_hash
    (False, True)
    """
    private = copy.deepcopy(scenario)
    for value in vars(private).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return RetailParallelEnv(private, **dict(env_options or {}))


class PrivilegedView:
    """A privileged built-in's read-only window on the scored env.

    Offers the public attributes of :func:`public_env` (scenario, agents, spaces, layouts,
    options) and ``snapshot()``: the scored env's raw state, as copies. Nothing else of the scored
    env is reachable through it (no ``step``, ``reset``, ``state`` or attribute assignment).

    Parameters
    ----------
    public : RetailParallelEnv
        The throwaway env of :func:`public_env`.
    snapshot : callable
        ``() -> dict``, the scored env's ``snapshot``.
    agents : callable
        ``() -> list``, the scored env's live agents.
    """

    __slots__ = ("_agents", "_public", "_snapshot")
    PUBLIC = frozenset(
        {
            "scenario",
            "possible_agents",
            "observation_spaces",
            "action_spaces",
            "observation_space",
            "action_space",
            "state_space",
            "observation_layouts",
            "state_layout",
            "observation_mode",
            "reward_mode",
            "continuous_actions",
            "inventory_action",
        }
    )

    def __init__(self, public: RetailParallelEnv, snapshot: Any, agents: Any):
        object.__setattr__(self, "_public", public)
        object.__setattr__(self, "_snapshot", snapshot)
        object.__setattr__(self, "_agents", agents)

    def __getattr__(self, name: str) -> Any:
        if name in PrivilegedView.PUBLIC:
            return getattr(object.__getattribute__(self, "_public"), name)
        raise AttributeError(
            f"a privileged policy's view offers snapshot(), agents and {', '.join(sorted(self.PUBLIC))}; "
            f"not {name!r}"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"the privileged view is read-only (cannot set {name!r})")

    @property
    def agents(self) -> list[str]:
        """The scored env's live agents (a copy)."""
        return list(object.__getattribute__(self, "_agents")())

    def snapshot(self) -> dict[str, Any]:
        """The scored env's ``snapshot()``: raw on-hand, pipeline, period, ... (copies)."""
        raw = object.__getattribute__(self, "_snapshot")()
        if raw is None:
            raise RuntimeError("snapshot() is available while the policy acts, after reset")
        return {
            key: np.array(value) if isinstance(value, np.ndarray) else value
            for key, value in raw.items()
        }


# ---------------------------------------------------------------------------- the wire format
def encode_frame(header: dict[str, Any], arrays: tuple[np.ndarray, ...] = ()) -> bytes:
    """One child -> parent message: header length, JSON header, then the arrays' raw bytes.

    Examples
    --------
    >>> frame = encode_frame({"type": "ready"})
    >>> decode_frame(frame, agents=())
    ({'type': 'ready'}, {})
    """
    head = json.dumps(header, allow_nan=False).encode("utf-8")
    return _HEADER_LENGTH.pack(len(head)) + head + b"".join(a.tobytes() for a in arrays)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def decode_frame(
    frame: bytes, agents: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Parse a child's message without unpickling anything: ``(header, actions)``.

    An ``actions`` frame lists ``{"agent", "dtype", "shape"}`` per array; each agent must be one
    of ``agents`` (once), each dtype a numeric one (integer, unsigned or float), and the arrays'
    sizes must add up to the bytes that follow the header exactly.

    Raises
    ------
    ValueError
        The frame is malformed; the message says how.
    """
    if len(frame) < _HEADER_LENGTH.size:
        raise ValueError(f"a message of {len(frame)} bytes has no header")
    (length,) = _HEADER_LENGTH.unpack_from(frame)
    if length > MAX_HEADER_BYTES or _HEADER_LENGTH.size + length > len(frame):
        raise ValueError(f"header length {length} is out of bounds")
    body = frame[_HEADER_LENGTH.size : _HEADER_LENGTH.size + length]
    payload = memoryview(frame)[_HEADER_LENGTH.size + length :]
    try:
        header = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"header is not JSON ({type(error).__name__})") from None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ValueError("header is not an object with a 'type'")
    if header["type"] != "actions":
        if len(payload):
            raise ValueError(
                f"a {header['type'][:40]!r} message carries {len(payload)} extra bytes"
            )
        return header, {}
    entries = header.get("arrays")
    if not isinstance(entries, list) or len(entries) > len(agents):
        raise ValueError(f"'arrays' must list at most {len(agents)} arrays")
    actions: dict[str, np.ndarray] = {}
    offset = 0
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"agent", "dtype", "shape"}:
            raise ValueError("each array needs exactly 'agent', 'dtype' and 'shape'")
        agent, dtype, shape = entry["agent"], entry["dtype"], entry["shape"]
        if agent not in agents or agent in actions:
            raise ValueError(f"array for unknown or repeated agent {str(agent)[:40]!r}")
        if dtype not in ACTION_DTYPES:
            raise ValueError(f"{agent}: dtype {str(dtype)[:20]!r} is not a numeric array dtype")
        if (
            not isinstance(shape, list)
            or len(shape) > MAX_ARRAY_DIMENSIONS
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise ValueError(f"{agent}: shape must list at most {MAX_ARRAY_DIMENSIONS} sizes >= 0")
        size = math.prod(shape) * np.dtype(dtype).itemsize
        if offset + size > len(payload):
            raise ValueError(f"{agent}: shape {shape} needs more bytes than were sent")
        array = np.frombuffer(payload[offset : offset + size], dtype=dtype).reshape(shape)
        actions[agent] = array.astype(array.dtype.newbyteorder("="), copy=True)
        offset += size
    if offset != len(payload):
        raise ValueError(f"{len(payload) - offset} bytes after the last array")
    return header, actions


def _encode_actions(actions: Any) -> bytes:
    """The child's answer: every agent's action as a numeric array (raises TypeError otherwise)."""
    if not isinstance(actions, Mapping):
        raise TypeError(
            f"act() must return a dict of actions per agent; got {type(actions).__name__}"
        )
    entries, arrays = [], []
    for agent, value in actions.items():
        array = np.ascontiguousarray(np.asarray(value))
        if array.dtype.kind not in "iuf" or array.dtype.str not in ACTION_DTYPES:
            raise TypeError(
                f"the action for {str(agent)[:40]!r} has dtype {array.dtype}; an isolated "
                "policy's actions must be integer or float arrays"
            )
        entries.append({"agent": str(agent), "dtype": array.dtype.str, "shape": list(array.shape)})
        arrays.append(array)
    return encode_frame({"type": "actions", "arrays": entries}, tuple(arrays))


def _one_line(text: str) -> str:
    """A child's text made safe for a one-line message: printable, collapsed, bounded."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= MAX_MESSAGE_CHARACTERS else flat[:MAX_MESSAGE_CHARACTERS] + "..."


# ---------------------------------------------------------------------------- the child
def child_main() -> None:
    """Entry point of the child process (``python -c``, fd of its pipe end in ``sys.argv[1]``).

    Reads one pickled request from the parent (which it trusts), sets its memory limit, builds
    the policy and answers each step; any failure is sent as one ``error`` message.
    """
    conn = Connection(int(sys.argv[1]))
    try:
        request = conn.recv()
        _serve(conn, request)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return  # the parent is gone or stopped us
    except BaseException as error:  # the policy's failure, reported to the parent as data
        message = f"{type(error).__name__}: {error}"
        with contextlib.suppress(OSError, ValueError, MemoryError):
            conn.send_bytes(encode_frame({"type": "error", "message": message[:2000]}))
        os._exit(1)


def _serve(conn: Connection, request: dict[str, Any]) -> None:
    """The child's loop: ``("episode", seed)`` builds a fresh policy, ``("act", ...)`` asks it."""
    import resource

    limit = int(request["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.path[:] = request["sys_path"]
    from coord_env.harness.evaluate import policy_seed, resolve_policy
    from coord_env.policy import as_policy

    scenario: Scenario = request["scenario"]
    _, factory = resolve_policy(request["policy"])
    options = request["env_options"]  # the caller's, or else the policy's (checked)
    if options is None:
        hook = getattr(factory, "env_options_for", None)
        options = check_policy_env_options(None if hook is None else hook(scenario))
    current: dict[str, Any] = {"snapshot": None, "agents": []}
    policy = None
    while True:
        message = conn.recv()
        if message is None:
            return
        if message[0] == "episode":
            current.update(snapshot=None, agents=[])
            seen: Any = public_env(scenario, options)  # a fresh one per episode, as in-process
            if request["privileged"]:
                seen = PrivilegedView(seen, lambda: current["snapshot"], lambda: current["agents"])
            policy = as_policy(factory(seen))
            policy.reset(policy_seed(message[1]))
            conn.send_bytes(encode_frame({"type": "ready", "env_options": options}))
        else:
            _, observations, infos, snapshot = message
            current.update(snapshot=snapshot, agents=list(observations))
            conn.send_bytes(_encode_actions(policy.act(observations, infos)))


# ---------------------------------------------------------------------------- the parent
class IsolatedPolicy:
    """The parent's end of an isolated policy: a child process that plays one or more episodes.

    The child resolves the policy once; each :meth:`begin` builds a fresh policy there from a
    fresh :func:`public_env` (as an in-process episode does), then :meth:`act` asks it for each
    tick's actions. Any failure stops the child for good.

    Parameters
    ----------
    policy : str or callable
        What the child resolves: a registered name, ``"module:factory"``, a checkpoint folder, or
        a picklable factory (the child imports it; the parent never calls it).
    scenario : Scenario
    name : str
        The policy's name in error messages.
    env_options : dict, optional
        Options chosen by the caller; None: the child asks the factory's ``env_options_for``.
    privileged : bool
        Give the factory a :class:`PrivilegedView` and send the snapshot with each step.
    limits : IsolationLimits

    Examples
    --------
    >>> import coord_env
    >>> scenario = coord_env.load_scenario("tiny")
    >>> with IsolatedPolicy("siloed", scenario, "siloed") as child:  # doctest: +SKIP
    ...     env = coord_env.parallel_env(scenario, **child.begin(seed=1))
    ...     observations, infos = env.reset(seed=1)
    ...     actions = child.act(observations, infos)
    """

    def __init__(
        self,
        policy: Any,
        scenario: Scenario,
        name: str,
        env_options: Mapping[str, Any] | None = None,
        privileged: bool = False,
        limits: IsolationLimits | None = None,
    ):
        self.policy = policy
        self.scenario = scenario
        self.name = name
        self.env_options = None if env_options is None else dict(env_options)
        self.privileged = bool(privileged)
        self.limits = limits or IsolationLimits()
        self.agents = (INVENTORY, RECOMMENDER)
        self.seed: int | None = None
        self.process: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self.deadline = math.inf

    def __enter__(self) -> IsolatedPolicy:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def fail(self, cause: str) -> IsolatedPolicyError:
        """Stop the child; the error to raise, naming the policy, the seed and ``cause``."""
        self.stop()
        return IsolatedPolicyError(
            f"isolated policy {self.name!r} on seed {self.seed} ({self.scenario.env_id}) was "
            f"stopped: {cause}"
        )

    def _start(self) -> None:
        """Start the child process and send it the request (it imports and resolves the policy)."""
        request = {
            "policy": self.policy,
            "scenario": self.scenario,
            "env_options": self.env_options,
            "privileged": self.privileged,
            "memory_bytes": self.limits.memory_bytes,
            "sys_path": list(sys.path),
        }
        try:
            data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            raise TypeError(
                f"policy {self.name!r} cannot run isolated: the child process imports it, so give "
                "a registered name, 'module:factory', a checkpoint folder or a module-level "
                f"factory ({type(error).__name__}: {error})"
            ) from None
        parent_end, child_end = Pipe(duplex=True)
        self.conn = parent_end
        code = "from coord_env.harness.isolation import child_main; child_main()"
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code, str(child_end.fileno())],
                pass_fds=(child_end.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            child_end.close()
        parent_end.send_bytes(data)

    def begin(self, seed: int) -> dict[str, Any]:
        """Start an episode: the child builds a fresh policy for ``seed``; return the env options
        it acts under. The first call starts the child; its imports count against the episode.

        Raises
        ------
        TypeError
            The policy cannot be sent to a child process (a lambda or a local function).
        IsolatedPolicyError
            The child failed to build the policy, or chose options a policy may not set.
        """
        self.seed = int(seed)
        self.deadline = time.monotonic() + self.limits.episode_seconds
        if self.process is None:
            self._start()
        elif self.conn is None:
            raise self.fail("the child was stopped by an earlier failure")
        self._send(("episode", self.seed))
        header, _ = self._receive("to start the episode", self.limits.episode_seconds)
        if header["type"] != "ready":
            raise self.fail(f"sent a {header['type'][:40]!r} message instead of 'ready'")
        if self.env_options is not None:
            return dict(self.env_options)
        try:
            return check_policy_env_options(header.get("env_options"))
        except ValueError as error:
            raise self.fail(_one_line(str(error))) from None

    def _send(self, message: Any) -> None:
        if self.conn is None:
            raise self.fail("the child was stopped by an earlier failure")
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            raise self.fail(self._death()) from None

    def act(
        self, observations: dict, infos: dict, snapshot: dict[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        """The child's actions for one tick (``snapshot``: the privileged policy's view).

        Raises
        ------
        IsolatedPolicyError
            The child timed out, died, raised, or answered something that is not actions.
        """
        self._send(("act", observations, infos, snapshot if self.privileged else None))
        header, actions = self._receive("to act", self.limits.step_seconds)
        if header["type"] != "actions":
            raise self.fail(f"sent a {str(header['type'])[:40]!r} message instead of actions")
        return actions

    def _receive(self, what: str, limit: float) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        remaining = self.deadline - time.monotonic()
        timeout = max(0.0, min(limit, remaining))
        if not self.conn.poll(timeout):
            if remaining <= limit:
                raise self.fail(
                    f"episode time limit: {self.limits.episode_seconds:g} s used up ({what})"
                )
            raise self.fail(f"step time limit: no answer {what} within {limit:g} s")
        try:
            frame = self.conn.recv_bytes(MAX_FRAME_BYTES)
        except (EOFError, ConnectionError):
            raise self.fail(self._death()) from None
        except OSError:  # longer than MAX_FRAME_BYTES
            raise self.fail(f"sent a message over {MAX_FRAME_BYTES:,} bytes") from None
        try:
            header, actions = decode_frame(frame, self.agents)
        except ValueError as error:
            raise self.fail(f"sent garbage: {_one_line(str(error))}") from None
        if header["type"] == "error":
            message = _one_line(str(header.get("message", "")))
            hint = (
                f" (memory limit {self.limits.memory_bytes / 2**30:.3g} GiB)"
                if message.startswith("MemoryError")
                else ""
            )
            raise self.fail(f"the policy raised {message}{hint}")
        return header, actions

    def _death(self) -> str:
        """Why the child is gone: its exit code or signal."""
        try:
            code = self.process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            return "closed its pipe"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            return f"the child process was killed by signal {name}"
        return f"the child process exited with code {code} while acting"

    def stop(self) -> None:
        """Stop the child: terminate, then kill; close the pipe. Safe to call twice."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        """End the session: ask the child to exit, then make sure it has."""
        if self.conn is not None and self.process is not None and self.process.poll() is None:
            try:
                self.conn.send(None)
                self.process.wait(timeout=1.0)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        self.stop()
