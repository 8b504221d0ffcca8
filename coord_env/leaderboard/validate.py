"""Validation of leaderboard submissions: data only, never executed.

docs/leaderboard.md, "What validation refuses", lists the checks for submitters.

A submission is read as bytes with a size cap, parsed by the standard ``json`` module with hooks
that refuse duplicate keys and non-finite numbers, checked against the JSON Schema shipped with
the package (``submission.schema.json``), and then checked for meaning: a known scenario version
and its content hash, the official seed list, per-seed money that adds up, aggregates that
match their per-seed values, a profit no higher than the scenario's ceiling allows (beyond
sampling noise), and names and authors in NFKC form without invisible or bidi characters. Nothing in a submission is imported, unpickled or evaluated; the
only code that runs is ``json`` and ``jsonschema`` on plain dicts, lists, strings and numbers.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from coord_env.harness.metrics import METRICS
from coord_env.harness.references import ceiling_per_seed, reference_for
from coord_env.harness.results import SCHEMA_VERSION, normalized_score
from coord_env.harness.seeds import EVALUATION_SEEDS
from coord_env.harness.stats import summarize
from coord_env.registry import builtin_policies, registered_policies
from coord_env.scenarios import Scenario, list_scenarios, load_scenario

__all__ = [
    "MAX_SUBMISSION_BYTES",
    "MONEY_COSTS",
    "SubmissionError",
    "check_not_privileged",
    "check_plausible",
    "load_submission",
    "normalize_name",
    "parse_submission",
    "scenario_of",
    "skeleton",
    "submission_schema",
    "validate_submission",
    "within_tolerance",
]

MAX_SUBMISSION_BYTES = 1_000_000  # 30 seeds take about 20 kB; a cap keeps parsing cheap
MONEY_COSTS = ("purchase_cost", "holding_cost", "lost_sale_penalty")
# Per-seed profit is revenue + salvage - costs up to float rounding of the sums.
MONEY_TOLERANCE = 1e-6
# Aggregates are recomputed from the per-seed values with the same code, so they agree to
# rounding; the bootstrap CI is seeded and deterministic for a given scipy.
AGGREGATE_TOLERANCE = 1e-9
# Plausibility (docs/leaderboard.md, "Plausible profits"): the mean profit may exceed the mean
# ceiling by at most PLAUSIBLE_Z standard errors of the per-seed (profit - ceiling) differences
# plus PLAUSIBLE_SLACK of the ceiling; no seed's profit may exceed its own ceiling by more than
# SEED_EXCESS times that ceiling.
PLAUSIBLE_Z = 4.0
PLAUSIBLE_SLACK = 0.01
SEED_EXCESS = 1.0
# Characters a name may not hold: control (Cc), format (Cf: zero-width, bidi marks, overrides
# and isolates), surrogate, private-use and unassigned (Cs, Co, Cn), line and paragraph
# separators (Zl, Zp). They are invisible or reorder text, so two different names look alike.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class SubmissionError(ValueError):
    """A submission is invalid; ``field`` names the offending field (a JSON path like ``per_seed[3].profit``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@cache
def submission_schema() -> dict[str, Any]:
    """The submission JSON Schema (draft 2020-12) shipped with the package."""
    text = (resources.files(__package__) / "submission.schema.json").read_text()
    return json.loads(text)


MAX_STRING_LENGTH = 2_000  # the schema's longest field (command); checked before the schema
MAX_INTEGER_DIGITS = 16  # beyond 2**53 an integer is not exact as a JSON number anyway
# C0 and C1 control characters (newlines and tabs included) and DEL: no field is multi-line, and
# a control character breaks Markdown tables and the SVG plot's XML.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise SubmissionError(duplicate, "duplicate key in a JSON object")
    return document


def _reject_constant(name: str) -> float:
    raise SubmissionError("(document)", f"{name} is not a number; JSON numbers must be finite")


def _finite_float(text: str) -> float:
    if len(text) > 40:
        raise SubmissionError("(document)", f"number {text[:40]}... is too long")
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as inf
        raise SubmissionError("(document)", f"number {text[:40]} overflows to infinity")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise SubmissionError(
            "(document)", f"integer {text[:40]} has more than {MAX_INTEGER_DIGITS} digits"
        )
    return int(text)


def _check_strings(value: Any, path: list[Any]) -> None:
    """Every string (keys too): bounded length, no control characters, valid Unicode."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, path)
            _check_strings(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, [*path, index])
    elif isinstance(value, str):
        if len(value) > MAX_STRING_LENGTH:
            raise SubmissionError(
                _json_path(path),
                f"string of {len(value):,} characters (at most {MAX_STRING_LENGTH:,})",
            )
        if _CONTROL.search(value):
            raise SubmissionError(
                _json_path(path), "contains a control character (newline, tab, ...); not allowed"
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SubmissionError(_json_path(path), "contains a lone surrogate") from None


def parse_submission(data: bytes | str) -> dict[str, Any]:
    """Parse submission JSON strictly: size cap, UTF-8, no duplicate keys, no NaN or infinity.

    Also refuses numbers too long to be meaningful, over-long strings, and strings with control
    characters or lone surrogates, so that nothing later (schema, arithmetic, rendering) sees them.

    Raises
    ------
    SubmissionError
        With ``field`` ``(document)`` for a file that is not one strict JSON object, or the path
        of the offending string.
    """
    try:
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    except UnicodeEncodeError:
        raise SubmissionError("(document)", "contains a lone surrogate") from None
    if len(raw) > MAX_SUBMISSION_BYTES:
        raise SubmissionError(
            "(document)", f"{len(raw):,} bytes is over the limit of {MAX_SUBMISSION_BYTES:,}"
        )
    try:
        text = raw.decode("utf-8")
        document = json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except UnicodeDecodeError as error:
        raise SubmissionError("(document)", f"not UTF-8 text ({error.reason})") from None
    except RecursionError:
        raise SubmissionError("(document)", "nested too deeply") from None
    except json.JSONDecodeError as error:
        raise SubmissionError(
            "(document)", f"not valid JSON: {error.msg} at line {error.lineno}"
        ) from None
    if not isinstance(document, dict):
        raise SubmissionError("(document)", f"must be a JSON object, got {type(document).__name__}")
    _check_strings(document, [])
    return document


def load_submission(path: str | Path) -> dict[str, Any]:
    """Read, parse and validate the submission file at ``path``; return the document.

    Reads at most ``MAX_SUBMISSION_BYTES + 1`` bytes, so an oversized file is refused without
    loading it.

    Raises
    ------
    SubmissionError
        The first problem found, naming the field.

    Examples
    --------
    >>> load_submission("no/such/file.json")
    Traceback (most recent call last):
    ...
    coord_env.leaderboard.validate.SubmissionError: (file): no/such/file.json does not exist
    """
    path = Path(path)
    if not path.is_file():
        raise SubmissionError("(file)", f"{path} does not exist")
    with path.open("rb") as handle:
        data = handle.read(MAX_SUBMISSION_BYTES + 1)
    return validate_submission(parse_submission(data))


def _json_path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _error_field(error: Any) -> str:
    """The JSON path of a schema error, down to the missing or unexpected key where there is one."""
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        path.append(missing[0])
    elif error.validator == "not" and isinstance(error.validator_value, dict):
        path += error.validator_value.get("required", [])[:1]  # a field that must be absent
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        path.append(sorted(set(error.instance) - allowed)[0])
    return _json_path(path)


@cache
def _validator() -> Any:
    """Draft 2020-12, except that ``integer`` excludes floats such as ``1.0`` (seeds, budgets)."""
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    strict = validators.extend(Draft202012Validator, type_checker=checker)
    return strict(submission_schema())


def _check_builtin(document: dict[str, Any]) -> None:
    """A baseline row must name a built-in policy: CI re-runs it by that name. No row may name
    a privileged policy (one that reads the env's hidden state) other than coord_env's own."""
    builtin = builtin_policies()
    if document["baseline"] and document["policy"] not in builtin:
        raise SubmissionError(
            "policy",
            f"a baseline row must name a built-in policy ({', '.join(builtin)}), "
            f"got {document['policy']!r}",
        )
    check_not_privileged(document["policy"])


def check_not_privileged(policy: str) -> None:
    """Refuse a registered policy that is privileged but not one of coord_env's built-ins.

    A privileged policy reads the scored env's hidden state (``snapshot()``: true on-hand,
    pipeline, drift); only the project's own oracles (``optimal``) may, as reference rows.

    Raises
    ------
    SubmissionError
        With ``field`` ``policy``, naming the plug-in that registered it.

    Examples
    --------
    >>> check_not_privileged("siloed")
    """
    spec = registered_policies().get(policy)
    if spec is not None and spec.privileged and not spec.builtin:
        raise SubmissionError(
            "policy",
            f"{policy!r} is registered as privileged (it reads the env's hidden state through "
            f"snapshot()) by plug-in {spec.plugin!r}; the leaderboard accepts privileged "
            "policies only from coord_env's own built-ins (docs/plug_in.md, Privileged policies)",
        )


def _check_record(document: dict[str, Any]) -> None:
    """A verification record must be of the row's own policy: the name the harness gave the
    policy it re-ran (``verification.policy``) equals the row's ``policy``, exactly."""
    record = document.get("verification")
    if record is not None and record["policy"] != document["policy"]:
        raise SubmissionError(
            "verification.policy",
            f"the record verified {record['policy']!r}, but the row's policy is "
            f"{document['policy']!r}; they must be equal (re-verify with the row's policy)",
        )


def _check_schema(document: dict[str, Any]) -> None:
    validator = _validator()
    errors = sorted(
        validator.iter_errors(document), key=lambda e: (len(e.path), list(map(str, e.path)))
    )
    if errors:
        error = errors[0]
        message = error.message
        if len(message) > 300:
            message = message[:300] + "..."
        raise SubmissionError(_error_field(error), message)


def scenario_of(document: dict[str, Any]) -> Scenario:
    """The catalog scenario a submission's ``scenario`` id names (``coord/<name>-v<version>``).

    Raises
    ------
    SubmissionError
        An unknown scenario name, or a version that is not the catalog's.
    """
    env_id = document["scenario"]
    name, _, version = env_id.removeprefix("coord/").rpartition("-v")
    if name not in list_scenarios():
        raise SubmissionError(
            "scenario", f"unknown scenario {env_id!r}; known: {', '.join(_known_ids())}"
        )
    scenario = load_scenario(name)
    if scenario.env_id != env_id:
        raise SubmissionError(
            "scenario",
            f"unknown version {version!r} of {name!r}; this coord_env has {scenario.env_id}",
        )
    return scenario


def _known_ids() -> list[str]:
    return [load_scenario(name).env_id for name in list_scenarios()]


def within_tolerance(a: float | None, b: float | None, tolerance: float) -> bool:
    """Equal within ``tolerance`` (relative, at least absolute); a non-finite value never is."""
    if a is None or b is None:
        return a is None and b is None
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))


