"""The hf backend's two ways of batching greedy generation give the same outputs.

Continuous batching (transformers' manager: sequences leave the batch as they finish and
waiting ones join) runs by default wherever transformers offers it for the model, on CPU as on
a GPU (on a quiet CPU it measured 2.43x faster than static batches on BBH-MC and equal on GSM8K:
docs/performance.md). Static batches (length-sorted, left-padded, each running until its longest
member stops) run with ``batching=static``, or by default where continuous batching cannot (the
session's note says why). In float32 on CPU both must give, token for token, what the model gives
one request at a time. The slow tests share the session's loaded SmolLM2 (``hf_backend``,
--batch-size 32).
"""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from orcabench.backends import hf
from orcabench.backends.base import answer_in_order
from orcabench.backends.hf_continuous import ContinuousGenerator, _Running, unsupported_reason
from orcabench.types import OrcabenchError, Request


@pytest.fixture(scope="module")
def continuous(hf_backend: Any) -> Any:
    """The session's loaded model batching continuously (as ``batching=auto`` chooses here), at most 32 sequences at once."""
    backend = copy.copy(hf_backend)
    backend.batching = "continuous"
    return backend


@pytest.fixture(scope="module")
def one_at_a_time(hf_backend: Any) -> Any:
    """The same loaded model generating one request at a time: static batches of one, so no padding at all."""
    backend = copy.copy(hf_backend)
    backend.batching, backend.batch_size = "static", 1
    return backend


def test_continuous_batching_needs_a_transformers_that_has_it_and_a_paged_attention() -> None:
    old = SimpleNamespace(config=SimpleNamespace(_attn_implementation="sdpa"))
    assert "has no continuous batching" in str(unsupported_reason(old))
    flex = SimpleNamespace(config=SimpleNamespace(_attn_implementation="flex_attention"), init_continuous_batching=print)
    assert "has no paged version" in str(unsupported_reason(flex))
    for attention in ("sdpa", "eager", "flash_attention_2"):
        model = SimpleNamespace(config=SimpleNamespace(_attn_implementation=attention), init_continuous_batching=print)
        assert unsupported_reason(model) is None


def model_on(device: str, attention: str = "sdpa", has_continuous_batching: bool = True) -> SimpleNamespace:
    """A stand-in for a loaded model: where it runs, its attention, and whether transformers can batch it continuously."""
    model = SimpleNamespace(device=torch.device(device), config=SimpleNamespace(_attn_implementation=attention))
    if has_continuous_batching:
        model.init_continuous_batching = print
    return model


def batching_of(model: SimpleNamespace, wanted: str) -> tuple[str, str | None]:
    """What the hf backend chooses for ``model`` with engine setting ``batching=wanted``: (batching, note)."""
    return hf.HFBackend._choose_batching(SimpleNamespace(model=model), wanted)  # type: ignore[arg-type]


def test_by_default_continuous_batching_runs_wherever_transformers_can_run_it_on_cpu_and_gpu_alike() -> None:
    for device in ("cpu", "cuda"):
        assert batching_of(model_on(device), "auto") == ("continuous", None)
        assert batching_of(model_on(device, "eager"), "auto") == ("continuous", None)
        assert batching_of(model_on(device), "static") == ("static", None)  # asked for: no note
        assert batching_of(model_on(device), "continuous") == ("continuous", None)


def test_by_default_static_batches_run_where_continuous_batching_cannot_and_the_note_says_why() -> None:
    for model, why in ((model_on("cpu", has_continuous_batching=False), "has no continuous batching (it came in 4.56)"),
                       (model_on("cuda", "flex_attention"), "attention implementation 'flex_attention' has no paged version")):
        batching, note = batching_of(model, "auto")
        assert batching == "static" and note is not None and note.startswith("static batches: ") and why in note
        assert batching_of(model, "static") == ("static", None)
        with pytest.raises(OrcabenchError, match="continuous batching is not available"):
            batching_of(model, "continuous")  # asked for where it cannot run: an error, not a silent fallback
    with pytest.raises(OrcabenchError, match="must be one of auto, continuous, static"):
        batching_of(model_on("cpu"), "dynamic")


