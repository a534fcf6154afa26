"""`orcabench score` on real reasoning outputs: vLLM's OpenAI server started with a reasoning parser.

The bundled SmolLM2 was never trained to think, so the test gives it what a reasoning model
has: ``<think>``/``</think>`` as tokens of its own (two of its unused special tokens, renamed,
as DeepSeek-R1's parser needs single tokens) and a chat template that opens the trace in the
prompt, as DeepSeek-R1 distills' does. vLLM's thinking budget (``thinking_token_budget``) then
closes the trace after a few tokens with a real ``</think>``, after which the model writes its
answer; a budget smaller than that ends the output inside the trace. The chat endpoint
returns the trace apart (``reasoning``); the completions endpoint applies no reasoning
parser, so its text holds the closing marker inline. Both kinds go into one predictions file.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import orcabench

pytest.importorskip("openai")
pytest.importorskip("vllm")

import openai
from test_openai_backend import VLLMServer

from orcabench import api
from orcabench.engine.execute import pending_item
from orcabench.models.prompts import PromptRenderer
from orcabench.store.writer import RunStore
from orcabench.backends.base import answer_in_order
from orcabench.backends.openai import OpenAIBackend
from orcabench.answers.formats import judge, make_example
from orcabench.answers.pipeline import RulePipeline
from orcabench.types import NO_FINAL_ANSWER

pytestmark = pytest.mark.slow

THINK_TOKENS = {"<jupyter_code>": "<think>", "<jupyter_output>": "</think>"}  # never used in SmolLM2's chat
TEMPLATE = Path(__file__).parent / "reasoning" / "thinking.jinja"
BUDGET = 8  # trace tokens before the server closes the trace


def thinking_model(smollm2_dir: Path, folder: Path) -> Path:
    """The bundled weights with <think> and </think> as (non-special) tokens and a trace-opening chat template."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "config.json", "generation_config.json"):
        (folder / name).symlink_to(smollm2_dir / name)
    shutil.copy(smollm2_dir / "tokenizer_config.json", folder)
    tokenizer = json.loads((smollm2_dir / "tokenizer.json").read_text())
    for token in tokenizer["added_tokens"]:
        if token["content"] in THINK_TOKENS:
            token["content"], token["special"] = THINK_TOKENS[token["content"]], False  # kept in decoded text
    tokenizer["model"]["vocab"] = {THINK_TOKENS.get(k, k): v for k, v in tokenizer["model"]["vocab"].items()}
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    shutil.copy(TEMPLATE, folder / "chat_template.jinja")
    return folder


