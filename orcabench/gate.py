"""Regression gating: a candidate run against a baseline run on the same examples.

``orcabench gate`` answers a CI system with an exit code: 0 pass, 1 regression, 2 bad
input (including a required task with too few paired samples to decide).
``orcabench compare`` shows the same paired statistics without a verdict.

Samples are paired by (task, example id) from each run's ``records.jsonl``. Per task:
accuracy of each run, the difference (candidate - baseline) with a paired bootstrap 95%
CI, and the exact McNemar test on the discordant pairs; the McNemar p-values are Holm
adjusted across the tested tasks (those with at least their minimum n of pairs), which
keeps the chance of *any* false alarm in a gate run below ``alpha``.

The verdict rule: a required task regresses when its drop (baseline - candidate, in
accuracy points) is larger than its allowed drop **and** its Holm-adjusted McNemar p is
below ``alpha``. A large drop that is not significant passes (and says so); a significant
drop within the allowance passes. Informational tasks are reported, never gate.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orcabench.stats import PairedStats, holm, paired_stats
from orcabench.runs import StoredRun, load_run, natural_order
from orcabench.types import OrcabenchError

FLIPPED_SHOWN = 5  # right -> wrong example ids listed per task in the Markdown


# --- policy -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskPolicy:
    required: bool
    max_drop: float  # accuracy points the candidate may lose before it can fail the gate
    min_n: int  # fewer pairs than this: no decision (exit 2 for a required task)


@dataclass(frozen=True)
class Policy:
    """The gate's rules, as read from ``gate.yaml`` (every key optional)."""

    alpha: float = 0.05
    max_drop: float = 1.0
    min_n: int = 30
    required: tuple[str, ...] | None = None  # None: every paired task gates
    informational: tuple[str, ...] = ()
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-task max_drop / min_n / required
    confidence: float = 0.95
    resamples: int = 10_000
    seed: int = 0

    def for_task(self, task: str) -> TaskPolicy:
        own = self.tasks.get(task, {})
        required = task not in self.informational and (self.required is None or task in self.required)
        return TaskPolicy(required=bool(own.get("required", required)), max_drop=float(own.get("max_drop", self.max_drop)),
                          min_n=int(own.get("min_n", self.min_n)))

    def named_required(self) -> list[str]:
        """Tasks the policy requires by name: they must be in both runs."""
        named = list(self.required or ())
        named += [t for t, own in self.tasks.items() if own.get("required") is True and t not in named]
        return [t for t in named if self.for_task(t).required]


# Compare has no verdict: every paired task is tested, none gates.
COMPARE_POLICY = Policy(min_n=1, required=())

_POLICY_KEYS = {"alpha", "max_drop", "min_n", "required", "informational", "tasks", "confidence", "resamples", "seed"}
_TASK_KEYS = {"max_drop", "min_n", "required"}


