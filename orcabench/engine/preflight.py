"""Before a run loads weights: how big it is, how long it may take, and what may bias it.

The estimate counts requests, prompt tokens (with the model's tokenizer where its files are
local, else about four characters a token) and the generation budget (the sum of
``max_tokens``; with ``--extract two-stage``, every generated output's second-stage request
counted as an upper bound, since only the first stage tells which are asked); the expected
time comes from earlier sessions of the same model and backend on this machine, read from
their manifests. The warnings name things that change results: a chat template that inserts
its own system prompt, prompts that do not fit the context, and (after generation) samples
cut off at ``max_tokens``.
"""

from __future__ import annotations

import socket
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orcabench.answers.second_stage import TWO_STAGE, trigger
from orcabench.console import duration
from orcabench.engine.plan import Plan
from orcabench.models.prompts import PromptRenderer
from orcabench.store.schema import Manifest, Session
from orcabench.store.writer import MANIFEST, read_json
from orcabench.task import Task
from orcabench.task.data import manifest_mismatches
from orcabench.types import Example, Message, OrcabenchError, Record, Request

# A share of samples at max_tokens above this is worth a warning: answers are being cut off.
LENGTH_WARNING_SHARE = 0.1
_CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Estimate:
    requests: int
    prompt_tokens: int
    exact_tokens: bool  # counted with the model's tokenizer; else ~4 characters per token
    budget: int  # sum of max_tokens over generation requests, the second stage's included as an upper bound
    seconds: float | None  # expected wall time (engine start + generation); None without history
    basis: str  # where ``seconds`` comes from
    # --extract two-stage: the most second-stage requests the run may send (one per generated output the rules
    # read weakly or not at all, which only the first stage tells), and the largest max_tokens of one
    second_stage: int = 0
    second_stage_tokens: int = 0

    def line(self) -> str:
        tokens = (f"{self.prompt_tokens:,} prompt tokens" if self.exact_tokens
                  else f"~{self.prompt_tokens:,} prompt tokens (no tokenizer: ~4 chars/token)")
        parts = [f"{self.requests:,} request(s)"]
        if self.second_stage:
            parts.append(f"up to {self.second_stage:,} second-stage request(s) of ≤{self.second_stage_tokens} tokens")
        parts += [tokens, f"generation budget {self.budget:,} tokens (sum of max_tokens"
                          f"{', the second stage as an upper bound' if self.second_stage else ''})"]
        if self.requests:
            stage = " for the first stage" if self.second_stage else ""
            parts.append(f"estimated {duration(self.seconds)}{stage} ({self.basis})" if self.seconds is not None
                         else f"no estimate ({self.basis})")
        return "plan: " + " · ".join(parts)


