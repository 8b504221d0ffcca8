"""The experiment settings as data (baselines/settings): what retrain trains, and its validation."""

import copy
import json
import re
from pathlib import Path

import pytest

import baselines.reproduce as reproduce
from baselines.rl.names import RL_BASELINES
from baselines.settings import (
    TRAINING_SETTINGS,
    TUNED_SETTINGS,
    SettingsError,
    load_tuned_settings,
    training_settings,
)
from coord_env import load_scenario

DATA = Path(__file__).parent / "data"


def test_retrain_trains_what_the_code_before_the_settings_file_trained(monkeypatch):
    """Budget, evaluation interval, config (in order) and command of every baseline on the
    scenarios outside the protocol (tiny, small), against the values recorded from the code that
    held them in Python (tests/data/make_training_settings_expected.py), with the tuned settings
    pinned."""
    expected = json.loads((DATA / "training_settings_expected.json").read_text())
    monkeypatch.setattr(reproduce, "TUNED_SETTINGS", DATA / "tuned_settings_pinned.json")
    protocol = set(training_settings().headline_scenarios)  # tested below
    assert set(expected) == set(training_settings().runs) - protocol == {"tiny", "small"}
    for scenario_name, table in expected.items():
        scenario = load_scenario(scenario_name)
        assert list(table) == list(RL_BASELINES)
        for name, want in table.items():
            budget = reproduce.training_budget(name, scenario)
            assert budget == want["budget"], (name, scenario_name)
            assert reproduce.eval_every(budget) == want["eval_every"]
            config = reproduce.training_config(name, scenario)
            assert list(config.items()) == list(want["config"].items()), (name, scenario_name)
            for seed, command in want["commands"].items():
                assert reproduce.training_command(name, scenario, int(seed)) == command


def test_the_headline_scenarios_train_every_learned_baseline_with_equal_effort():
    """The protocol (docs/training.md): on each headline scenario every learned baseline was
    tuned by a study of the same trials, per-trial budget and seed, and retrains at one budget
    with exactly the study's best settings, on the trainer's defaults as the trials ran."""
    settings = training_settings()
    document = json.loads(TUNED_SETTINGS.read_text())["settings"]
    efforts = set()
    for scenario_name in settings.headline_scenarios:
        scenario = load_scenario(scenario_name)
        budgets = {reproduce.training_budget(name, scenario) for name in RL_BASELINES}
        assert len(budgets) == 1, (scenario_name, budgets)
        for name in RL_BASELINES:
            entry = document[f"{name}/{scenario_name}"]
            study = entry["study"]
            assert (study["baseline"], study["scenario"]) == (name, scenario_name)
            efforts.add((len(study["trials"]), study["trial_steps"], study["seed"]))
            run = settings.run(name, scenario_name)
            assert run.rollout == "tuned"
            want = {**entry["config"], "lr_decay_steps": run.steps, **dict(run.options)}
            assert reproduce.training_config(name, scenario) == want
    assert efforts == {(8, 100_000, 0)}


def test_a_tuned_rollout_without_tuned_settings_is_refused(tmp_path, monkeypatch):
    empty = tmp_path / "tuned.json"
    empty.write_text(json.dumps({"settings": {}}))
    monkeypatch.setattr(reproduce, "TUNED_SETTINGS", empty)
    with pytest.raises(SettingsError, match=r"runs\.default\.mtma\.rollout is 'tuned', but the"):
        reproduce.training_config("mtma", load_scenario("default"))
    with pytest.raises(SettingsError, match="no ippo/multiscale entry; run coord-bench tune ippo"):
        reproduce.training_command("ippo", load_scenario("multiscale"), 0)