def _number(where: str, value: Any, low: float, high: float | None = None, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise OrcabenchError(f"{where} must be {'an integer' if integer else 'a number'}, not {value!r}")
    if value < low or (high is not None and value > high):
        raise OrcabenchError(f"{where} must be between {low} and {high}, not {value!r}" if high is not None
                             else f"{where} must be at least {low}, not {value!r}")
    return value


def load_policy(path: Path | None) -> Policy:
    """Read and validate a gate policy; no file: the defaults (alpha 0.05, 1 point, n >= 30)."""
    if path is None:
        return Policy()
    if not path.is_file():
        raise OrcabenchError(f"gate config {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise OrcabenchError(f"gate config {path} is not valid YAML: {str(error).splitlines()[0]}") from error
    if not isinstance(data, dict):
        raise OrcabenchError(f"gate config {path} must be a mapping (alpha, max_drop, min_n, required, informational, tasks)")
    unknown = sorted(set(data) - _POLICY_KEYS)
    if unknown:
        raise OrcabenchError(f"gate config {path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_POLICY_KEYS))}")
    where = f"gate config {path}"
    _number(f"{where}: alpha", data.get("alpha", 0.05), 0.0, 1.0)
    _number(f"{where}: max_drop", data.get("max_drop", 1.0), 0.0, 100.0)
    _number(f"{where}: min_n", data.get("min_n", 30), 1, integer=True)
    _number(f"{where}: confidence", data.get("confidence", 0.95), 0.5, 0.999)
    _number(f"{where}: resamples", data.get("resamples", 10_000), 100, integer=True)
    _number(f"{where}: seed", data.get("seed", 0), 0, integer=True)
    required = data.get("required", "all")
    if required != "all" and not (isinstance(required, list) and all(isinstance(t, str) for t in required)):
        raise OrcabenchError(f"{where}: required must be \"all\" or a list of task names, not {required!r}")
    informational = data.get("informational", [])
    if not (isinstance(informational, list) and all(isinstance(t, str) for t in informational)):
        raise OrcabenchError(f"{where}: informational must be a list of task names, not {informational!r}")
    tasks = data.get("tasks", {}) or {}
    if not isinstance(tasks, dict):
        raise OrcabenchError(f"{where}: tasks must map task names to {{max_drop, min_n, required}}")
    for task, own in tasks.items():
        if not isinstance(own, dict) or set(own) - _TASK_KEYS:
            raise OrcabenchError(f"{where}: tasks.{task} must be a mapping with keys among {', '.join(sorted(_TASK_KEYS))}")
        if "max_drop" in own:
            _number(f"{where}: tasks.{task}.max_drop", own["max_drop"], 0.0, 100.0)
        if "min_n" in own:
            _number(f"{where}: tasks.{task}.min_n", own["min_n"], 1, integer=True)
        if "required" in own and not isinstance(own["required"], bool):
            raise OrcabenchError(f"{where}: tasks.{task}.required must be true or false")
    return Policy(alpha=float(data.get("alpha", 0.05)), max_drop=float(data.get("max_drop", 1.0)), min_n=int(data.get("min_n", 30)),
                  required=None if required == "all" else tuple(required), informational=tuple(informational), tasks=tasks,
                  confidence=float(data.get("confidence", 0.95)), resamples=int(data.get("resamples", 10_000)),
                  seed=int(data.get("seed", 0)))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key in sorted(value) for k, v in _flatten(value[key], f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): value}


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "…"


def mismatches(baseline: StoredRun, candidate: StoredRun) -> list[str]:
    """What makes the two runs' scores incomparable: protocol, schema, and for each shared
    task its version, template hashes and data hashes. The model, backend, engine and
    sampling are expected to differ: that is what a gate compares."""
    a, b = baseline.fingerprint, candidate.fingerprint
    found = [f"{key}: {_short(a.get(key))} vs {_short(b.get(key))}"
             for key in ("protocol", "schema_version") if a.get(key) != b.get(key)]
    tasks_a, tasks_b = a.get("tasks", {}), b.get("tasks", {})
    for task in [t for t in tasks_a if t in tasks_b]:
        for part, what in (("version", "version"), ("templates", "templates"), ("data", "data")):
            flat_a, flat_b = _flatten(tasks_a[task].get(part)), _flatten(tasks_b[task].get(part))
            for key in sorted(set(flat_a) | set(flat_b)):
                if flat_a.get(key) != flat_b.get(key):
                    name = f" {key}" if key else ""
                    found.append(f"task {task}: {what}{name} {_short(flat_a.get(key))} vs {_short(flat_b.get(key))}")
    return found


def setting_differences(baseline: StoredRun, candidate: StoredRun) -> list[str]:
    """Settings that differ and are allowed to (model, backend, engine, sampling): shown, not refused."""
    a = _flatten({k: v for k, v in baseline.fingerprint.items() if k not in ("tasks", "protocol", "schema_version")})
    b = _flatten({k: v for k, v in candidate.fingerprint.items() if k not in ("tasks", "protocol", "schema_version")})
    return [f"{key}: {_short(a.get(key))} -> {_short(b.get(key))}" for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]


# --- comparison -------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskResult:
    task: str
    stats: PairedStats
    p_adjusted: float | None  # None: not tested (fewer pairs than min_n)
    only_baseline: int  # samples of this task in one run only: reported, not paired
    only_candidate: int
    flipped: list[str]  # every example id that went right -> wrong (baseline scored higher), natural order
    policy: TaskPolicy
    verdict: str  # gate: "pass" | "regression" | "insufficient" | "info"; compare: ""
    note: str

    @property
    def drop_points(self) -> float:
        return -100 * self.stats.delta if self.stats.n else 0.0


@dataclass(frozen=True)
class Comparison:
    baseline: StoredRun
    candidate: StoredRun
    policy: Policy
    tasks: list[TaskResult]
    mismatches: list[str]  # allowed with --allow-mismatch, else the comparison was refused
    differences: list[str]
    unpaired_tasks: dict[str, str]  # task -> "baseline only" | "candidate only"
    gating: bool

    @property
    def verdict(self) -> str | None:
        if not self.gating:
            return None
        verdicts = {t.verdict for t in self.tasks}
        return "regression" if "regression" in verdicts else "insufficient" if "insufficient" in verdicts else "pass"

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "regression": 1, "insufficient": 2, None: 0}[self.verdict]

    @property
    def problems(self) -> list[str]:
        return [*self.baseline.problems, *self.candidate.problems]