class Characters:
    """A tokenizer whose tokens are characters (0 is the end-of-sequence token, decoded as nothing)."""

    def decode(self, tokens: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(chr(t) for t in tokens if t)


def streamed(text: str, finished: bool = False) -> SimpleNamespace:
    """One output of the manager: the tokens generated so far."""
    return SimpleNamespace(generated_tokens=[ord(c) if c != "$" else 0 for c in text], error=None,
                           is_finished=lambda: finished)


def test_a_streamed_request_ends_at_the_first_token_that_completes_a_stop_string() -> None:
    generator = ContinuousGenerator(model=None, tokenizer=Characters(), eos_ids=[0], pad_id=0, max_concurrent=4)
    state = _Running(index=0, prompt_tokens=5, request=Request(kind="generate", prompt="p", max_tokens=50, stop=("\n\n", "Q:")))
    assert generator._finished(state, streamed("The answer")) is None  # still running
    assert generator._finished(state, streamed("The answer is 4.\n")) is None
    done = generator._finished(state, streamed("The answer is 4.\n\nQ: again"))  # read late: cut where the stop ended
    assert done is not None
    assert (done.text, done.output_tokens, done.finish_reason) == ("The answer is 4.", 18, "stop")


def test_a_finished_request_ends_at_its_end_of_sequence_token_or_its_max_tokens() -> None:
    generator = ContinuousGenerator(model=None, tokenizer=Characters(), eos_ids=[0], pad_id=0, max_concurrent=4)
    request = Request(kind="generate", prompt="p", max_tokens=6)
    ended = generator._finished(_Running(0, 5, request), streamed("42.$", finished=True))
    cut = generator._finished(_Running(1, 5, request), streamed("424242", finished=True))
    assert ended is not None and (ended.text, ended.output_tokens, ended.finish_reason) == ("42.", 4, "stop")
    assert cut is not None and (cut.text, cut.output_tokens, cut.finish_reason) == ("424242", 6, "length")


@pytest.mark.slow
def test_the_session_records_which_batching_ran_and_why_static_batches_did(hf_backend: Any, one_at_a_time: Any,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = hf_backend.info().to_json()  # batching=auto on CPU: continuous, as on a GPU
    assert chosen["batching"] == "continuous" and "batching_note" not in chosen
    assert one_at_a_time.info().to_json()["batching"] == "static"
    assert hf_backend._choose_batching("continuous") == ("continuous", None)
    assert hf_backend._choose_batching("static") == ("static", None)  # asked for: no note
    # A transformers without continuous batching: auto keeps static batches and the session says why.
    monkeypatch.setattr(hf, "unsupported_reason", lambda model: "transformers 4.55.0 has no continuous batching")
    older = copy.copy(hf_backend)
    older.batching, older.batching_note = older._choose_batching("auto")
    recorded = older.info().to_json()
    assert recorded["batching"] == "static"
    assert recorded["batching_note"] == "static batches: transformers 4.55.0 has no continuous batching"


# The agreement set is the first 50 GSM8K questions: 12-13 minutes on 2 CPU cores (both paths generate
# up to 256 tokens each), a third of CI's budget, so CI checks the first 10 and `pytest -m long` all 50.
@pytest.mark.slow
@pytest.mark.parametrize("count", [pytest.param(10, id="first-10"), pytest.param(50, id="all-50", marks=pytest.mark.long)])
def test_continuous_batching_gives_the_one_at_a_time_greedy_outputs_on_the_agreement_gsm8k_samples(
        count: int, continuous: Any, one_at_a_time: Any, gsm8k_prompts: list) -> None:
    chosen = gsm8k_prompts[:count]
    requests = [request for _, request in chosen]
    batched = answer_in_order(continuous, requests)
    single = answer_in_order(one_at_a_time, requests)
    differ = [(example.id, a, b) for (example, _), a, b in zip(chosen, batched, single) if a != b]
    for example_id, a, b in differ:
        print(f"example {example_id}:\n  continuous: {a!r}\n  one at a time: {b!r}")
    print(f"identical completions {count - len(differ)}/{count}")
    assert not differ


@pytest.mark.slow
def test_continuous_batching_hands_back_each_request_as_soon_as_it_finishes(continuous: Any, gsm8k_prompts: list) -> None:
    long = Request(kind="generate", prompt=gsm8k_prompts[1][1].prompt, max_tokens=48)
    short = Request(kind="generate", prompt=gsm8k_prompts[0][1].prompt, max_tokens=1)
    groups = [[index for index, _ in group] for group in continuous.answer([long, short])]
    assert groups[0] == [1] and groups[-1] == [0]


@pytest.mark.slow
def test_each_request_keeps_its_own_max_tokens_and_stop_strings(continuous: Any, one_at_a_time: Any,
                                                                gsm8k_prompts: list) -> None:
    prompt = gsm8k_prompts[2][1].prompt
    requests = [Request(kind="generate", prompt=prompt, max_tokens=3), Request(kind="generate", prompt=prompt, max_tokens=40),
                Request(kind="generate", prompt=prompt, max_tokens=40, stop=(".",)),
                Request(kind="generate", prompt=prompt, max_tokens=40, stop=("\n", " the "))]
    batched = answer_in_order(continuous, requests)
    assert [c.output_tokens for c in batched[:2]] == [3, 40] and batched[0].finish_reason == "length"
    assert batched[2].finish_reason == batched[3].finish_reason == "stop"
    assert "." not in batched[2].text and "\n" not in batched[3].text and " the " not in batched[3].text
    assert batched[1].text.startswith(batched[0].text) and batched[1].text.startswith(batched[2].text)
    assert batched == answer_in_order(one_at_a_time, requests)


@pytest.mark.slow
def test_loglikelihoods_are_the_same_whichever_batching_generates(continuous: Any, one_at_a_time: Any) -> None:
    requests = [Request(kind="loglikelihood", prompt="The capital of France is", continuation=" Paris.", add_special_tokens=True),
                Request(kind="generate", prompt="The capital of France is", max_tokens=4, add_special_tokens=True)]
    batched, single = answer_in_order(continuous, requests), answer_in_order(one_at_a_time, requests)
    assert batched[0].logprob == pytest.approx(single[0].logprob, abs=1e-5) and batched[0].is_greedy
    assert batched[1] == single[1]
