"""The layers go one way: baselines build on coord_env, and coord_env never imports baselines.

coord_env reaches the baselines only through its policy registry and command plug-ins (entry
points), so the env, the harness and the leaderboard install, import and run without them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import coord_env

PACKAGE = Path(coord_env.__file__).resolve().parent
FORBIDDEN = "baselines"
# Learning libraries that only coord_env.adapters' modules may import, each its own library.
OPTIONAL = (
    "torch",
    "torchrl",
    "tensordict",
    "stable_baselines3",
    "supersuit",
    "agilerl",
    "benchmarl",
)


def _imports_forbidden(name: str | None) -> bool:
    return name is not None and (name == FORBIDDEN or name.startswith(FORBIDDEN + "."))


def forbidden_imports(source: str, filename: str) -> list[str]:
    """Every place in ``source`` that imports ``baselines``: import statements anywhere (lazy ones
    inside functions too), and importlib.import_module / __import__ of a literal name."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str | None] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args:
            function = node.func
            called = getattr(function, "attr", getattr(function, "id", None))
            argument = node.args[0]
            if called in ("import_module", "__import__") and isinstance(argument, ast.Constant):
                names = [str(argument.value)]
        found += [
            f"{filename}:{node.lineno} imports {name}" for name in names if _imports_forbidden(name)
        ]
    return found


def test_no_module_of_coord_env_imports_baselines():
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        offending += forbidden_imports(path.read_text(), str(path.relative_to(PACKAGE.parent)))
    assert not offending, "coord_env must not import baselines:\n" + "\n".join(offending)


def test_the_check_sees_lazy_and_dynamic_imports():
    source = (
        "import importlib\n"
        "def f():\n"
        "    from baselines.rl import policies\n"
        "def g():\n"
        "    import baselines\n"
        "    return importlib.import_module('baselines.policy')\n"
        "from baselines_other import x\n"  # another package that merely shares the prefix
    )
    assert forbidden_imports(source, "m.py") == [
        "m.py:3 imports baselines.rl",
        "m.py:5 imports baselines",
        "m.py:6 imports baselines.policy",
    ]


def loaded_packages(code: str) -> set[str]:
    """The top-level packages loaded after running ``code`` in a fresh interpreter."""
    code += "\nimport sys\nprint(' '.join(sorted({name.split('.')[0] for name in sys.modules})))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


@pytest.mark.slow
def test_importing_every_coord_env_module_loads_no_baselines():
    """At run time too: every module of coord_env imports without pulling in baselines (the
    registry loads the plug-ins only when it is first read)."""
    loaded = loaded_packages(
        "import pkgutil, importlib, coord_env\n"
        "for module in pkgutil.walk_packages(coord_env.__path__, 'coord_env.'):\n"
        "    try:\n"
        "        importlib.import_module(module.name)\n"
        "    except ModuleNotFoundError as error:  # an adapter whose library is not installed\n"
        f"        if (error.name or '').split('.')[0] not in {OPTIONAL!r}:\n"
        "            raise"
    )
    assert FORBIDDEN not in loaded


def test_no_module_of_coord_env_outside_the_adapters_imports_a_learning_library():
    """Only an adapter module (coord_env/adapters/<library>.py) may import its optional library."""
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "adapters" and path.stem != "__init__":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            offending += [
                f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {name}"
                for name in names
                if name.split(".")[0] in OPTIONAL
            ]
    assert not offending, "\n".join(offending)


@pytest.mark.slow
def test_coord_env_and_its_adapters_package_import_no_learning_library():
    """``import coord_env`` and ``import coord_env.adapters`` load no learning library (nor the
    baselines); the SB3 adapter module loads SB3 only when it is itself imported."""
    loaded = loaded_packages("import coord_env, coord_env.adapters, coord_env.adapters.joint")
    assert not loaded & {*OPTIONAL, FORBIDDEN}
    assert "stable_baselines3" in loaded_packages("import coord_env.adapters.sb3")


# The README's layer table ("Project layout"), from the ground up: a unit of coord_env may import
# units of its own layer and of the layers below it, never one above.
LAYERS = (
    ("fileio", "checks", "policy", "distributed"),
    ("scenarios",),
    ("core",),
    ("env", "wrappers", "retail_v0", "registration"),
    ("adapters",),
    ("checkpoint", "harness", "analysis", "registry"),
    ("leaderboard", "cli"),
)
LAYER_OF = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _unit(path: Path) -> str:
    """The layer unit of a module: its subpackage or its own name under coord_env/."""
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def upward_imports(path: Path) -> list[str]:
    """Every import in ``path`` of a coord_env unit in a higher layer than ``path``'s own."""
    package = ["coord_env", *path.relative_to(PACKAGE).parent.parts]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # `from coord_env import core` imports the unit core; `from . import x` likewise.
            targets = (
                [module] if module != "coord_env" else [f"coord_env.{a.name}" for a in node.names]
            )
        for target in targets:
            parts = target.split(".")
            if parts[0] != "coord_env" or len(parts) < 2 or parts[1] not in LAYER_OF:
                continue  # another package, or coord_env's own __init__ (__version__)
            if LAYER_OF[parts[1]] > LAYER_OF[_unit(path)]:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {target}")
    return found


def test_every_unit_of_coord_env_is_in_the_layer_table():
    units = {_unit(path) for path in PACKAGE.rglob("*.py")} - {"__init__"}
    assert units <= set(LAYER_OF), f"add to LAYERS and the README's table: {units - set(LAYER_OF)}"


def test_coord_env_imports_only_down_its_layers():
    """The README's layer table holds: nothing imports a unit of a layer above its own."""
    offending = [
        line
        for path in sorted(PACKAGE.rglob("*.py"))
        if _unit(path) != "__init__"
        for line in upward_imports(path)
    ]
    assert not offending, "\n".join(offending)


def test_the_layer_check_sees_upward_imports(tmp_path, monkeypatch):
    core = tmp_path / "coord_env" / "core"
    core.mkdir(parents=True)
    module = core / "m.py"
    module.write_text(
        "from coord_env.harness import evaluate\n"
        "from coord_env import leaderboard\n"
        "from .. import cli\n"
        "from coord_env import __version__, scenarios\n"
        "from . import kernel\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "coord_env")
    assert [line.split(" imports ")[1] for line in upward_imports(module)] == [
        "coord_env.harness",
        "coord_env.leaderboard",
        "coord_env.cli",
    ]