@pytest.fixture(scope="module")
def thinking_folder(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return thinking_model(smollm2_dir, tmp_path_factory.mktemp("thinker") / "model")


@pytest.fixture(scope="module")
def thinking_server(thinking_folder: Path) -> Iterator[tuple[VLLMServer, Path]]:
    server = VLLMServer(thinking_folder, thinking_folder.parent / "server.log", extra_args=("--reasoning-parser", "deepseek_r1"))
    yield server, thinking_folder
    server.stop()


def test_a_run_keeps_each_trace_and_its_tokens_and_thinking_off_leaves_none(thinking_folder: Path, data_dir: Path,
                                                                            tmp_path: Path) -> None:
    """The run loop on a real engine (transformers): thinking on, 8 tokens end every output inside its
    trace; thinking off, the template writes an empty trace and the output is read as usual."""
    model_file = tmp_path / "thinker.yaml"
    model_file.write_text(yaml.safe_dump({"name": "thinker", "source": str(thinking_folder), "reasoning": True,
                                          "engine": {"dtype": "float32"}}))
    config = api.RunConfig(selection=api.Selection(model=str(model_file), tasks=["gsm8k"], limit=2, data_dir=data_dir),
                           sampling=api.Sampling(max_tokens=8),
                           engine=api.EngineSettings(backend="hf"))
    thinking = api.run(replace(config, operations=api.Operations(output=tmp_path / "on")))
    records = list(RunStore(thinking.run_dir).records().values())
    assert [r.method for r in records] == [NO_FINAL_ANSWER] * 2 and thinking.summaries[0].no_final_answer == 2
    assert all(r.reasoning and r.reasoning_tokens and 0 < r.reasoning_tokens <= 8 and r.finish_reason == "length"
               for r in records), records

    plain = api.run(replace(config, operations=api.Operations(output=tmp_path / "off"),
                              prompting=api.Prompting(thinking=False)))
    records = list(RunStore(plain.run_dir).records().values())
    assert all(r.prompt.endswith("<think>\n\n</think>\n\n") and r.reasoning is None and r.method != NO_FINAL_ANSWER
               for r in records), records


def test_score_reads_only_the_final_answers_of_a_real_reasoning_server(
    thinking_server: tuple[VLLMServer, Path], data_dir: Path, tmp_path: Path
) -> None:
    server, folder = thinking_server
    model_file = tmp_path / "thinker.yaml"
    model_file.write_text(yaml.safe_dump({"name": "thinker", "source": str(folder), "reasoning": True}))
    selection = api.Selection(model=str(model_file), tasks=["gsm8k"], limit=8, data_dir=data_dir)
    resolved = api.plan(api.RunConfig(selection=selection))
    (task,) = resolved.tasks
    renderer = PromptRenderer(resolved.spec, resolved.model_path)
    requests = [pending_item(task, e, renderer, resolved.spec, 40).requests[0] for e in resolved.examples["gsm8k"]]
    ids = [e.id for e in resolved.examples["gsm8k"]]
    assert all(r.prompt.endswith("<|im_start|>assistant\n<think>\n") for r in requests)  # the template opens the trace
    client = openai.OpenAI(base_url=server.url, api_key="EMPTY", max_retries=0, timeout=300)
    lines: list[dict[str, Any]] = []
    expected: list[tuple[str | None, str]] = []  # (final answer text, or None for no final answer; the trace)

    # chat, closed by the budget: the server returns the trace apart from the answer
    chat = client.chat.completions.create(
        model=str(folder), messages=[{"role": m.role, "content": m.content} for m in requests[0].messages], max_tokens=40,
        temperature=0.0, extra_body={"thinking_token_budget": BUDGET})
    message = chat.choices[0].message.model_dump()
    trace, content = message.get("reasoning") or message.get("reasoning_content"), message.get("content") or ""
    assert trace and content.strip(), message  # a real trace and a real final answer
    lines.append({"id": ids[0], "output": content, "reasoning_content": trace, "finish_reason": chat.choices[0].finish_reason})
    expected.append((content, trace))

    # chat, budget spent inside the trace: through orcabench's own backend, which reads the trace apart
    backend = OpenAIBackend(str(folder), {"base_url": server.url, "endpoint": "chat"}, seed=0)
    (truncated,) = answer_in_order(backend, [replace(requests[1], max_tokens=5)])
    backend.close()
    assert truncated.reasoning and not truncated.text and truncated.finish_reason == "length"
    lines.append({"id": ids[1], "output": truncated.text, "reasoning_content": truncated.reasoning, "finish_reason": "length"})
    expected.append((None, truncated.reasoning))

    # completions: orcabench's exact prompt; no parser here, the closing marker is in the text. A model
    # may also stop inside the trace (EOS before the budget): no final answer either. Questions are
    # tried until one is answered after its trace.
    def complete(request: Any, sample_id: str, max_tokens: int) -> str:
        done = client.completions.create(model=str(folder), prompt=request.prompt, max_tokens=max_tokens, temperature=0.0,
                                          extra_body={"thinking_token_budget": BUDGET, "add_special_tokens": False})
        text = done.choices[0].text
        lines.append({"id": sample_id, "output": text, "prompt": request.prompt, "finish_reason": done.choices[0].finish_reason})
        closed = "</think>" in text and text.split("</think>")[-1].strip()
        expected.append((text.split("</think>")[-1], text.split("</think>")[0]) if closed else (None, text))
        return text

    truncated_text = complete(requests[2], ids[2], 5)  # ends inside the trace: out of budget, or the model stopped
    assert "</think>" not in truncated_text
    answered = [text for request, sample_id in zip(requests[3:], ids[3:])
                if "</think>" in (text := complete(request, sample_id, 40)) and text.split("</think>")[-1].strip()]
    assert answered, lines[3:]

    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = orcabench("score", "--task", "gsm8k", "--predictions", str(predictions), "--data-dir", str(data_dir),
                       "--output", str(tmp_path / "scored.jsonl"))
    assert result.returncode == 0, result.stderr
    scored = [json.loads(line) for line in (tmp_path / "scored.jsonl").read_text().splitlines()]
    assert [r["id"] for r in scored] == ids
    number = make_example("final", {}, "", "number")
    for record, (final, trace), line in zip(scored, expected, lines):
        assert record["reasoning"] == trace.strip()
        if final is None:
            assert (record["method"], record["answer"], record["score"]) == (NO_FINAL_ANSWER, None, 0.0)
        else:  # read from the final answer alone, whatever numbers the trace holds
            alone = RulePipeline(judge).read(final.strip(), number, line["finish_reason"]).score
            assert (record["answer"], record["method"]) == (alone.answer, alone.method)
    unanswered = sum(final is None for final, _ in expected)
    assert "no final answer" in result.stdout and f"{unanswered} ({100 * unanswered / len(expected):.1f}%)" in result.stdout
