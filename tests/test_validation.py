"""What users write is validated before it is used: model YAML files, gate policies, names in paths.

Each wrong input is one line naming the file, the key and what it must be (exit 2 from the
CLI), never a traceback and never a run that quietly means something else: a gate that gates
nothing, a stop string split into letters, a model name that climbs out of the runs folder.
Property-based tests (hypothesis) feed the readers random documents.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_samples import make_run

from orcabench import api
from orcabench.cli.run import main
from orcabench.gate.outputs import rule_text, to_json
from orcabench.gate.policy import Policy, load_policy
from orcabench.gate.verdicts import compare_runs
from orcabench.models.registry import ModelSpec, load_model_file, resolve_model
from orcabench.store.schema import Fingerprint, run_dir_name, safe_slug
from orcabench.types import OrcabenchError

QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def write_yaml(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content), encoding="utf-8")
    return path


def one_line_error(call: Any, *args: Any) -> str:
    with pytest.raises(OrcabenchError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


# --- the gate policy ----------------------------------------------------------------------


def gate_exit(tmp_path: Path, policy: dict[str, Any], capsys: pytest.CaptureFixture[str],
              tasks: tuple[str, ...] = ("gsm8k", "bbh")) -> tuple[int, str, str]:
    base = tmp_path / "base"
    if not base.exists():
        make_run(base, {t: [1.0] * 30 for t in tasks})
    config = write_yaml(tmp_path, f"gate-{len(list(tmp_path.glob('gate-*')))}.yaml", policy)
    code = main(["gate", "--baseline", str(base), "--candidate", str(base), "--config", str(config)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


@pytest.mark.parametrize(("policy", "message"), [
    ({"required": []}, "required is an empty list: the gate would gate nothing"),
    ({"informational": ["gsm8k", "bbh"]}, "leaves no required task among the shared task(s) gsm8k, bbh"),
    ({"tasks": {"gsm8k": {"required": False}, "bbh": {"required": False}}}, "leaves no required task"),
    ({"required": ["gsm8k"], "informational": ["gsm8k"]}, "task(s) gsm8k both required and informational"),
    ({"tasks": {"bbh": {"required": True}}, "informational": ["bbh"]}, "task(s) bbh both required and informational"),
    ({"required": ["bbh"], "tasks": {"bbh": {"required": False}}}, "task(s) bbh both required and informational"),
    ({"margin": math.nan}, "margin must be between 0.0 and 100.0, not nan"),
    ({"confidence": math.inf}, "confidence must be between 0.5 and 0.999, not inf"),
    ({"tasks": {"gsm8k": {"margin": math.nan}}}, "tasks.gsm8k.margin must be between 0.0 and 100.0, not nan"),
    ({"min_n": "30"}, "min_n must be an integer, not '30'"),
    ({"min_n": True}, "min_n must be an integer, not True"),
    ({"required": ["gsm8k", 7]}, 'required[1] must be "all" or a list of task names, not 7'),
    ({"tasks": {"gsm8k": 5}}, "tasks.gsm8k must be a mapping with keys among margin, max_n, min_n, required, not 5"),
])
def test_a_gate_that_would_gate_nothing_or_cannot_be_read_is_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], policy: dict[str, Any], message: str) -> None:
    code, out, err = gate_exit(tmp_path, policy, capsys)
    assert (code, out) == (2, ""), (code, out)
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_a_policy_that_gates_one_task_still_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = gate_exit(tmp_path, {"required": ["gsm8k"], "informational": ["bbh"], "margin": 20}, capsys)
    assert code == 0 and "orcabench gate: PASS" in out and "Bonferroni over 1 required task(s)" in out


def test_a_per_task_entry_for_a_task_in_neither_run_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = gate_exit(tmp_path, {"margin": 20, "tasks": {"gsm8k": {"margin": 30}, "gsm8K": {"margin": 0.5}},
                                        "informational": ["crass-ai"]}, capsys)
    assert code == 0
    assert "Policy entries not applied:" in out
    assert "- tasks.gsm8K names a task in neither run; it was not applied (check the task name)" in out
    assert "- informational: crass-ai names a task in neither run" in out
    assert "tasks.gsm8k " not in out  # an entry that applied is not listed
    base = tmp_path / "base"
    policy = load_policy(write_yaml(tmp_path, "p.yaml", {"tasks": {"arc": {"margin": 2}}}))
    assert to_json(compare_runs(base, base, policy))["policy_not_applied"] == [
        "tasks.arc names a task in neither run; it was not applied (check the task name)"]


def test_a_per_task_value_applies_as_written(tmp_path: Path) -> None:
    policy = load_policy(write_yaml(tmp_path, "p.yaml", {"max_n": 500, "margin": 2, "tasks": {"bbh": {"max_n": None}}}))
    assert (policy.for_task("bbh").max_n, policy.for_task("bbh").margin, policy.for_task("gsm8k").max_n) == (None, 2.0, 500)
    assert "tasks.bbh.margin must be between 0.0 and 100.0, not None" in one_line_error(
        load_policy, write_yaml(tmp_path, "n.yaml", {"tasks": {"bbh": {"margin": None}}}))


def test_the_rule_text_gives_min_n_as_set_not_as_a_default(tmp_path: Path) -> None:
    base = make_run(tmp_path / "base", {"gsm8k": [1.0] * 30, "bbh": [1.0] * 30})
    policy = load_policy(write_yaml(tmp_path, "p.yaml", {"min_n": 3, "tasks": {"bbh": {"min_n": 5}}}))
    text = rule_text(compare_runs(base, base, policy))
    assert "(default" not in text
    assert "Fewer than min_n pairs (3; bbh 5): no decision." in text
    lenient = load_policy(write_yaml(tmp_path, "l.yaml", {"rule": "lenient", "margin": 2}))
    assert "its margin (2 points)" in rule_text(compare_runs(base, base, lenient))


policy_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                          st.text(max_size=8), st.lists(st.sampled_from(["gsm8k", "bbh", "arc", 3]), max_size=3))
task_entries = st.dictionaries(st.sampled_from(["margin", "min_n", "max_n", "required", "alpha"]), policy_values, max_size=3)
policy_documents = st.dictionaries(
    st.sampled_from(["rule", "confidence", "margin", "min_n", "max_n", "chunk", "required", "informational", "tasks",
                     "resamples", "seed", "alpah"]),
    st.one_of(policy_values, st.sampled_from(["all", "lenient", "non-inferiority"]),
              st.dictionaries(st.sampled_from(["gsm8k", "bbh", "arc"]), st.one_of(task_entries, policy_values), max_size=2)),
    max_size=5)


@QUICK
@given(document=st.one_of(policy_documents, st.text(max_size=40)))
def test_any_policy_document_is_read_or_refused_in_one_line_and_a_read_one_gates_something(document: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_yaml(Path(folder), "gate.yaml", document)
        try:
            policy = load_policy(path)
        except OrcabenchError as error:
            assert "\n" not in str(error) and str(error).startswith(f"gate config {path}")
            return
        assert isinstance(policy, Policy) and 0.5 <= policy.confidence <= 0.999
        assert math.isfinite(policy.margin) and policy.min_n >= 1 and policy.required != ()
        base = make_run(Path(folder) / "base", {"gsm8k": [1.0] * 20 + [0.0] * 10, "bbh": [0.0] * 30})
        try:
            comparison = compare_runs(base, base, dataclasses.replace(policy, resamples=100))
        except OrcabenchError as error:
            assert "\n" not in str(error)
            return
        assert any(t.policy.required for t in comparison.tasks)  # a verdict always rests on a gated task


# --- the model YAML file ------------------------------------------------------------------


def test_a_string_stop_is_one_stop_sequence_not_its_characters(tmp_path: Path) -> None:
    spec = resolve_model(str(write_yaml(tmp_path, "m.yaml", "name: m\nsource: org/m\nstop: \"</s>\"\n")))
    assert spec.stop == ("</s>",) and spec.all_stops == ("</s>",)
    listed = resolve_model(str(write_yaml(tmp_path, "l.yaml", {"name": "m", "source": "org/m", "stop": ["</s>", "###"]})))
    assert listed.stop == ("</s>", "###")


def test_the_planned_requests_carry_the_whole_stop_string(tmp_path: Path, data_dir: Path, smollm2_dir: Path) -> None:
    model = write_yaml(tmp_path, "m.yaml", {"name": "m", "source": str(smollm2_dir), "stop": "</s>"})
    plan = api.plan(api.RunConfig(selection=api.Selection(model=str(model), tasks=["gsm8k"], limit=1, data_dir=data_dir),
                                  engine=api.EngineSettings(backend="hf"),
                                  operations=api.Operations(runs_root=tmp_path / "runs")))
    assert plan.spec.all_stops == ("</s>",) and plan.fingerprint.model["stop"] == ["</s>"]  # what the backend is sent



def test_a_yaml_model_may_rename_a_bundled_model(tmp_path: Path, data_dir: Path, smollm2_dir: Path) -> None:
    model = write_yaml(tmp_path, "m.yaml", {"name": "my-smol", "source": "bundled:smollm2-135m", "stop": "</s>"})
    plan = api.plan(api.RunConfig(selection=api.Selection(model=str(model), tasks=["gsm8k"], limit=1, data_dir=data_dir),
                                  engine=api.EngineSettings(backend="hf"),
                                  operations=api.Operations(runs_root=tmp_path / "runs")))
    assert plan.model_path == str(smollm2_dir) and plan.run_dir.name.startswith("my-smol-hf-")

@pytest.mark.parametrize(("content", "message"), [
    ({"stop": 5}, "stop must be a string (one stop sequence) or a list of non-empty strings, not 5"),
    ({"stop": ["</s>", 5]}, "stop[1] must be a string (one stop sequence) or a list of non-empty strings, not 5"),
    ({"stop": ""}, "stop must be a string (one stop sequence)"),
    ({"engine": "float32"}, "engine must be a mapping of backend settings, e.g. {dtype: bfloat16"),
    ({"system_message": 42}, "system_message must be a string (quote it), or null for no system message, not 42"),
    ({"prompt_format": "banana"}, "prompt_format must be one of chat, plain, api-chat, not 'banana'"),
    ({"size_params": "big"}, "size_params must be a positive number: billions of parameters, e.g. 7 or 0.135, not 'big'"),
    ({"size_params": -7}, "size_params must be a positive number"),
    ({"size_params": math.nan}, "size_params must be a positive number"),
    ({"name": 7}, "name must be a non-empty string"),
    ({"name": ""}, "name must be a non-empty string"),
    ({"tokenizer": ["use_fast"]}, "tokenizer must be a mapping of tokenizer options"),
    ({"revision": 2024}, "revision must be a string (a branch, tag or commit hash; quote it) or null, not 2024"),
    ({"reasoning": "yes"}, "reasoning is true, false or a mapping of enable_thinking, end, start"),
])
def test_every_model_field_is_type_checked_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       content: dict[str, Any], message: str) -> None:
    path = write_yaml(tmp_path, "m.yaml", {"name": "m", "source": "org/m", **content})
    error = one_line_error(load_model_file, path)
    assert error.startswith(f"{path}: ") and message in error, error
    assert main(["run", "--model", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_the_yaml_reader_knows_every_field_of_a_model_spec() -> None:
    from orcabench.models.registry import _SPEC_FIELDS

    assert _SPEC_FIELDS == {f.name for f in dataclasses.fields(ModelSpec)}  # a new field must be validated too


model_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=10),
                         st.lists(st.one_of(st.text(max_size=6), st.integers()), max_size=3),
                         st.dictionaries(st.text(max_size=6), st.one_of(st.text(max_size=6), st.integers(), st.booleans()),
                                         max_size=3))
model_fields = sorted({f.name for f in dataclasses.fields(ModelSpec)} - {"name", "source"} | {"temprature"})
model_documents = st.fixed_dictionaries(
    {"name": st.one_of(st.text(max_size=12), st.integers()), "source": st.one_of(st.text(max_size=12), st.just("~nobody/x"))},
    optional={name: model_values for name in model_fields})


@QUICK
@given(document=st.one_of(model_documents, st.text(max_size=40), model_values))
def test_any_model_document_is_read_or_refused_in_one_line(document: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_yaml(Path(folder), "m.yaml", document)
        try:
            spec = load_model_file(path)
        except OrcabenchError as error:
            assert "\n" not in str(error) and str(path) in str(error)
            return
        assert isinstance(spec.name, str) and spec.name and isinstance(spec.source, str) and spec.source
        assert isinstance(spec.stop, tuple) and all(isinstance(s, str) and s for s in spec.stop)
        assert spec.prompt_format in ("chat", "plain", "api-chat") and isinstance(spec.engine, dict)
        assert spec.size_params is None or (math.isfinite(spec.size_params) and spec.size_params > 0)
        assert spec.system_message is None or isinstance(spec.system_message, str)


# --- names in paths -----------------------------------------------------------------------


FINGERPRINT = Fingerprint.from_json({"model": {"name": "m"}, "backend": "hf", "tasks": {}})


def test_a_model_name_that_climbs_out_stays_in_the_runs_folder(tmp_path: Path, data_dir: Path, smollm2_dir: Path) -> None:
    model = write_yaml(tmp_path, "m.yaml", {"name": "../../escaped", "source": str(smollm2_dir)})
    runs = tmp_path / "deep" / "runs"
    plan = api.plan(api.RunConfig(selection=api.Selection(model=str(model), tasks=["gsm8k"], limit=1, data_dir=data_dir),
                                  engine=api.EngineSettings(backend="hf"),
                                  operations=api.Operations(runs_root=runs)))
    assert plan.run_dir.parent == runs and plan.run_dir.resolve().parent == runs.resolve()
    assert plan.run_dir.name.startswith("-..-escaped-hf-")


def test_ordinary_names_keep_their_run_directory() -> None:
    digest = FINGERPRINT.digest()[:12]
    for name in ("smollm2-135m", "Qwen--Qwen3-0.6B", "my-orca", "orca2_13b+lora", "wizardlm-70b"):
        assert run_dir_name(name, "vllm", FINGERPRINT) == f"{name}-vllm-{digest}"


@settings(max_examples=200, deadline=None)
@given(name=st.text())
def test_no_name_leaves_its_folder(name: str) -> None:
    root = Path("/runs")
    for component in (safe_slug(name, "model"), run_dir_name(name, name, FINGERPRINT)):
        assert component and "/" not in component and "\\" not in component and "\x00" not in component
        assert not component.startswith(".") and len(component.encode()) <= 255
        assert (root / component).parent == root and Path(component).name == component


def test_a_task_named_to_climb_out_of_the_site_stays_in_it() -> None:
    from orcabench.report.site import slug

    assert slug("..") == "task" and slug("../../etc") == "-..-etc" and slug("gsm8k") == "gsm8k" and slug("bbh/x") == "bbh-x"
