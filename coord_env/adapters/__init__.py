"""Batched adapters of :func:`coord_env.vector_env` for third-party learning libraries.

One module per library, each importing its library only when it is imported itself, so
``import coord_env.adapters`` (and ``import coord_env``) needs none of the optional libraries:

- :mod:`coord_env.adapters.torchrl`: a TorchRL ``EnvBase`` with ``batch_size=[B]`` whose specs are
  ``PettingZooWrapper``'s (needs ``coord-env[examples]``).
"""
