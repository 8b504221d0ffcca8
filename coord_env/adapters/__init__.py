"""Batched adapters of :func:`coord_env.vector_env` for third-party learning libraries.

One module per library (``coord_env.adapters.torchrl``, ...). Importing this package imports no
optional library: each adapter module imports its library itself, so import the module only when
the library is installed. ``import coord_env`` does not import this package.
"""