def _verdict(stats: PairedStats, p_adjusted: float | None, policy: TaskPolicy, alpha: float) -> tuple[str, str]:
    drop = -100 * stats.delta if stats.n else 0.0
    if p_adjusted is None:
        verdict = "insufficient" if policy.required else "info"
        return verdict, f"{stats.n} paired sample(s), fewer than min_n {policy.min_n}: no decision"
    significant = p_adjusted < alpha
    if drop > policy.max_drop and significant:
        return ("regression" if policy.required else "info"), (
            f"drop {drop:.2f} > {policy.max_drop:g} points and p {p_adjusted:.3g} < {alpha:g}"
            + ("" if policy.required else " (informational: does not gate)"))
    if drop > policy.max_drop:
        note = f"drop {drop:.2f} > {policy.max_drop:g} points but not significant (p {p_adjusted:.3g} ≥ {alpha:g})"
    elif drop > 0:
        note = f"drop {drop:.2f} within the allowed {policy.max_drop:g} points"
    elif drop < 0 and significant:
        note = f"improved by {-drop:.2f} points (p {p_adjusted:.3g})"
    else:
        note = "no significant change" if drop < 0 else "no drop"
    return ("pass" if policy.required else "info"), note


def compare_runs(baseline_dir: Path, candidate_dir: Path, policy: Policy | None = None, allow_mismatch: bool = False,
                 gating: bool = True) -> Comparison:
    """Pair two runs by (task, example id) and test each task; ``gating`` adds verdicts."""
    policy = policy or (Policy() if gating else COMPARE_POLICY)
    baseline, candidate = load_run(baseline_dir), load_run(candidate_dir)
    found = mismatches(baseline, candidate)
    if found and not allow_mismatch:
        raise OrcabenchError(f"the runs are not comparable ({'; '.join(found[:3])}{'; …' if len(found) > 3 else ''}); "
                             "rerun with the same tasks, templates, protocol and data, or pass --allow-mismatch")
    tasks_a, tasks_b = baseline.tasks(), candidate.tasks()
    shared = [t for t in tasks_a if t in tasks_b]
    unpaired = {**{t: "baseline only" for t in tasks_a if t not in tasks_b}, **{t: "candidate only" for t in tasks_b if t not in tasks_a}}
    if gating:
        missing = [t for t in policy.named_required() if t not in shared]
        if missing:
            raise OrcabenchError(f"required task(s) {', '.join(missing)} not in both runs (baseline: {', '.join(tasks_a) or 'none'}; "
                                 f"candidate: {', '.join(tasks_b) or 'none'})")
    if not shared:
        raise OrcabenchError(f"the runs share no task (baseline: {', '.join(tasks_a) or 'none'}; candidate: {', '.join(tasks_b) or 'none'})")

    partial: list[tuple[str, PairedStats, int, int, list[str], TaskPolicy]] = []
    for task in shared:
        ids_a = {i for t, i in baseline.records if t == task}
        ids_b = {i for t, i in candidate.records if t == task}
        paired = sorted(ids_a & ids_b, key=natural_order)
        scores_a = [baseline.records[(task, i)].score for i in paired]
        scores_b = [candidate.records[(task, i)].score for i in paired]
        stats = paired_stats(scores_a, scores_b, policy.confidence, policy.resamples, policy.seed)
        flipped = [i for i, x, y in zip(paired, scores_a, scores_b) if x > y]
        partial.append((task, stats, len(ids_a - ids_b), len(ids_b - ids_a), flipped, policy.for_task(task)))

    # Holm over the tested family: every task with enough pairs to be decided.
    tested = [k for k, (_, stats, *_rest, own) in enumerate(partial) if stats.n >= own.min_n]
    adjusted = dict(zip(tested, holm([partial[k][1].p_value for k in tested])))
    results = []
    for k, (task, stats, only_a, only_b, flipped, own) in enumerate(partial):
        p_adj = adjusted.get(k)
        verdict, note = _verdict(stats, p_adj, own, policy.alpha) if gating else ("", "")
        results.append(TaskResult(task, stats, p_adj, only_a, only_b, flipped, own, verdict, note))
    return Comparison(baseline, candidate, policy, results, found, setting_differences(baseline, candidate), unpaired, gating)