def _check_seeds(document: dict[str, Any]) -> None:
    seeds = document["seeds"]
    if len(set(seeds)) != len(seeds):
        raise SubmissionError("seeds", "lists a seed more than once")
    if seeds != list(EVALUATION_SEEDS):
        raise SubmissionError(
            "seeds",
            f"must be the official evaluation seeds {EVALUATION_SEEDS[0]}..{EVALUATION_SEEDS[-1]} "
            f"({len(EVALUATION_SEEDS)} seeds, in order); got {len(seeds)} seeds starting {seeds[:3]}",
        )
    per_seed = [row["seed"] for row in document["per_seed"]]
    if per_seed != seeds:
        index = next(
            (i for i, (a, b) in enumerate(zip(per_seed, seeds, strict=False)) if a != b),
            min(len(per_seed), len(seeds)),
        )
        raise SubmissionError(
            f"per_seed[{index}].seed",
            "per_seed must hold one row per seed of `seeds`, in the same order",
        )


def _check_money(document: dict[str, Any]) -> None:
    for index, row in enumerate(document["per_seed"]):
        expected = math.fsum(
            [row["revenue"], row["salvage"], *(-row[cost] for cost in MONEY_COSTS)]
        )
        if not within_tolerance(row["profit"], expected, MONEY_TOLERANCE):
            raise SubmissionError(
                f"per_seed[{index}].profit",
                f"{row['profit']!r} is not revenue + salvage - purchase_cost - holding_cost - "
                f"lost_sale_penalty = {expected!r}",
            )


