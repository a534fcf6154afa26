"""The gate's outputs: Markdown (job summary / PR comment), JSON (scripts), JUnit XML (CI dashboards)."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path
from typing import Any

from orcabench.console import markdown_row
from orcabench.gate.verdicts import Comparison, TaskResult
from orcabench.gate.sequential import Levels
from orcabench.store.files import ensure_directory, write_atomic

FLIPPED_SHOWN = 5  # right -> wrong example ids listed per task in the Markdown
LABELS = {"regression": "**REGRESSION**", "insufficient": "**NO DECISION**", "inconclusive": "**INCONCLUSIVE**",
          "pass": "pass", "info": "info"}


def pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.2f}"


def signed(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:+.2f}"


def fmt_p(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def _count(n: int) -> str:
    return f"{n:,}"


def headline(comparison: Comparison) -> str:
    c = comparison
    if c.verdict is None:
        return "orcabench compare (no verdict)"
    named = {v: ", ".join(t.task for t in c.tasks if t.verdict == v) for v in ("regression", "insufficient", "inconclusive")}
    text = {"regression": f"REGRESSION in {named['regression']}",
            "insufficient": f"NO DECISION, too few paired samples in {named['insufficient']}",
            "inconclusive": f"INCONCLUSIVE in {named['inconclusive']}", "pass": "PASS"}[c.verdict]
    if c.sequence:
        s = c.sequence
        how = "decided" if s.decided else "data ran out; fixed-n verdict"
        text += f" ({how} after {_count(s.pairs_used)} of {_count(s.pairs_available)} pairs)"
    return f"orcabench gate: {text}"


def _setting(c: Comparison, key: str, unit: str = "") -> str:
    """A policy value as it applied, with the tasks' own values ("3" or "3 points; arc-challenge 5").

    Never called a default: the user may have set it."""
    value = getattr(c.policy, key)
    own = [f"{t.task} {getattr(t.policy, key):g}" for t in c.tasks if getattr(t.policy, key) != value]
    return f"{value:g}{unit}" + (f"; {', '.join(own)}" if own else "")


def rule_text(c: Comparison) -> str:
    policy = c.policy
    required = sum(t.policy.required for t in c.tasks if t.verdict != "insufficient")
    if policy.rule == "lenient":
        return (f"Rule (lenient): a required task regresses when its drop reaches its margin "
                f"({_setting(c, 'margin', ' points')}) and its exact McNemar p, Holm-adjusted across the tested tasks, "
                f"is below {policy.alpha:g}; "
                "otherwise it passes.")
    if c.sequence:
        levels = Levels(policy.alpha, max(required, 1))
        (seq_pass, seq_regression), (fixed_pass, fixed_regression) = levels.sequential, levels.fallback
        return (f"Rule (non-inferiority, sequential): anytime-valid confidence sequences (betting, Waudby-Smith & Ramdas 2023) "
                f"looked at every {policy.chunk} pairs in a seeded order (seed {policy.seed}). A required task passes when "
                f"the lower bound on candidate − baseline (confidence {100 * (1 - seq_pass):g}%) is above −margin and regresses "
                f"when the upper bound ({100 * (1 - seq_regression):g}%, Bonferroni over {required} required task(s)) is below "
                f"−margin; a task whose data runs out undecided gets the fixed-n verdict at {100 * (1 - fixed_pass):g}% / "
                f"{100 * (1 - fixed_regression):g}% (the rest of alpha). No task stops before min_n pairs "
                f"({_setting(c, 'min_n')}).")
    return (f"Rule (non-inferiority, Tango score bounds): a required task passes when the lower bound on candidate − baseline "
            f"(confidence {100 * policy.confidence:g}%) is above −margin, regresses when the upper bound "
            f"(confidence {100 * (1 - policy.alpha / max(required, 1)):g}%, Bonferroni over {required} required task(s)) "
            f"is below −margin, and is inconclusive otherwise; the gate passes when every required task does. "
            f"Fewer than min_n pairs ({_setting(c, 'min_n')}): no decision.")


def _bounds(t: TaskResult) -> str:
    return "–" if t.bounds is None else f"[{signed(t.bounds[0])}, {signed(t.bounds[1])}]"


def _table(c: Comparison) -> list[str]:
    s_conf = f"{100 * c.policy.confidence:g}% CI"
    strict = c.gating and c.policy.rule != "lenient"
    if strict:
        header = ["task", "pairs", "baseline", "candidate", "delta", "bounds", "margin", "right→wrong / wrong→right", "verdict"]
    else:
        header = ["task", "n", "baseline", "candidate", "delta", s_conf, "right→wrong / wrong→right", "p", "p (Holm)"]
        if c.gating:
            header.append("verdict")
    lines = [markdown_row(header), "|" + "|".join(["---", *["---:"] * (len(header) - 2), "---"]) + "|"]
    for t in c.tasks:
        s = t.stats
        if strict:
            pairs = f"{_count(s.n)} of {_count(t.available)}" if c.sequence else str(s.n)
            basis = " (fixed-n)" if t.basis == "fixed-n" else ""
            clustered = f" ({t.variance.text})" if t.variance is not None and t.clustered else ""
            row = [t.task, pairs, pct(s.baseline), pct(s.candidate), signed(s.delta), _bounds(t), f"−{t.policy.margin:g}",
                   f"{s.worse} / {s.better}", f"{LABELS[t.verdict]}{basis}: {t.note}{clustered}"]
        else:
            row = [t.task, str(s.n), pct(s.baseline), pct(s.candidate), signed(s.delta),
                   f"[{signed(s.ci_low)}, {signed(s.ci_high)}]" if s.n else "–", f"{s.worse} / {s.better}",
                   fmt_p(s.p_value) if s.n else "–", fmt_p(t.p_adjusted)]
            if c.gating:
                row.append(f"{LABELS[t.verdict]}: {t.note}")
        lines.append(markdown_row(row))
    return lines


def clusters_text(c: Comparison) -> str:
    """What the rule did for tasks whose questions share passages ("" when none does)."""
    clustered = [t.task for t in c.tasks if t.clustered]
    if not clustered:
        return ""
    how = ("its passages are drawn and bet on whole (the martingale's unit is the passage); a fixed-n fallback "
           "uses the clustered bounds" if c.sequence else
           "Tango's bounds on the counts divided by the design effect (Rao & Scott 1992)")
    return (f"Clustered task(s) {', '.join(clustered)} (questions sharing a passage): cluster-robust verdicts, "
            f"{how}; the interval shown by compare is the clustered one (Miller 2024).")


def to_markdown(comparison: Comparison) -> str:
    c = comparison
    lines = [f"## {headline(c)}", "",
             f"Baseline `{c.baseline.path}` ({c.baseline.label}) · candidate `{c.candidate.path}` ({c.candidate.label})", ""]
    if c.gating:
        lines += [rule_text(c), ""]
    if c.gating and clusters_text(c):
        lines += [clusters_text(c), ""]
    if c.sequence:
        s = c.sequence
        saved = s.pairs_available - s.pairs_used
        lines += [(f"Sequential: {_count(s.pairs_used)} of {_count(s.pairs_available)} pairs in {s.chunks} chunk(s); "
                   f"{_count(saved)} samples saved ({100 * saved / max(s.pairs_available, 1):.1f}% of the fixed-n gate). "
                   "Bounds are the confidence sequence's at the stop; a task whose data ran out undecided gets the "
                   "fixed-n verdict at the share of alpha kept for it."), ""]
    lines += _table(c)
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
    if c.unused_policy:
        lines += ["", "Policy entries not applied:", "", *[f"- {u}" for u in c.unused_policy]]
    if c.problems:
        lines += ["", "Unreadable records lines (skipped):", "", *[f"- {p}" for p in c.problems[:20]]]
    return "\n".join(lines) + "\n"


def _clean(value: Any) -> Any:
    """JSON has no NaN: an undefined statistic becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _variance(t: TaskResult) -> dict[str, Any] | None:
    """How the verdict's bounds treated the task's questions; null where no bounds were computed."""
    if t.variance is None:
        return None
    return {"kind": "clustered" if t.variance.clustered else "independent", "clusters": t.variance.clusters,
            "design_effect": t.variance.design_effect, "text": t.variance.text}