def gate(baseline_dir: Path, candidate_dir: Path, config: Path | None = None, allow_mismatch: bool = False) -> Comparison:
    return compare_runs(baseline_dir, candidate_dir, load_policy(config), allow_mismatch, gating=True)


# --- reports ----------------------------------------------------------------------------


def pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.2f}"


def signed(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:+.2f}"


def fmt_p(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def headline(comparison: Comparison) -> str:
    if comparison.verdict is None:
        return "orcabench compare (no verdict)"
    failing = [t.task for t in comparison.tasks if t.verdict in ("regression", "insufficient")]
    if comparison.verdict == "regression":
        return f"orcabench gate: REGRESSION in {', '.join(t.task for t in comparison.tasks if t.verdict == 'regression')}"
    if comparison.verdict == "insufficient":
        return f"orcabench gate: NO DECISION, too few paired samples in {', '.join(failing)}"
    return "orcabench gate: PASS"


def to_markdown(comparison: Comparison) -> str:
    c, policy = comparison, comparison.policy
    tested = sum(t.p_adjusted is not None for t in c.tasks)
    lines = [f"## {headline(c)}", "",
             f"Baseline `{c.baseline.path}` ({c.baseline.label}) · candidate `{c.candidate.path}` ({c.candidate.label})", ""]
    if c.gating:
        lines += [f"Rule: a required task regresses when its drop exceeds its allowed drop (default {policy.max_drop:g} points) "
                  f"and its exact McNemar p, Holm-adjusted across {tested} tested task(s), is below {policy.alpha:g}; "
                  f"tasks with fewer than min_n pairs (default {policy.min_n}) are not decided.", ""]
    header = ["task", "n", "baseline", "candidate", "delta", f"{100 * policy.confidence:g}% CI", "right→wrong / wrong→right", "p", "p (Holm)"]
    if c.gating:
        header.append("verdict")
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join(["---", *["---:"] * (len(header) - 2), "---"]) + "|"]
    for t in c.tasks:
        s = t.stats
        row = [t.task, str(s.n), pct(s.baseline), pct(s.candidate), signed(s.delta),
               f"[{signed(s.ci_low)}, {signed(s.ci_high)}]" if s.n else "–", f"{s.worse} / {s.better}",
               fmt_p(s.p_value) if s.n else "–", fmt_p(t.p_adjusted)]
        if c.gating:
            label = {"regression": "**REGRESSION**", "insufficient": "**NO DECISION**", "pass": "pass", "info": "info"}[t.verdict]
            row.append(f"{label}: {t.note}")
        lines.append("| " + " | ".join(row) + " |")
    flips = [t for t in c.tasks if t.flipped]
    if flips:
        lines += ["", f"Right → wrong (up to {FLIPPED_SHOWN} example ids per task):", ""]
        for t in flips:
            more = f" (and {len(t.flipped) - FLIPPED_SHOWN} more)" if len(t.flipped) > FLIPPED_SHOWN else ""
            lines.append(f"- {t.task}: {', '.join(f'`{i}`' for i in t.flipped[:FLIPPED_SHOWN])}{more}")
    unpaired = [f"{t.task}: {t.only_baseline} in the baseline only, {t.only_candidate} in the candidate only"
                for t in c.tasks if t.only_baseline or t.only_candidate]
    unpaired += [f"{task}: {where}" for task, where in c.unpaired_tasks.items()]
    if unpaired:
        lines += ["", "Not paired (reported, not compared):", "", *[f"- {u}" for u in unpaired]]
    if c.mismatches:
        lines += ["", "**Compared despite mismatches (--allow-mismatch):**", "", *[f"- {m}" for m in c.mismatches]]
    if c.differences:
        shown = c.differences[:10]
        lines += ["", "Settings that differ (expected):", "", *[f"- `{d}`" for d in shown]]
        if len(c.differences) > len(shown):
            lines.append(f"- … and {len(c.differences) - len(shown)} more")
    if c.problems:
        lines += ["", "Unreadable records lines (skipped):", "", *[f"- {p}" for p in c.problems[:20]]]
    return "\n".join(lines) + "\n"