def test_run_options_are_a_closed_set_per_baseline(tmp_path):
    """An option the baseline does not have, or a value it does not allow, is refused by name
    with the allowed ones; a valid option reaches the trainer config last."""
    document = json.loads(TRAINING_SETTINGS.read_text())
    cases = [
        ("shared_ppo", {"vec_env": "batchd"}, "options.vec_env must be one of supersuit, batched"),
        ("shared_ppo", {"learning_rate": 1.0}, "is not an option of shared_ppo; allowed: vec_env"),
        ("mtma", {"vec_env": "batched"}, "is not an option of mtma; allowed: none"),
    ]
    for name, options, message in cases:
        bad = copy.deepcopy(document)
        bad["runs"]["default"][name]["options"] = options
        with pytest.raises(SettingsError, match=re.escape(message)):
            training_settings(_write(tmp_path, bad))
    run = training_settings().run("shared_ppo", "default")
    assert run.options == (("vec_env", "batched"),)
    assert hash(run) == hash(training_settings().run("shared_ppo", "default"))
    assert reproduce.training_config("shared_ppo", load_scenario("default"))["vec_env"] == "batched"


def test_the_package_settings_are_the_ones_reproduce_uses():
    settings = training_settings()
    assert reproduce.HEADLINE_SCENARIOS == settings.headline_scenarios == ("default", "multiscale")
    assert reproduce.OPTIMUM_SCENARIOS == settings.optimum_scenarios == ("tiny",)
    assert reproduce.CURVE_SEEDS == settings.curve_seeds == (0, 1, 2, 3, 4)
    # the settings object cannot be changed in place
    with pytest.raises(AttributeError):
        settings.curve_seeds = (0,)
    with pytest.raises(TypeError):
        settings.runs["tiny"]["mtma"] = None
    assert reproduce.tuned_settings() == load_tuned_settings()


def test_a_scenario_without_budgets_is_refused_with_the_budgeted_ones():
    with pytest.raises(KeyError, match="budgeted scenarios: tiny, small, default, multiscale"):
        reproduce.training_budget("mtma", load_scenario("large"))
    with pytest.raises(KeyError, match="no training budget for 'nope' on 'tiny'"):
        training_settings().run("nope", "tiny")


def _write(tmp_path, document) -> Path:
    path = tmp_path / "training.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def _set(path: str, value):
    """A mutation of the package's document: set the field at dotted ``path`` (None: delete)."""

    def mutate(document):
        *parents, last = path.split(".")
        node = document
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_set("budgets", {}), "budgets is not a settings field"),
        (_set("curve_seeds", None), "curve_seeds is missing"),
        (_set("curve_seeds", []), "curve_seeds must be a non-empty list"),
        (_set("curve_seeds", [0, 0]), "curve_seeds repeats a seed"),
        (_set("curve_seeds", [-1]), "curve_seeds holds -1"),
        (_set("curve_seeds", [True]), "curve_seeds holds True"),
        (_set("eval_points", 0), "eval_points must be a positive integer"),
        (_set("min_eval_every", 1.5), "min_eval_every must be a positive integer"),
        (_set("headline_scenarios", ["nope"]), "headline_scenarios names 'nope'"),
        (_set("headline_scenarios", "default"), "headline_scenarios must be a non-empty list"),
        (_set("optimum_scenarios", ["large"]), "optimum_scenarios names 'large', which has no"),
        (_set("runs.huge", {}), "runs names 'huge', not a scenario"),
        (_set("runs.tiny.ippo", None), "runs.tiny must give every RL baseline"),
        (_set("runs.tiny.extra", {"steps": 1, "rollout": "defaults"}), "runs.tiny must give"),
        (_set("runs.tiny.ippo.steps", -5), "runs.tiny.ippo.steps must be a positive integer"),
        (_set("runs.tiny.ippo.steps", 5e4), "runs.tiny.ippo.steps must be a positive integer"),
        (_set("runs.tiny.ippo.steps", True), "runs.tiny.ippo.steps must be a positive integer"),
        (_set("runs.tiny.ippo.rollout", "wide"), "runs.tiny.ippo.rollout must be one of"),
        (_set("runs.tiny.ippo.lr", 1e-3), "runs.tiny.ippo must be"),
        (_set("runs.tiny.ippo.options", ["vec_env"]), "runs.tiny.ippo.options must be an object"),
    ],
)
def test_a_bad_training_settings_file_names_the_field(tmp_path, mutate, field):
    document = json.loads(TRAINING_SETTINGS.read_text())
    bad = copy.deepcopy(document)
    mutate(bad)
    with pytest.raises(SettingsError, match="^" + re.escape(f"training.json: {field}")):
        training_settings(_write(tmp_path, bad))
    # the message lists what is allowed where there is a closed set
    if "rollout" in field:
        with pytest.raises(SettingsError, match="defaults, throughput, tuned; got 'wide'"):
            training_settings(_write(tmp_path, bad))
    # the package's file is untouched and still loads
    assert training_settings() == training_settings(_write(tmp_path, document))