def to_json(comparison: Comparison) -> dict[str, Any]:
    c = comparison
    policy = asdict(c.policy)
    policy["required"] = "all" if c.policy.required is None else list(c.policy.required)
    policy["informational"] = list(c.policy.informational)
    sequence = None
    if c.sequence:
        sequence = {**asdict(c.sequence), "samples_saved": c.sequence.pairs_available - c.sequence.pairs_used}
    return _clean({
        "verdict": c.verdict,
        "exit_code": c.exit_code,
        "summary": headline(c),
        "baseline": {"path": str(c.baseline.path), "label": c.baseline.label},
        "candidate": {"path": str(c.candidate.path), "label": c.candidate.label},
        "policy": policy,
        "sequential": sequence,
        "tasks": [{"task": t.task, **asdict(t.stats), "delta_points": 100 * t.stats.delta, "p_adjusted": t.p_adjusted,
                   "required": t.policy.required, "margin": t.policy.margin, "min_n": t.policy.min_n,
                   "verdict": t.verdict or None, "basis": t.basis or None, "note": t.note or None,
                   "bounds": None if t.bounds is None else list(t.bounds), "pairs_used": t.stats.n,
                   "pairs_available": t.available, "variance": _variance(t),
                   "more_pairs": t.more_pairs, "flipped_right_to_wrong": t.flipped,
                   "only_baseline": t.only_baseline, "only_candidate": t.only_candidate} for t in c.tasks],
        "unpaired_tasks": c.unpaired_tasks,
        "mismatches_allowed": c.mismatches,
        "settings_differ": c.differences,
        "problems": c.problems,
        "policy_not_applied": c.unused_policy,
    })