def _check_aggregates(document: dict[str, Any], scenario: Scenario) -> None:
    profits = np.array([row["profit"] for row in document["per_seed"]], dtype=float)
    summary = summarize(profits)
    for key in ("mean", "iqm", "ci_low", "ci_high"):
        if not within_tolerance(document["profit"][key], summary[key], AGGREGATE_TOLERANCE):
            raise SubmissionError(
                f"profit.{key}",
                f"{document['profit'][key]!r} does not match the per-seed profits, which give "
                f"{summary[key]!r}",
            )
    for name in METRICS:
        values = [row[name] for row in document["per_seed"] if row[name] is not None]
        expected = float(np.mean(values)) if values else None
        if not within_tolerance(document["metrics"][name], expected, AGGREGATE_TOLERANCE):
            raise SubmissionError(
                f"metrics.{name}",
                f"{document['metrics'][name]!r} is not the mean of the per-seed values "
                f"({expected!r}; nulls are skipped)",
            )
    reference = reference_for(scenario)
    expected_score = (
        None
        if reference is None
        else normalized_score(summary["mean"], reference["siloed_profit"], reference["upper_bound"])
    )
    if not within_tolerance(document["normalized_score"], expected_score, AGGREGATE_TOLERANCE):
        raise SubmissionError(
            "normalized_score",
            f"{document['normalized_score']!r} does not match the profit mean and the scenario's "
            f"fixed references ({expected_score!r})",
        )


