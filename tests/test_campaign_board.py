"""The running campaign's console (issue 22): the board of ``campaign status``, live and quiet on a terminal.

On a terminal the table is redrawn in place on each cell event (and on a timer, which these
tests leave out: nothing here depends on timing), with a line above it only for a cell that
is retried or fails. Off a terminal (CI, a pipe) the campaign prints one line per cell event
on stderr and the board once at the end, so logs keep every event.
"""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from orcabench.campaign.board import BoardRow
from orcabench.campaign.runner import CellChanged
from orcabench.campaign.state import CellState
from orcabench.cli.campaign import LiveBoard

CELL = "smollm2-135m · system_message=empty"


def row(done: int, status: str, reason: str | None = None) -> BoardRow:
    return BoardRow(CELL, "smollm2-135m", "system_message=empty", {"gsm8k": done}, {"gsm8k": 3}, {}, status, reason,
                    tasks=["gsm8k"])


class Stores:
    """What the run stores say now (the board reads them on every redraw)."""

    def __init__(self) -> None:
        self.now = [row(0, "pending")]

    def __call__(self) -> list[BoardRow]:
        return list(self.now)


# What a terminal is sent to redraw in place: back to the line start, then erase a line and go up, per line drawn.
REDRAW = re.compile(r"\r(?:\x1b\[2K\x1b\[1A)*\x1b\[2K")


def frames(out: io.StringIO) -> list[str]:
    """Each drawing of the board, as the terminal shows it after the redraw (the cursor's hide/show codes left out)."""
    return REDRAW.split(out.getvalue().replace("\x1b[?25l", "").replace("\x1b[?25h", ""))


def cells_of(frame: str) -> list[str]:
    """The board's one row, cell by cell."""
    (line,) = [line for line in frame.splitlines() if line.startswith("│ smollm2-135m")]
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_on_a_terminal_the_board_is_redrawn_on_each_cell_event_and_only_retries_and_failures_print_a_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    out, stores = io.StringIO(), Stores()
    terminal = Console(file=out, force_terminal=True, width=120, color_system=None)
    with LiveBoard("small", stores, out=terminal, every=None) as board:
        assert cells_of(frames(out)[-1])[2:] == ["0/3", "pending"]  # the board is up before any cell starts
        stores.now = [row(1, "running")]
        board(CellChanged(CELL, CellState("running", attempts=1)))
        assert len(frames(out)) == 2 and cells_of(frames(out)[-1])[2:] == ["1/3", "running"]
        stores.now = [row(2, "partial")]
        board(CellChanged(CELL, CellState("retrying", attempts=2, reason="every replica is gone")))
        assert cells_of(frames(out)[-1])[2:] == ["2/3", "partial"]
        stores.now = [row(3, "done")]
        board(CellChanged(CELL, CellState("done", attempts=2)))
    shown = out.getvalue()
    assert f"{CELL}: retrying (attempt 2): every replica is gone\n" in shown  # printed above the board
    assert f"{CELL}: running" not in shown and f"{CELL}: done" not in shown  # the board says those
    assert cells_of(frames(out)[-1])[2:] == ["3/3", "done"] and shown.endswith("┘\n\x1b[?25h")  # the last board stays
    assert capsys.readouterr().err == ""


def test_off_a_terminal_each_cell_event_is_one_line_and_the_board_comes_once_at_the_end(
        capsys: pytest.CaptureFixture[str]) -> None:
    out, stores = io.StringIO(), Stores()
    pipe = Console(file=out, force_terminal=False, width=120)
    with LiveBoard("small", stores, out=pipe, every=None) as board:
        board(CellChanged(CELL, CellState("running", attempts=1)))
        stores.now = [row(3, "failed", "no replica started")]
        board(CellChanged(CELL, CellState("failed", attempts=1, reason="no replica started")))
        assert out.getvalue() == ""  # nothing redrawn into a log
    assert capsys.readouterr().err.splitlines() == [f"{CELL}: running (attempt 1)",
                                                    f"{CELL}: failed (attempt 1): no replica started"]
    board_text = out.getvalue()
    assert board_text.count("campaign small: done/planned") == 1 and "failed: no replica started" in board_text
    assert "\x1b[" not in board_text  # no cursor movement or colour in a pipe


def test_off_a_terminal_an_interrupted_campaign_prints_no_board(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt), LiveBoard("small", Stores(), out=Console(file=out, force_terminal=False)):
        raise KeyboardInterrupt
    assert out.getvalue() == ""


def test_a_board_that_cannot_be_read_for_a_moment_keeps_its_last_drawing_and_never_stops_a_cell() -> None:
    out, stores = io.StringIO(), Stores()

    def half_written() -> list[BoardRow]:
        raise OSError("records.jsonl: a line being written")

    with LiveBoard("small", stores, out=Console(file=out, force_terminal=True, width=120), every=None) as board:
        board.rows = half_written
        board(CellChanged(CELL, CellState("running", attempts=1)))  # no exception into the cell's thread
        assert len(frames(out)) == 1
        board.rows = stores
    assert cells_of(frames(out)[-1])[2:] == ["0/3", "pending"]
