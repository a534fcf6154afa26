"""Writing a report: the tables in each format, the charts and the static site, from runs and references.

:mod:`orcabench.report.tables` builds the tables (the report model) and knows nothing of files
in formats other than text; this module puts them, :mod:`orcabench.report.charts` and
:mod:`orcabench.report.site` together, so the site and the tables never import each other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path


from orcabench.report import charts, site
from orcabench.report.tables import (
    FORMATS,
    Report,
    deltas,
    latex_cell_tables,
    leaderboard,
    paired_table,
    resolve_baseline,
    subtask_table,
    tasks_with_subtasks,
    to_latex_table,
)
from orcabench.report.paired import Pairing
from orcabench.report.results import load_results
from orcabench.store.files import ensure_directory, write_atomic
from orcabench.types import OrcabenchError


def write_tables(report: Report, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """The tables in each requested format (``html`` is written by :mod:`orcabench.report.site`)."""
    results, written = report.results, []
    if "md" in formats:
        written.append(out_dir / "report.md")
        write_atomic(written[-1], report.markdown(), "--out")
    if "csv" in formats:
        frames = {"leaderboard.csv": leaderboard(results).rename_axis("entry"), "tasks.csv": results.tasks,
                  "subtasks.csv": results.subtasks}
        if report.baseline is not None:
            frames["deltas.csv"] = deltas(results, report.baseline).rename_axis("entry")
        paired = report.paired
        if paired is not None:
            frames["paired.csv"] = paired
        if not report.variants.empty:  # per-variant accuracies and position bias as JSON cells
            frames["variants.csv"] = report.variants.assign(per_variant=report.variants["per_variant"].map(json.dumps),
                                                            position_bias=report.variants["position_bias"].map(json.dumps))
            if not report.ranking.empty:
                frames["ranking.csv"] = report.ranking.assign(swaps=report.ranking["swaps"].map(json.dumps))
        for name, frame in frames.items():
            written.append(out_dir / name)
            write_atomic(written[-1], frame.to_csv(index=name in ("leaderboard.csv", "deltas.csv")), "--out")
    if "latex" in formats:
        parts = [to_latex_table(leaderboard(results), "Zero-shot accuracy (\\%); best per column in bold."),
                 *latex_cell_tables(results)]  # each run cell's n and interval, as the other formats show them
        if report.baseline is not None:
            parts.append(to_latex_table(deltas(results, report.baseline), f"Accuracy points against {report.baseline}.",
                                        best=None, signed=True))
        paired = report.paired
        if paired is not None and report.reference is not None:
            styler = paired_table(paired).style.hide(axis="index").format_index(escape="latex", axis=1)
            parts.append(styler.format(escape="latex").to_latex(hrules=True, caption=report.paired_caption
                                                                 .replace("%", "\\%"), position_float="centering"))
        parts += [to_latex_table(subtask_table(results, task), f"{task} by subtask (\\%); best per subtask in bold.", best="row")
                  for task in tasks_with_subtasks(results)]
        written.append(out_dir / "report.tex")
        write_atomic(written[-1], "\n".join(parts), "--out")
    return written


def write_report(paths: Sequence[Path], out_dir: Path, formats: Sequence[str] = ("md",), baseline: str | None = None,
                 reference: bool = True, labels: Mapping[Path, str] | None = None,
                 paired_reference: str | Pairing | None = None) -> tuple[Report, list[Path]]:
    """Load runs and references, then write the tables, the charts and (``html``) the site into ``out_dir``;
    ``labels``: named runs' row labels (:func:`load_results`); ``paired_reference`` (an entry or model name, or a
    :class:`~orcabench.report.paired.Pairing` of entries: a reference per group of rows) adds the paired leaderboard."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise OrcabenchError(f"--format {', '.join(unknown)}: choose among {', '.join(FORMATS)}")
    if out_dir.exists() and not out_dir.is_dir():
        raise OrcabenchError(f"--out {out_dir} is a file; pass a directory for the report")
    ensure_directory(out_dir, "--out")  # before loading runs: an unwritable --out fails fast
    results = load_results(paths, reference=reference, labels=labels)
    baseline = resolve_baseline(results, baseline)
    chart_files = charts.write_charts(charts.charts(results, baseline), out_dir / "charts")
    if isinstance(paired_reference, Pairing):
        unknown = sorted({*paired_reference.references, *paired_reference.references.values()} - set(results.entries))
        if unknown:
            raise OrcabenchError(f"the pairing names {', '.join(unknown)}, not among the entries "
                                 f"({', '.join(results.entries)}): pair entries of this report")
        report = Report(results, baseline, chart_files, paired_reference.label, paired_reference)
    else:
        report = Report(results, baseline, chart_files, resolve_baseline(results, paired_reference, "--reference"))
    written = write_tables(report, out_dir, formats)
    written += [p.with_suffix(s) for p in chart_files.values() for s in (".png", ".svg")]
    if "html" in formats:
        written.append(site.write_site(report, out_dir / "site"))
    return report, written