def normalize_name(text: str) -> str:
    """A method or author name in Unicode NFKC form (full-width letters, ligatures and the like
    become their plain forms), the form a submission stores.

    Examples
    --------
    >>> normalize_name("\uff2d\uff59 \ufb01t")
    'My fit'
    """
    return unicodedata.normalize("NFKC", text)


@cache
def _confusables() -> dict[str, str]:
    """Unicode's confusables (TR#39), shipped as ``confusables.txt`` beside this module: each
    source character's prototype string."""
    text = Path(__file__).with_name("confusables.txt").read_text(encoding="utf-8")
    table = {}
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip()
        if data:
            source, target = (part.strip() for part in data.split(";")[:2])
            table[chr(int(source, 16))] = "".join(chr(int(code, 16)) for code in target.split())
    return table


def skeleton(text: str) -> str:
    """The Unicode TR#39 confusable skeleton of ``text``, case-folded: equal skeletons look alike.

    ``NFD``, every character replaced by its prototype from Unicode's ``confusables.txt``, then
    ``NFD`` again (TR#39 section 4); ``casefold`` first, as the leaderboard's file names ignore case.

    Examples
    --------
    >>> skeleton("\u0441oordinated") == skeleton("coordinated")
    True
    >>> skeleton("siloed") == skeleton("sealed")
    False
    """
    table = _confusables()
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return unicodedata.normalize("NFD", "".join(table.get(char, char) for char in decomposed))


def _check_names(document: dict[str, Any]) -> None:
    """Method and authors: NFKC form, no invisible, bidi or unassigned characters."""
    fields = [("method", document["method"])]
    fields += [(f"authors[{index}]", name) for index, name in enumerate(document["authors"])]
    for field, name in fields:
        for char in name:
            category = unicodedata.category(char)
            if category in _HIDDEN_CATEGORIES:
                what = unicodedata.name(char, "unassigned")
                raise SubmissionError(
                    field,
                    f"contains U+{ord(char):04X} ({what}, category {category}): control, format, "
                    "bidi, private-use and unassigned characters are not allowed in names",
                )
        if not unicodedata.is_normalized("NFKC", name):
            raise SubmissionError(
                field,
                f"{name!r} is not in Unicode NFKC form ({normalize_name(name)!r} is); "
                "coord-bench submit normalizes names",
            )