def to_junit(comparison: Comparison) -> str:
    """One test case per task: a failure for a regression, an error when a required task is undecided."""
    c = comparison
    undecided = ("insufficient", "inconclusive")
    suite = ET.Element("testsuite", name="orcabench-gate", tests=str(len(c.tasks)),
                       failures=str(sum(t.verdict == "regression" for t in c.tasks)),
                       errors=str(sum(t.verdict in undecided for t in c.tasks)), skipped="0")
    for t in c.tasks:
        case = ET.SubElement(suite, "testcase", classname="orcabench.gate", name=t.task, time="0")
        s = t.stats
        detail = (f"pairs {s.n} of {t.available}; baseline {pct(s.baseline)}, candidate {pct(s.candidate)}, "
                  f"delta {signed(s.delta)} points, bounds {_bounds(t)} ({t.basis or 'lenient'}), margin {t.policy.margin:g}; "
                  f"right→wrong {s.worse}, wrong→right {s.better}; {t.note}")
        if t.flipped:
            detail += f"; right→wrong ids: {', '.join(t.flipped[:FLIPPED_SHOWN])}"
        if t.verdict == "regression":
            ET.SubElement(case, "failure", message=f"{t.task} regressed: {t.note}", type="regression").text = detail
        elif t.verdict in undecided:
            ET.SubElement(case, "error", message=f"{t.task}: {t.note}", type=t.verdict).text = detail
        else:
            ET.SubElement(case, "system-out").text = f"{t.verdict}: {detail}"
    root = ET.Element("testsuites", name="orcabench gate")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_reports(comparison: Comparison, out_dir: Path) -> dict[str, Path]:
    """``gate.md``, ``gate.json`` and ``gate.junit.xml`` in ``out_dir`` (created)."""
    ensure_directory(out_dir, "--out")
    paths = {"markdown": out_dir / "gate.md", "json": out_dir / "gate.json", "junit": out_dir / "gate.junit.xml"}
    write_atomic(paths["markdown"], to_markdown(comparison), "--out")
    write_atomic(paths["json"], json.dumps(to_json(comparison), indent=2, ensure_ascii=False) + "\n", "--out")
    write_atomic(paths["junit"], to_junit(comparison), "--out")
    return paths
