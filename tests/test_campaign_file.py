"""The campaign file (issue 22): read strictly, one line per problem, nothing created; and its cells are ordinary runs.

A cell must be exactly what ``orcabench run`` writes with the same flags: the same RunConfig,
so the same fingerprint and run directory name, under the campaign's folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import REPO, orcabench

from orcabench import api
from orcabench.types import OrcabenchError

BUNDLED = REPO / "examples" / "campaigns" / "bundled.yaml"
ORCA2 = REPO / "examples" / "campaigns" / "orca2.yaml"


def campaign_file(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(BUNDLED.read_text())
    data["output"] = str(tmp_path / "campaign")
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_bundled_campaign_is_two_models_times_two_system_messages() -> None:
    campaign = api.load_campaign(BUNDLED)
    assert [cell.name for cell in campaign.cells] == [
        "smollm2-135m · system_message=empty", "smollm2-135m · system_message=default",
        "gemma3-270m · system_message=empty", "gemma3-270m · system_message=default"]
    assert campaign.reference == "smollm2-135m" and campaign.output == Path("campaigns/bundled")
    config = campaign.cells[1].config
    assert (config.selection.model, tuple(config.selection.tasks), config.selection.limit) == (
        "smollm2-135m", ("gsm8k", "arc-easy", "bbh-mc"), 3)
    assert (config.prompting.system_message, config.sampling.max_tokens, config.engine.backend) == ("default", 64, "hf")
    assert config.operations.runs_root == Path("campaigns/bundled") and config.operations.replicas == 1


def test_the_paper_table_has_its_eight_models_and_orca_2_under_both_system_messages() -> None:
    campaign = api.load_campaign(ORCA2)
    names = [cell.name for cell in campaign.cells]
    assert names[:4] == ["orca2-7b · system_message=empty", "orca2-7b · system_message=cautious",
                         "orca2-13b · system_message=empty", "orca2-13b · system_message=cautious"]
    assert names[4:] == ["llama2-chat-13b", "llama2-chat-70b", "wizardlm-13b", "wizardlm-70b", "gpt-3.5-turbo", "gpt-4"]
    by_name = {cell.name: cell.config for cell in campaign.cells}
    assert by_name["llama2-chat-70b"].engine.tensor_parallel_size == 4
    assert by_name["gpt-4"].operations.replicas is None  # an API model answers from the driver: no engine to place


def test_a_cell_names_the_run_directory_orcabench_run_names_with_the_same_flags(tmp_path: Path) -> None:
    campaign = api.load_campaign(campaign_file(tmp_path, limit=2, tasks=["gsm8k", "arc-easy"]))
    cell = campaign.cells[0]  # smollm2-135m, system message empty
    planned = api.plan(cell.config)
    result = orcabench("run", "--model", "smollm2-135m", "--tasks", "gsm8k,arc-easy", "--limit", "2", "--max-tokens", "64",
                       "--backend", "hf", "--system-message", "empty", "--dry-run")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout[: result.stdout.index("\n}\n") + 2])
    assert Path(shown["run_dir"]).name == planned.run_dir.name
    assert planned.run_dir.parent == tmp_path / "campaign"
    fingerprint = planned.fingerprint.to_json()
    assert {key: shown[key] for key in fingerprint} == json.loads(json.dumps(fingerprint))


def test_num_cpus_is_the_cores_each_engine_of_the_models_cells_asks_for_and_not_part_of_the_run(tmp_path: Path) -> None:
    shared = {"model": "smollm2-135m", "backend": "hf"}
    campaign = api.load_campaign(campaign_file(tmp_path, models=[{**shared, "num_cpus": 1},
                                                                 {**shared, "name": "node-cores"}]))
    one_core, node_cores = campaign.cells[0].config, campaign.cells[2].config
    assert one_core.operations.replica_cpus == 1  # two such engines share a 2-core node
    assert node_cores.operations.replica_cpus is None  # the default: each engine asks for a node's cores
    assert api.plan(one_core).run_dir == api.plan(node_cores).run_dir  # operational, as replicas: the same run


@pytest.mark.parametrize(("changes", "message"), [
    ({"colour": "blue"}, r"campaign\.yaml: unknown key\(s\) colour; known: name, tasks, "),
    ({"models": ["smollm2-135m", "no-such-model"]}, r"models\[1\]\.model: unknown model 'no-such-model'; use one of "),
    ({"tasks": ["gsm8k", "no-such-task"]}, r"campaign\.yaml: tasks: .*no-such-task"),
    ({"variants": {"system_message": []}}, r"variants\.system_message.* at least one value"),
    ({"reference": "gpt-4"}, r"reference 'gpt-4' is not among the models \(smollm2-135m, gemma3-270m\)"),
    ({"models": [{"model": "smollm2-135m", "replicas": 0}]}, r"models\[0\]\.replicas must be at least 1, not 0$"),
    ({"models": [{"model": "smollm2-135m", "num_cpus": 0}]}, r"models\[0\]\.num_cpus must be at least 1, not 0$"),
    ({"output": None}, r"campaign\.yaml: missing key\(s\) output; add "),
])
def test_a_bad_campaign_file_is_one_line_naming_the_key_and_nothing_is_created(tmp_path: Path, changes: dict[str, object],
                                                                             message: str) -> None:
    path = campaign_file(tmp_path, **changes)
    with pytest.raises(OrcabenchError, match=message) as raised:
        api.load_campaign(path)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "campaign").exists()


def test_the_command_refuses_a_bad_file_with_exit_2_and_one_line(tmp_path: Path) -> None:
    path = campaign_file(tmp_path, variants={"system_message": [], "protocol": ["orca2"]})
    for command in ("run", "status"):
        result = orcabench("campaign", command, str(path))
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: campaign file ")
    assert not (tmp_path / "campaign").exists()


def test_a_dry_run_prints_every_cell_and_creates_nothing(tmp_path: Path) -> None:
    path = campaign_file(tmp_path, limit=1, tasks=["arc-easy"],
                         models=[{"model": "smollm2-135m", "backend": "hf"},
                                 {"model": str(tmp_path / "no-such-folder"), "name": "missing"}])
    result = orcabench("campaign", "run", str(path), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "smollm2-135m · system_message=empty" in result.stdout and "smollm2-135m-hf-" in result.stdout
    assert "missing · system_message=default" in result.stdout and "cannot be planned" in result.stdout
    assert not (tmp_path / "campaign").exists()