def check_plausible(document: dict[str, Any], scenario: Scenario) -> None:
    """Refuse a profit above what the scenario's ceiling allows, beyond sampling noise.

    The ceiling of each official seed is the exact optimum (``tiny``) or the fluid upper bound
    (:func:`coord_env.harness.references.ceiling_per_seed`). With ``d_s`` the per-seed profit
    minus ceiling, the mean of ``d`` may exceed 0 by at most ``PLAUSIBLE_Z`` standard errors of
    ``d`` plus ``PLAUSIBLE_SLACK`` of the mean ceiling, and no ``d_s`` may exceed
    ``SEED_EXCESS`` times its seed's ceiling. A scenario without references is not checked.

    Raises
    ------
    SubmissionError
        Naming ``profit.mean`` or ``per_seed[i].profit``.
    """
    ceilings = ceiling_per_seed(scenario)
    reference = reference_for(scenario)
    profits = np.array([row["profit"] for row in document["per_seed"]], dtype=float)
    if ceilings is None or reference is None or len(ceilings) != len(profits):
        return
    ceiling = np.array(ceilings, dtype=float)
    kind = "exact optimum" if reference["ceiling"] == "optimum" else "fluid upper bound"
    excess = profits - ceiling
    noise = float(np.std(excess, ddof=1) / math.sqrt(len(excess))) if len(excess) > 1 else 0.0
    allowance = PLAUSIBLE_Z * noise + PLAUSIBLE_SLACK * abs(float(ceiling.mean()))
    if float(excess.mean()) > allowance:
        raise SubmissionError(
            "profit.mean",
            f"{profits.mean():,.2f} is above the {kind} of {scenario.env_id} "
            f"({ceiling.mean():,.2f}, normalized score 100) by {excess.mean():,.2f}, more than "
            f"sampling noise allows ({allowance:,.2f}: {PLAUSIBLE_Z:g} standard errors of the "
            f"per-seed profit - ceiling differences plus {PLAUSIBLE_SLACK:.0%} of the ceiling); "
            "no policy acting in the scenario's env earns that",
        )
    for index in np.flatnonzero(excess > SEED_EXCESS * np.abs(ceiling)):
        raise SubmissionError(
            f"per_seed[{index}].profit",
            f"{profits[index]:,.2f} is more than {1 + SEED_EXCESS:g} times the {kind} of its "
            f"seed ({ceiling[index]:,.2f}); no episode of {scenario.env_id} earns that",
        )


def validate_submission(document: dict[str, Any]) -> dict[str, Any]:
    """Check a parsed submission: schema, names, scenario, hash, seeds, money, aggregates and a
    plausible profit (:func:`check_plausible`). Returns it.

    Parameters
    ----------
    document : dict
        A parsed submission (:func:`parse_submission`); it is not modified.

    Raises
    ------
    SubmissionError
        The first problem found; ``error.field`` names the field.

    Examples
    --------
    >>> validate_submission({"schema_version": 1})
    Traceback (most recent call last):
    ...
    coord_env.leaderboard.validate.SubmissionError: package_version: 'package_version' is a required property
    """
    if not isinstance(document, dict):
        raise SubmissionError("(document)", f"must be a JSON object, got {type(document).__name__}")
    try:
        _check_strings(document, [])
    except RecursionError:
        raise SubmissionError("(document)", "nested too deeply") from None
    _check_schema(document)
    _check_names(document)
    _check_builtin(document)
    _check_record(document)
    if document["schema_version"] != SCHEMA_VERSION:  # the schema pins it; kept for clarity
        raise SubmissionError("schema_version", f"must be {SCHEMA_VERSION}")
    scenario = scenario_of(document)
    if document["scenario_hash"] != scenario.content_hash:
        raise SubmissionError(
            "scenario_hash",
            f"does not match {scenario.env_id} ({scenario.content_hash}); the results were "
            "produced on different scenario parameters",
        )
    _check_seeds(document)
    _check_money(document)
    _check_aggregates(document, scenario)
    check_plausible(document, scenario)
    return document
