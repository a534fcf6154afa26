"""Benchmark data: from a local mirror in the upstream file layout, or from the Hub.

A local mirror is a directory holding the upstream files under the paths each task's
:class:`DataSpec` names (e.g. ``gsm8k/test.jsonl``); it is chosen with ``--data-dir`` or
``ORCABENCH_DATA_DIR``. Without one, rows come from the Hugging Face Hub through the
``datasets`` library (``pip install 'orcabench[hub]'``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from orcabench.types import OrcabenchError

DATA_DIR_ENV = "ORCABENCH_DATA_DIR"
_stderr = Console(stderr=True)


@dataclass(frozen=True)
class DataSpec:
    """Where a task's rows live: a Hub dataset and the upstream file(s) of a local mirror."""

    hub_path: str
    hub_split: str
    local_files: tuple[str, ...]  # paths relative to the mirror root, read in order
    hub_name: str | None = None
    local_format: str = "jsonl"  # "jsonl" | "json-examples" (BBH) | "csv" (MMLU, no header) | "csv-semicolon" (CRASS)
    # Multi-subset tasks (BBH, MMLU, AGIEval): one Hub config per local file, loaded in order.
    # A hub_path holding "{config}" names one dataset per subset (hails/agieval-{config}).
    hub_configs: tuple[str, ...] = ()


# Reserved key added to every row's values: where the row came from, so that a task reading
# several files (one per subtask) knows each row's subtask and its index within that file.
ORIGIN_KEY = "_orcabench_origin"


def row_origin(values: dict[str, Any]) -> tuple[str, int]:
    """``(subset, index)`` of a row: its file's name without extension (or its Hub config)
    and its position among that file's rows."""
    origin = values[ORIGIN_KEY]
    return origin["subset"], origin["index"]


def _with_origin(rows: list[Row], subset: str) -> list[Row]:
    return [Row({**row.values, ORIGIN_KEY: {"subset": subset, "index": index}}, row.location, row.source_file)
            for index, row in enumerate(rows)]


@dataclass(frozen=True)
class Row:
    values: dict[str, Any]
    location: str  # "file:line" or "hub-id[index]", for error messages
    source_file: str | None = None


def text_cluster(text: str) -> str:
    """A cluster name for questions that share a text (a passage): a hash of the text, so the
    same passage anywhere in the data names the same cluster, and a record stays short."""
    return "sha256:" + hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:16]


def resolve_data_dir(option: Path | None) -> Path | None:
    if option is not None:
        return option
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else None


def manifest_mismatches(data_dir: Path, hashes: dict[str, str]) -> list[str]:
    """Files whose sha256 differs from what the mirror's ``manifest.json`` records (none without one).

    ``orcabench data check`` reports these as failures; a run on such a mirror warns.
    """
    manifest_path = data_dir / "manifest.json"
    try:
        expected = json.loads(manifest_path.read_text())["files"] if manifest_path.is_file() else {}
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [f"{manifest_path} cannot be read ({error}); the files cannot be verified"]
    return [f"{data_dir / relative}: sha256 {digest[:12]}… differs from manifest.json's "
            f"{expected[relative]['sha256'][:12]}…"
            for relative, digest in hashes.items()
            if isinstance(expected.get(relative), dict) and expected[relative].get("sha256") not in (None, digest)]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_local(path: Path, relative: str, fmt: str, strict: bool) -> list[Row]:
    rows: list[Row] = []
    malformed: list[str] = []
    if fmt == "jsonl":
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as error:
                    malformed.append(f"{path}:{number}: {error.msg}")
                    continue
                if not isinstance(value, dict):
                    malformed.append(f"{path}:{number}: expected a JSON object")
                    continue
                rows.append(Row(value, f"{relative}:{number}", relative))
    elif fmt == "json-examples":
        try:
            examples = json.loads(path.read_text(encoding="utf-8"))["examples"]
        except (json.JSONDecodeError, KeyError) as error:
            raise OrcabenchError(f"{path}: not a BIG-bench style file with an 'examples' list ({error})") from error
        rows = [Row(value, f"{relative}[{index}]", relative) for index, value in enumerate(examples)]
    elif fmt == "csv":
        with path.open(encoding="utf-8", newline="") as handle:
            for number, values in enumerate(csv.reader(handle), start=1):
                rows.append(Row({"columns": values}, f"{relative}:{number}", relative))
    elif fmt == "csv-semicolon":  # a header row, then ";"-separated rows, maybe with a BOM (CRASS)
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for number, values in enumerate(csv.DictReader(handle, delimiter=";", skipinitialspace=True), start=2):
                rows.append(Row(dict(values), f"{relative}:{number}", relative))
    else:
        raise ValueError(f"unknown local format {fmt}")
    if malformed:
        if strict:
            raise OrcabenchError(f"malformed row {malformed[0]} (and {len(malformed) - 1} more); fix the file or drop --strict")
        _stderr.print(f"[yellow]skipped {len(malformed)} malformed row(s) in {path}: {malformed[0]}[/yellow]")
    return rows