def _clean(value: Any) -> Any:
    """JSON has no NaN: an undefined statistic becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def to_json(comparison: Comparison) -> dict[str, Any]:
    c = comparison
    policy = asdict(c.policy)
    policy["required"] = "all" if c.policy.required is None else list(c.policy.required)
    policy["informational"] = list(c.policy.informational)
    return _clean({
        "verdict": c.verdict,
        "exit_code": c.exit_code,
        "summary": headline(c),
        "baseline": {"path": str(c.baseline.path), "label": c.baseline.label},
        "candidate": {"path": str(c.candidate.path), "label": c.candidate.label},
        "policy": policy,
        "tasks": [{"task": t.task, **asdict(t.stats), "delta_points": 100 * t.stats.delta, "p_adjusted": t.p_adjusted,
                   "required": t.policy.required, "max_drop": t.policy.max_drop, "min_n": t.policy.min_n,
                   "verdict": t.verdict or None, "note": t.note or None, "flipped_right_to_wrong": t.flipped,
                   "only_baseline": t.only_baseline, "only_candidate": t.only_candidate} for t in c.tasks],
        "unpaired_tasks": c.unpaired_tasks,
        "mismatches_allowed": c.mismatches,
        "settings_differ": c.differences,
        "problems": c.problems,
    })


def to_junit(comparison: Comparison) -> str:
    """One test case per task: a failure for a regression, an error when a required task cannot be decided."""
    c = comparison
    suite = ET.Element("testsuite", name="orcabench-gate", tests=str(len(c.tasks)),
                       failures=str(sum(t.verdict == "regression" for t in c.tasks)),
                       errors=str(sum(t.verdict == "insufficient" for t in c.tasks)), skipped="0")
    for t in c.tasks:
        case = ET.SubElement(suite, "testcase", classname="orcabench.gate", name=t.task, time="0")
        s = t.stats
        detail = (f"n {s.n}; baseline {pct(s.baseline)}, candidate {pct(s.candidate)}, delta {signed(s.delta)} points "
                  f"[{signed(s.ci_low)}, {signed(s.ci_high)}]; right→wrong {s.worse}, wrong→right {s.better}; "
                  f"p (Holm) {fmt_p(t.p_adjusted)}; {t.note}")
        if t.flipped:
            detail += f"; right→wrong ids: {', '.join(t.flipped[:FLIPPED_SHOWN])}"
        if t.verdict == "regression":
            ET.SubElement(case, "failure", message=f"{t.task} regressed: {t.note}", type="regression").text = detail
        elif t.verdict == "insufficient":
            ET.SubElement(case, "error", message=f"{t.task}: {t.note}", type="insufficient").text = detail
        else:
            ET.SubElement(case, "system-out").text = f"{t.verdict}: {detail}"
    root = ET.Element("testsuites", name="orcabench gate")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_reports(comparison: Comparison, out_dir: Path) -> dict[str, Path]:
    """``gate.md``, ``gate.json`` and ``gate.junit.xml`` in ``out_dir`` (created)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "gate.md", "json": out_dir / "gate.json", "junit": out_dir / "gate.junit.xml"}
    paths["markdown"].write_text(to_markdown(comparison), encoding="utf-8")
    paths["json"].write_text(json.dumps(to_json(comparison), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["junit"].write_text(to_junit(comparison), encoding="utf-8")
    return paths