def test_a_settings_file_that_is_not_json_says_so(tmp_path):
    with pytest.raises(SettingsError, match=r"training\.json: not valid JSON"):
        training_settings(_write(tmp_path, "{"))
    with pytest.raises(SettingsError, match="must hold a JSON object"):
        training_settings(_write(tmp_path, "[]"))


def test_the_runs_follow_the_baselines_order_whatever_the_file_order(tmp_path):
    document = json.loads(TRAINING_SETTINGS.read_text())
    document["runs"]["tiny"] = dict(reversed(list(document["runs"]["tiny"].items())))
    assert list(training_settings(_write(tmp_path, document)).runs["tiny"]) == list(RL_BASELINES)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"about": "no settings"}, "settings must be an object"),
        ({"settings": {"mtma-tiny": {"config": {}}}}, "settings.mtma-tiny must be named"),
        ({"settings": {"nope/tiny": {"config": {}}}}, "settings.nope/tiny must be named"),
        ({"settings": {"mtma/huge": {"config": {}}}}, "settings.mtma/huge must be named"),
        ({"settings": {"mtma/tiny": {"source": "x"}}}, "settings.mtma/tiny.config must be"),
        ({"settings": {"mtma/tiny": {"config": [1]}}}, "settings.mtma/tiny.config must be"),
    ],
)
def test_a_bad_tuned_settings_file_names_the_entry(tmp_path, document, field):
    path = tmp_path / "tuned.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SettingsError, match="^" + re.escape(f"tuned.json: {field}")):
        load_tuned_settings(path)
    with pytest.raises(SettingsError, match="BASELINE one of centralized, siloed_rl"):
        bad_name = tmp_path / "bad_name.json"
        bad_name.write_text(json.dumps({"settings": {"x/tiny": {"config": {}}}}))
        load_tuned_settings(bad_name)


def test_tune_refuses_a_malformed_settings_file_before_any_trial(tmp_path, capsys):
    from baselines.tune import tune
    from coord_env.cli import main

    settings = tmp_path / "tuned.json"
    settings.write_text(json.dumps({"settings": {"mtma/tiny": {"source": "no config"}}}))
    before = settings.read_bytes()
    with pytest.raises(SettingsError, match=r"settings\.mtma/tiny\.config must be an object"):
        tune("mtma", "tiny", 1, 1_000, tmp_path / "studies", settings=settings)
    argv = ["tune", "mtma", "--scenario", "tiny", "--trials", "1", "--steps", "1000"]
    code = main([*argv, "--study-dir", str(tmp_path / "studies"), "--settings", str(settings)])
    assert code == 2 and "tuned.json: settings.mtma/tiny.config" in capsys.readouterr().err
    assert not (tmp_path / "studies").exists()  # no study, no trial
    assert settings.read_bytes() == before


def test_coord_bench_reproduce_defaults_to_the_settings_headline_scenarios(tmp_path, monkeypatch):
    from coord_env.cli import main

    asked = []
    monkeypatch.setattr(reproduce, "reproduce", lambda out, scenarios, **_: asked.append(scenarios))
    assert main(["reproduce", "--out", str(tmp_path / "results.md"), "--quiet"]) == 0
    assert main(["reproduce", "--out", str(tmp_path / "r.md"), "--scenarios", "tiny"]) == 0
    assert [list(scenarios) for scenarios in asked] == [["default", "multiscale"], ["tiny"]]
