"""Honest and hostile policy factories for tests/test_isolation.py (importable by child processes)."""

from __future__ import annotations

import gc
import os
import time

import numpy as np


class Hold:
    """Orders ``level`` of every product each tick and shows the first products: honest."""

    def __init__(self, env, level: int = 2):
        self.orders = np.full(env.scenario.num_products, level, dtype=np.int64)
        self.slate = np.arange(env.action_space("recommender_0").shape[0]) % (
            env.scenario.num_products
        )

    def reset(self, seed=None):
        pass

    def act(self, observations, infos):
        return {"inventory_0": self.orders.copy(), "recommender_0": self.slate.copy()}


def honest(env):
    """The same actions as every hostile factory below, without the attack."""
    return Hold(env)


def rewrite_scenario(env):
    """The issue's attack: score on a retailer whose prices are 20 times higher."""
    env.scenario = env.scenario.replace(price=20 * env.scenario.price)
    return Hold(env)


def rewrite_prices_in_place(env):
    """The same attack on the scenario object itself: unlock its price array and scale it."""
    price = env.scenario.price
    price.flags.writeable = True
    price *= 20
    return Hold(env)


class _Scheme:
    def env_options_for(self, scenario):
        return {"horizon": 2}  # score me on a two-period episode instead

    def __call__(self, env):
        return Hold(env)


options_override = _Scheme()


def hang(env):
    """Acts once, then never answers."""
    policy = Hold(env)

    def act(observations, infos):
        if infos["inventory_0"]["tick"] >= 1:
            time.sleep(3600)
        return policy.act(observations, infos)

    return act


def hang_in_factory(env):
    time.sleep(3600)


def hog(env):
    """Allocates (and touches) 256 MiB after 256 MiB, up to 4 GiB."""
    blocks = []

    def act(observations, infos):
        while len(blocks) < 16:
            blocks.append(np.ones(2**25))
        return Hold(env).act(observations, infos)

    return act


def crash(env):
    def act(observations, infos):
        raise ValueError("boom\nsecond line")

    return act


def exit_hard(env):
    def act(observations, infos):
        os._exit(3)

    return act


def strings(env):
    def act(observations, infos):
        return {"inventory_0": "buy everything", "recommender_0": [0]}

    return act


def wrong_shape(env):
    def act(observations, infos):
        return {"inventory_0": np.zeros(7, dtype=np.int64), "recommender_0": np.zeros(2, np.int64)}

    return act


def raw_garbage(env):
    """Finds the child's pipe and writes bytes that are not a frame, then waits."""
    from multiprocessing.connection import Connection

    def act(observations, infos):
        for obj in gc.get_objects():
            if isinstance(obj, Connection) and not obj.closed:
                obj.send_bytes(b"\x00\x00\x00\x04null" + b"\x80" * 64)
        time.sleep(3600)

    return act


def pickle_bomb(env):
    """Answers with a pickle instead of a frame: the parent must not load it."""
    import pickle
    from multiprocessing.connection import Connection

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch /tmp/coord_isolation_pwned",))

    def act(observations, infos):
        for obj in gc.get_objects():
            if isinstance(obj, Connection) and not obj.closed:
                obj.send_bytes(pickle.dumps(Boom()))
        time.sleep(3600)

    return act


_EPISODES = []


def crash_in_second_episode(env):
    """Honest in its first episode; its factory raises in the next one (same child process)."""
    _EPISODES.append(None)
    if len(_EPISODES) > 1:
        raise RuntimeError("no second episode")
    return Hold(env)