def load_rows(spec: DataSpec, data_dir: Path | None, task_name: str, strict: bool = False) -> tuple[list[Row], dict[str, Any]]:
    """Rows for one task, plus provenance (file hashes or Hub id) for the run manifest.

    A mirror holds either the upstream files (``spec.local_files``) or the Hub rows that
    ``orcabench data download`` wrote (:func:`hub_mirror_file`); upstream files win.
    """
    if data_dir is None:
        return _load_hub(spec, task_name)
    upstream = [(relative, _subset_name(relative), spec.local_format) for relative in spec.local_files]
    downloaded = [(hub_mirror_file(path, name, spec.hub_split), subset, "jsonl") for path, name, subset in hub_sources(spec)]
    files = downloaded if not _all_present(data_dir, upstream) and _all_present(data_dir, downloaded) else upstream
    rows: list[Row] = []
    hashes: dict[str, str] = {}
    for relative, subset, fmt in files:
        path = data_dir / relative
        if not path.is_file():
            raise OrcabenchError(
                f"data for task {task_name} not found: {path} does not exist; point --data-dir "
                f"(or {DATA_DIR_ENV}) at a mirror holding {relative} (or one made by `orcabench data download`), "
                f"or unset both to load {spec.hub_path} from the Hub"
            )
        rows.extend(_with_origin(_read_local(path, relative, fmt, strict), subset))
        hashes[relative] = sha256_file(path)
    return rows, {"source": "local", "data_dir": str(data_dir.resolve()), "files": hashes}


def in_mirror(spec: DataSpec, data_dir: Path) -> bool:
    """Whether a mirror holds any file of this task, upstream or downloaded."""
    names = [*spec.local_files, *(hub_mirror_file(path, name, spec.hub_split) for path, name, _ in hub_sources(spec))]
    return any((data_dir / relative).is_file() for relative in names)


def _all_present(data_dir: Path, files: list[tuple[str, str, str]]) -> bool:
    return all((data_dir / relative).is_file() for relative, _, _ in files)


def _subset_name(relative: str) -> str:
    name = Path(relative).name
    return name.split(".", 1)[0] if not name.startswith(".") else name


def hub_sources(spec: DataSpec) -> list[tuple[str, str | None, str]]:
    """``(dataset id, config, subset name)`` for each Hub dataset a task reads."""
    if not spec.hub_configs:
        return [(spec.hub_path, spec.hub_name, spec.hub_name or spec.hub_path)]
    if "{config}" in spec.hub_path:  # one dataset per subset (hails/agieval-{config})
        return [(spec.hub_path.format(config=config), spec.hub_name, config) for config in spec.hub_configs]
    return [(spec.hub_path, config, config) for config in spec.hub_configs]


def hub_mirror_file(hub_path: str, hub_name: str | None, split: str) -> str:
    """Where ``orcabench data download`` keeps one Hub split inside a mirror."""
    return f"hub/{hub_path.strip('/')}/{hub_name or 'default'}/{split}.jsonl"


def _load_hub(spec: DataSpec, task_name: str) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    subsets: dict[str, Any] = {}
    for path, name, subset in hub_sources(spec):
        subset_rows, subsets[subset] = _load_hub_one(spec, task_name, path, name, subset)
        rows.extend(subset_rows)
    if not spec.hub_configs:
        return rows, subsets[hub_sources(spec)[0][2]]
    return rows, {"source": "hub", "subsets": subsets}


def download(spec: DataSpec, task_name: str, out_dir: Path) -> dict[str, dict[str, Any]]:
    """Write a task's Hub rows into a mirror at ``out_dir``; sha256, size and count per file."""
    rows, _ = _load_hub(spec, task_name)
    by_subset: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        values = {k: v for k, v in row.values.items() if k != ORIGIN_KEY}
        by_subset.setdefault(row.values[ORIGIN_KEY]["subset"], []).append(values)
    written: dict[str, dict[str, Any]] = {}
    for path, name, subset in hub_sources(spec):
        relative = hub_mirror_file(path, name, spec.hub_split)
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_suffix(".part")
        staging.write_text("".join(json.dumps(v, ensure_ascii=False, default=str) + "\n" for v in by_subset.get(subset, [])),
                           encoding="utf-8")
        staging.replace(target)
        written[relative] = {"sha256": sha256_file(target), "bytes": target.stat().st_size,
                             "examples": len(by_subset.get(subset, []))}
    return written


def _load_hub_one(spec: DataSpec, task_name: str, hub_path: str, hub_name: str | None,
                  subset: str) -> tuple[list[Row], dict[str, Any]]:
    try:
        import datasets
    except ImportError as error:
        raise OrcabenchError(
            f"task {task_name} needs its data: pass --data-dir DIR (a local mirror) or install the Hub loader with "
            f"pip install 'orcabench[hub]'"
        ) from error
    try:
        dataset = datasets.load_dataset(hub_path, hub_name, split=spec.hub_split)
    except Exception as error:  # network, auth and missing-dataset errors all end the same way
        raise OrcabenchError(
            f"could not load {hub_path} ({hub_name or 'default'}, {spec.hub_split}) from the Hub: "
            f"{type(error).__name__}; pass --data-dir DIR with a local mirror instead"
        ) from error
    rows = [Row(dict(value), f"{hub_path}[{index}]") for index, value in enumerate(dataset)]
    provenance = {"source": "hub", "id": hub_path, "name": hub_name, "split": spec.hub_split,
                  "fingerprint": getattr(dataset, "_fingerprint", None)}
    return _with_origin(rows, subset), provenance
