"""Adapters from coord_env's batched vector env to third-party learning libraries.

Each library has its own module, imported on demand, so ``import coord_env.adapters`` (and
``import coord_env``) needs none of the optional libraries:

- :mod:`coord_env.adapters.sb3`: Stable-Baselines3 ``VecEnv`` adapters (needs ``coord-env[rl]``).
- :mod:`coord_env.adapters.joint`: the joint (whole-firm) observation and action of both agents,
  shared by the adapters and the single-env views; numpy and gymnasium only.
- :mod:`coord_env.adapters.torchrl`: a TorchRL ``EnvBase`` with ``batch_size=[B]`` whose specs are
  ``PettingZooWrapper``'s (needs ``coord-env[examples]``; tested with torchrl 0.11.1 and 0.14.1).
- :mod:`coord_env.adapters.benchmarl`: coord_env as a BenchMARL task (``CoordEnvTask``) on the
  TorchRL adapter (needs ``benchmarl``, in a venv of its own: docs/adapters.md).
- :mod:`coord_env.adapters.agilerl`: AgileRL's multi-agent ``PettingZooVecEnv`` (needs ``agilerl``,
  in a venv of its own: it pins ``pettingzoo<1.27``; docs/adapters.md).
"""
