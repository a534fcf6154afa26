"""What the campaign knows beyond its run stores: each cell's attempts and, for a failed cell, why.

``campaign.json`` in the campaign folder, written whole (temp file, rename) by the campaign's
driver only. Done/planned counts and scores are never kept here: they are read from the run
stores, so the board is right even for a driver killed between two writes of this file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from orcabench.store.writer import read_json, write_json_atomic
from orcabench.types import OrcabenchError

STATE = "campaign.json"
Status = Literal["planned", "running", "retrying", "done", "failed", "interrupted"]


@dataclass
class CellState:
    status: Status = "planned"
    attempts: int = 0  # sessions started on the cell's run, by every campaign run together
    reason: str | None = None  # why the last attempt ended early (a failed cell: why it failed)
    run_dir: str | None = None  # the cell's run directory (None: the cell could not be planned)


def read_state(folder: Path) -> dict[str, CellState]:
    """Cell name -> its state; an absent file is a campaign not yet run."""
    path = folder / STATE
    if not path.is_file():
        return {}
    data = read_json(path, fix="delete it (the run stores keep every record) and run the campaign again")
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, dict):
        raise OrcabenchError(f"{path} is not a campaign state file (no `cells` mapping); delete it and run the campaign again")
    try:
        return {str(name): CellState(**entry) for name, entry in cells.items()}
    except TypeError as error:
        raise OrcabenchError(f"{path}: a cell entry is malformed ({error}); "
                             "delete the file and run the campaign again") from error


def write_state(folder: Path, name: str, cells: dict[str, CellState]) -> None:
    write_json_atomic(folder / STATE, {"campaign": name, "cells": {cell: asdict(state) for cell, state in cells.items()}})
