"""The model zoo renders each model's prompt exactly as its model card builds it.

These render without weights or tokenizers (the chat formats are written out in
orcabench.models.registry), so the Orca 2 and LLaMA-2 prompts are checked byte for byte here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orcabench import api
from orcabench.models.registry import SYSTEM_MESSAGES, resolve_model, with_system_message
from orcabench.models.prompts import PromptRenderer
from orcabench.task import get_tasks
from orcabench.types import OrcabenchError

CAUTIOUS = (
    "You are Orca, an AI language model created by Microsoft. You are a cautious assistant. You carefully follow "
    "instructions. You are helpful and harmless and you follow ethical guidelines and promote positive behavior."
)


def first_example(task_name: str, data_dir: Path):  # noqa: ANN201
    (task,) = get_tasks([task_name])
    return task, api.load_examples(task, data_dir)[0][0]


def render(model: str, system: str | None, task_name: str, data_dir: Path) -> tuple[str, bool, str]:
    task, example = first_example(task_name, data_dir)
    spec = with_system_message(resolve_model(model), system)
    renderer = PromptRenderer(spec, spec.source)
    user = task.render(example)[0].content
    return (*renderer.render(renderer.messages(task.render(example))), user)


@pytest.mark.parametrize("task_name", ["gsm8k", "bbh-mc"])
@pytest.mark.parametrize("model", ["orca2-7b", "orca2-13b"])
def test_orca2_prompts_are_the_model_cards_chatml_in_both_system_message_settings(model: str, task_name: str,
                                                                                  data_dir: Path) -> None:
    # The model card: "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant"
    prompt, adds_bos, user = render(model, "empty", task_name, data_dir)
    assert prompt == f"<|im_start|>system\n<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant"
    assert adds_bos is True  # the card tokenises the prompt with the tokenizer's default: <s> first
    prompt, _, _ = render(model, "cautious", task_name, data_dir)
    assert prompt == f"<|im_start|>system\n{CAUTIOUS}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant"
    assert SYSTEM_MESSAGES["cautious"] == CAUTIOUS


def test_orca2_defaults_to_the_papers_empty_system_message_and_stops_at_im_end(data_dir: Path) -> None:
    spec = resolve_model("orca2-13b")
    assert spec.system_message == "" and spec.all_stops == ("<|im_end|>",) and spec.default_protocol == "orca2"
    assert spec.tokenizer == {"use_fast": False} and spec.engine["max_model_len"] == 4096
    assert render("orca2-13b", None, "gsm8k", data_dir)[0] == render("orca2-13b", "empty", "gsm8k", data_dir)[0]
    prompt, _, user = render("orca2-13b", "none", "gsm8k", data_dir)
    assert prompt == f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant"


@pytest.mark.parametrize("task_name", ["gsm8k", "bbh-mc"])
def test_llama2_chat_prompts_use_inst_and_sys_blocks(task_name: str, data_dir: Path) -> None:
    prompt, adds_bos, user = render("llama2-chat-13b", "Be concise.", task_name, data_dir)
    assert prompt == f"<s>[INST] <<SYS>>\nBe concise.\n<</SYS>>\n\n{user.strip()} [/INST]"
    assert adds_bos is False  # the template writes <s> itself
    prompt, _, user = render("llama2-chat-70b", "none", task_name, data_dir)
    assert prompt == f"<s>[INST] {user.strip()} [/INST]"


def test_wizardlm_uses_the_vicuna_format(data_dir: Path) -> None:
    prompt, _, user = render("wizardlm-13b", "vicuna", "gsm8k", data_dir)
    assert prompt == f"{SYSTEM_MESSAGES['vicuna']} USER: {user} ASSISTANT:"
    assert render("wizardlm-70b", "empty", "gsm8k", data_dir)[0] == f"USER: {user} ASSISTANT:"


def test_api_chat_models_record_the_messages_they_send(data_dir: Path) -> None:
    prompt, _, user = render("gpt-4", "cautious", "gsm8k", data_dir)
    assert json.loads(prompt) == [{"role": "system", "content": CAUTIOUS}, {"role": "user", "content": user}]


def test_engine_defaults_grow_with_size() -> None:
    assert resolve_model("llama2-chat-70b").engine["tensor_parallel_size"] == 4
    assert resolve_model("wizardlm-70b").engine["tensor_parallel_size"] == 4
    assert resolve_model("orca2-7b").engine["tensor_parallel_size"] == 1


def test_a_yaml_model_file_describes_a_users_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "ckpt").mkdir()
    model_file = tmp_path / "my-model.yaml"
    model_file.write_text(
        "name: my-orca\nsource: ckpt\nchat_template: chatml-orca2\nsystem_message: ''\nstop: ['<|im_end|>']\n"
        "engine: {tensor_parallel_size: 2, dtype: bfloat16}\ndefault_protocol: orca2\nsize_params: 7\n"
    )
    spec = resolve_model(str(model_file))
    assert (spec.name, spec.source, spec.chat_template) == ("my-orca", str(tmp_path / "ckpt"), "chatml-orca2")
    assert spec.engine == {"tensor_parallel_size": 2, "dtype": "bfloat16"} and spec.stop == ("<|im_end|>",)
    model_file.write_text("name: x\nsource: y\ntemprature: 0\n")
    with pytest.raises(OrcabenchError, match=r"unknown field\(s\) temprature; valid fields:"):
        resolve_model(str(model_file))
    with pytest.raises(OrcabenchError, match="does not exist"):
        resolve_model(str(tmp_path / "missing.yaml"))


def test_the_orca2_protocol_refuses_chain_of_thought_and_loglikelihood_tasks() -> None:
    with pytest.raises(OrcabenchError,
                       match=r"protocol orca2 .* gsm8k-cot, mmlu-ll do not fit: drop them or pass --protocol default"):
        api.plan(api.RunConfig(selection=api.Selection(model="orca2-13b", tasks=["gsm8k", "gsm8k-cot", "mmlu-ll"])))


def test_the_protocol_sets_an_empty_system_message_for_every_model(data_dir: Path, smollm2_dir: Path) -> None:
    paper = api.plan(api.RunConfig(selection=api.Selection(model="smollm2-135m", tasks=["gsm8k"], limit=1),
                                   prompting=api.Prompting(protocol="orca2")))
    own = api.plan(api.RunConfig(selection=api.Selection(model="smollm2-135m", tasks=["gsm8k"], limit=1)))
    assert paper.fingerprint.model["system_message"] == "" and paper.fingerprint.protocol == "orca2"
    assert own.fingerprint.model["system_message"] is None and own.fingerprint.protocol == "default"
    assert paper.run_dir != own.run_dir
    assert paper.first_prompt()[1].startswith("<|im_start|>system\n<|im_end|>\n<|im_start|>user\n")


def test_dry_run_prints_the_configuration_and_first_prompt_without_weights(data_dir: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "orcabench.cli", "run", "--model", "orca2-13b", "--tasks", "bbh-mc,gsm8k",
                             "--system-message", "cautious", "--dry-run"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    config_text, _, prompt = result.stdout.partition("\n}\n")
    config = json.loads(config_text + "\n}")
    assert config["model"]["source"] == "microsoft/Orca-2-13b" and config["protocol"] == "orca2"
    assert config["model"]["system_message"] == CAUTIOUS and config["engine"]["max_model_len"] == 4096
    assert config["examples"] == {"bbh-mc": 5511, "gsm8k": 1319}
    _, example = first_example("bbh-mc", data_dir)
    assert prompt.startswith(f"<|im_start|>system\n{CAUTIOUS}<|im_end|>\n<|im_start|>user\n")
    assert prompt.endswith("<|im_start|>assistant\n") and example.fields["input"] in prompt
    assert not (Path.home() / ".cache" / "huggingface" / "hub" / "models--microsoft--Orca-2-13b").exists()