def count_prompt_tokens(requests: Sequence[Request], renderer: PromptRenderer) -> tuple[list[int], bool]:
    """Tokens per request (prompt plus continuation), and whether the model's tokenizer counted them."""
    texts = [r.prompt + r.continuation for r in requests]
    tokenizer = None
    if requests and renderer.spec.prompt_format != "api-chat" and Path(renderer.model_path).is_dir():
        try:
            tokenizer = renderer.tokenizer
        except (OSError, ValueError, OrcabenchError):
            tokenizer = None  # an estimate never stops a run
    if tokenizer is None:
        return [max(1, len(t) // _CHARS_PER_TOKEN) for t in texts], False
    counts = [0] * len(requests)
    for special in (True, False):
        chosen = [i for i, r in enumerate(requests) if r.add_special_tokens is special]
        if chosen:
            encoded = tokenizer([texts[i] for i in chosen], add_special_tokens=special).input_ids
            for i, ids in zip(chosen, encoded):
                counts[i] = len(ids)
    return counts, True


def past_sessions(folders: Iterable[Path], model: str, backend: str) -> list[Session]:
    """Sessions that generated something, of runs of ``model`` on ``backend`` made on this host."""
    host = socket.gethostname()
    sessions: list[Session] = []
    manifests = dict.fromkeys(path.resolve() for folder in folders if folder.is_dir() for path in folder.glob(f"*/{MANIFEST}"))
    for path in manifests:
        try:
            manifest = Manifest.from_json(read_json(path), str(path))
        except (OrcabenchError, OSError):
            continue  # not a run's manifest, or unreadable: no history from it
        model_entry = manifest.fingerprint.model or {}
        if manifest.host.get("hostname") != host or model_entry.get("name") != model or manifest.fingerprint.backend != backend:
            continue
        sessions += [s for s in manifest.sessions if s.requests and s.generate_seconds is not None]
    return sessions


def second_stage_limits(plan: Plan, examples: Iterable[tuple[Task, Example]]) -> list[int]:
    """With ``--extract two-stage``, the max_tokens of the second-stage request each pending example may need (a
    generated output is asked again at most once, with its format's answer trigger); none otherwise."""
    if plan.config.sampling.extract != TWO_STAGE:
        return []
    return [trigger(example).max_tokens for task, example in examples if task.kind == "generate"]


def estimate(requests: Sequence[Request], token_counts: Sequence[int], exact: bool, history: Sequence[Session],
             model: str, backend: str, second_stage: Sequence[int] = ()) -> Estimate:
    """Expected wall time: the median time past sessions spent outside generation (start-up, engine load)
    plus this run's requests at their seconds per request. ``second_stage``: the max_tokens of each
    second-stage request the run may send (:func:`second_stage_limits`), counted in the budget as an
    upper bound."""
    budget = sum(r.max_tokens for r in requests if r.kind == "generate") + sum(second_stage)
    seconds: float | None = None
    if history:
        per_request = sum(s.generate_seconds or 0.0 for s in history) / sum(s.requests or 0 for s in history)
        overheads = [(s.seconds - (s.generate_seconds or 0.0)) if s.seconds is not None else (s.engine_start_seconds or 0.0)
                     for s in history]
        seconds = statistics.median(overheads) + per_request * len(requests)
        basis = f"{per_request:.2f} s/request over {len(history)} earlier session(s) of {model} on {backend} here"
    else:
        basis = f"no earlier run of {model} on {backend} on this machine"
    return Estimate(len(requests), sum(token_counts), exact, budget, seconds, basis, len(second_stage),
                    max(second_stage, default=0))


def check(plan: Plan, requests: Sequence[Request], renderer: PromptRenderer,
          second_stage: Sequence[int] = ()) -> tuple[Estimate, list[str]]:
    """The run's size and expected time, and the warnings known before any weights load (``second_stage``: see
    :func:`estimate`)."""
    counts, exact = count_prompt_tokens(requests, renderer)
    return check_counted(plan, requests, counts, exact, renderer, second_stage)


def check_counted(plan: Plan, requests: Sequence[Request], counts: Sequence[int], exact: bool,
                  renderer: PromptRenderer, second_stage: Sequence[int] = ()) -> tuple[Estimate, list[str]]:
    """:func:`check` with the requests' prompt tokens already counted (:func:`count_prompt_tokens`)."""
    history = past_sessions([plan.config.operations.runs_root, plan.run_dir.parent], plan.spec.name, plan.backend)
    found = estimate(requests, counts, exact, history, plan.spec.name, plan.backend, second_stage)
    return found, [*data_warnings(plan),
                   *prompt_warnings(renderer, requests, counts, exact, plan.engine.get("max_model_len"))]


def data_warnings(plan: Plan) -> list[str]:
    """Local data files that differ from their mirror's manifest.json (what ``orcabench data check`` fails on)."""
    return [f"{task}: {problem}; the scores may not be comparable (see `orcabench data check`)"
            for task, provenance in plan.provenance.items() if provenance.get("source") == "local"
            for problem in manifest_mismatches(Path(provenance["data_dir"]), provenance.get("files", {}))]


def injected_system_prompt(renderer: PromptRenderer) -> str | None:
    """The text a chat template inserts as system prompt when the run gives none (SmolLM2's does).

    Rendered once without a system message and once with a marker as one: where the marker
    sits, the first rendering holds the template's own text.
    """
    spec = renderer.spec
    if spec.prompt_format != "chat" or spec.system_message is not None:
        return None
    user = Message("user", "\x00question\x00")
    marker = "\x00system\x00"
    without, _ = renderer.render([user])
    with_marker, _ = renderer.render([Message("system", marker), user])
    if with_marker.count(marker) != 1:
        return None
    before, after = with_marker.split(marker)
    if without.startswith(before) and without.endswith(after) and len(without) > len(before) + len(after):
        return without[len(before): len(without) - len(after)].strip() or None
    return None


def prompt_warnings(renderer: PromptRenderer, requests: Sequence[Request], token_counts: Sequence[int], exact: bool,
                    max_model_len: Any) -> list[str]:
    """Warnings known before generation: the template's own system prompt, prompts that do not fit."""
    warnings: list[str] = []
    injected = injected_system_prompt(renderer) if requests else None
    if injected:
        shown = injected if len(injected) <= 80 else injected[:77] + "..."
        warnings.append(f"{renderer.spec.name}'s chat template adds its own system prompt when the run gives none ({shown!r}); "
                        "--system-message empty sends an empty one instead")
    if exact and isinstance(max_model_len, int):
        over = sum(n + (r.max_tokens if r.kind == "generate" else 0) > max_model_len for r, n in zip(requests, token_counts))
        if over:
            warnings.append(f"{over} of {len(requests)} prompt(s) plus their max_tokens exceed the {max_model_len}-token context "
                            "(max_model_len): they will be truncated or cut short; raise --max-model-len or lower --max-tokens")
    return warnings


def length_warnings(records: Sequence[Record], max_tokens: dict[str, int]) -> list[str]:
    """Per task: many generated samples stopped at max_tokens, so their answers may be cut off."""
    warnings = []
    for task, limit in max_tokens.items():
        generated = [r for r in records if r.label == task]  # task: the plan's name (task@variant for a variant)
        cut = sum(r.finish_reason == "length" for r in generated)
        if generated and cut > LENGTH_WARNING_SHARE * len(generated):
            warnings.append(f"{cut} of {len(generated)} {task} sample(s) stopped at max_tokens ({limit}) before finishing: "
                            "their answers may be cut off; raise --max-tokens")
    return warnings
