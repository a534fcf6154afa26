"""The run schema: a run's fingerprint, its invocations (sessions) and its manifest, typed.

``manifest.json`` is part of the public results schema (``records.jsonl`` is the other
part, :class:`orcabench.types.Record`). One module writes and reads it, and the reader is
tolerant: a manifest written by a newer orcabench, with fields this version does not know,
loads with those fields kept (and written back unchanged), never set aside or recomputed.
Every run directory name, fingerprint and manifest is built here, whatever made the run
(``orcabench run``, lm-eval tasks, an lm-eval import, a benchmark).
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import socket
import subprocess
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Iterable
from typing import Any

from orcabench import __version__
from orcabench.types import SCHEMA_VERSION, OrcabenchError, Record

# Engine settings that must never reach a manifest or a fingerprint.
SECRET_ENGINE_KEYS = frozenset({"api_key"})
# Engine settings that change how requests are sent, not what is answered: a run may
# resume under other values (a new server address, more concurrency, a fresh budget).
OPERATIONAL_ENGINE_KEYS = frozenset({"base_url", "batching", "concurrency", "request_budget", "response_cache", "timeout",
                                     "max_retries", "retry_base_delay", "retry_max_delay"})


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _known(cls: type, data: dict[str, Any], check: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data`` split into the dataclass's own fields and the rest (kept as ``extra``).

    Each own field must have its declared JSON type (ValueError otherwise): a hand-edited or corrupted
    manifest is refused when read, not met later as a crash in whatever uses the field.
    """
    names = {f.name for f in fields(cls)} - {"extra"}
    known = {k: v for k, v in data.items() if k in names}
    for f in fields(cls) if check else ():
        if f.name in known:
            _check_type(f"{cls.__name__.lower()}.{f.name}", known[f.name], str(f.type))
    return known, {k: v for k, v in data.items() if k not in names}


_JSON_TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "dict": (dict,), "list": (list,)}


def _check_type(where: str, value: Any, annotation: str) -> None:
    """``annotation``: the field's as written (``str | None``, ``dict[str, Any]``); ``Any`` and unknown names pass."""
    options = [part.strip().split("[", 1)[0] for part in annotation.split("|")]
    if value is None and "None" in options:
        return
    allowed = [t for option in options for t in _JSON_TYPES.get(option, ())]
    if any(option not in _JSON_TYPES and option != "None" for option in options):
        return
    if isinstance(value, bool) or not isinstance(value, tuple(allowed)):
        raise ValueError(f"{where} should be {' or '.join(options)}, not {type(value).__name__} {json.dumps(value)[:40]}")


@dataclass
class Fingerprint:
    """Everything that decides a run's answers: a run resumes only under the same fingerprint.

    ``model``, ``engine``, ``sampling`` and each task's entry stay plain mappings because
    their keys depend on the model source and the task kind (orcabench task or lm-eval).
    """

    schema_version: int
    protocol: str
    model: dict[str, Any]
    backend: str
    engine: dict[str, Any]
    sampling: dict[str, Any]
    tasks: dict[str, dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)  # fields of a newer schema, kept as read

    @classmethod
    def build(cls, protocol: str, model: dict[str, Any], backend: str, engine: dict[str, Any], sampling: dict[str, Any],
              tasks: dict[str, dict[str, Any]]) -> Fingerprint:
        """The one fingerprint builder: secrets and operational engine settings are left out."""
        kept = {k: v for k, v in engine.items() if k not in SECRET_ENGINE_KEYS | OPERATIONAL_ENGINE_KEYS}
        return cls(SCHEMA_VERSION, protocol, model, backend, kept, sampling, tasks)

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": self.schema_version, "protocol": self.protocol, "model": self.model,
                "backend": self.backend, "engine": self.engine, "sampling": self.sampling, "tasks": self.tasks, **self.extra}

    @classmethod
    def from_json(cls, data: Any) -> Fingerprint:
        if not isinstance(data, dict):
            raise ValueError(f"a fingerprint is a JSON object, not {type(data).__name__}")
        known, extra = _known(cls, data)
        for task, entry in (known.get("tasks") or {}).items():
            if not isinstance(entry, dict):
                raise ValueError(f"fingerprint.tasks.{task} should be an object, not {type(entry).__name__}")
        name = (known.get("model") or {}).get("name", "?")  # model itself was type-checked by _known
        if not isinstance(name, str):  # every report, list and gate names the run by it
            raise ValueError(f"fingerprint.model.name should be a string, not {type(name).__name__}")
        defaults: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "protocol": "default", "model": {}, "backend": "?",
                                    "engine": {}, "sampling": {}, "tasks": {}}
        return cls(**{**defaults, **known}, extra=extra)

    @property
    def model_name(self) -> str:
        """The model's registry name (or its path or Hub id), as the run recorded it."""
        return str(self.model.get("name", "?"))

    @property
    def label(self) -> str:
        """``model · backend``: how reports, lists and gates name a run."""
        return f"{self.model_name} · {self.backend}"

    @property
    def thinking_markers(self) -> dict[str, Any] | None:
        """A reasoning model's trace markers and thinking switch as recorded (None: not a reasoning model)."""
        recorded = self.model.get("reasoning")
        return recorded if isinstance(recorded, dict) else None

    def settings(self) -> dict[str, Any]:
        """What a gate expects to differ between a baseline and a candidate: everything but the protocol, schema
        version and tasks (newer schemas' fields included)."""
        return {"model": self.model, "backend": self.backend, "engine": self.engine, "sampling": self.sampling, **self.extra}

    def variants(self, task: str, records: Iterable[Record]) -> list[str]:
        """The task's variants in the run's order (``--prompt-variants``, ``--circular``), then any others ``records``
        hold; [] for a run without them."""
        named = self.tasks.get(task, {}).get("variants")
        found = {r.variant for r in records if r.task == task and r.variant is not None}
        ordered = [v for v in named or () if isinstance(v, str)]
        return [*ordered, *sorted(found - set(ordered))]

    def leaderboard_records(self, task: str, records: Iterable[Record]) -> list[Record]:
        """The task's records as a leaderboard counts them: under its first variant where the run has variants
        (the default template, or the options in the data's order), so a cell means the same in every run."""
        records = list(records)
        variants = self.variants(task, records)
        first = variants[0] if variants else None
        return [r for r in records if r.task == task and r.variant == first]

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()

    def differences(self, other: Fingerprint) -> list[str]:
        """"key.path: old -> new" for each setting that differs."""
        return _diff(self.to_json(), other.to_json())


def _diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for key in sorted(set(old) | set(new)) for d in _diff(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


# Characters a name keeps in a path: letters and digits of any script, space and a few marks.
# Everything else (/ \ : control characters, ...) becomes "-", so a name is one path component.
_UNSAFE_IN_PATH = re.compile(r"[^\w .+=@-]+")
MAX_SLUG = 100  # well under the 255 bytes a file name may have, with room for a suffix


def safe_slug(name: str, fallback: str) -> str:
    """``name`` as one path component that stays inside its folder, or ``fallback`` if nothing is left.

    Ordinary names (``smollm2-135m``, ``Qwen--Qwen3-0.6B``, ``gsm8k``) come back unchanged;
    "../../x" becomes "-..-x", never a step out of the folder: no separator, no leading dot.
    A name cut to length gets a short hash of the whole, so two long names stay apart.
    """
    slug = _UNSAFE_IN_PATH.sub("-", name).lstrip(". ")
    if len(slug.encode()) > MAX_SLUG:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        slug = slug.encode()[:MAX_SLUG - 9].decode(errors="ignore") + "-" + digest
    return slug or fallback


def run_dir_name(model_name: str, backend: str, fingerprint: Fingerprint) -> str:
    """The default run directory's name: the same settings always land in the same run, inside the runs folder."""
    return f"{safe_slug(model_name, 'model')}-{safe_slug(backend, 'backend')}-{fingerprint.digest()[:12]}"


@dataclass
class Session:
    """One invocation that added to a run: ``orcabench run`` (or a resume), an lm-eval run, an import.

    Fields that do not apply stay ``None`` and are not written.
    """

    started: str | None = None
    finished: str | None = None
    seconds: float | None = None
    pending: int | None = None  # examples still to score when the session began
    requests: int | None = None  # requests sent to the backend
    batch_size: int | None = None
    limit: int | None = None
    limit_per_subtask: int | None = None
    chat_template_sha256: str | None = None
    backend: dict[str, Any] | None = None  # the backend's info(): versions, resolved engine settings
    engine_start_seconds: float | None = None
    generate_seconds: float | None = None
    # Seconds per phase: plan, tokenizer, render, engine_start, generate, close, import.<library>.
    timings: dict[str, float] | None = None
    lm_eval: dict[str, Any] | None = None  # lm-eval runs: version, model, model_args, output file
    imported: str | None = None  # imports: the file read
    at: str | None = None
    records: int | None = None  # imports: records added
    planned: dict[str, int] | None = None  # examples per task this session's plan held (done or not)
    prompt_tokens: int | None = None  # of the requests sent (estimated at ~4 characters a token without a tokenizer)
    generation_budget: int | None = None  # sum of the generation requests' max_tokens
    output_tokens: int | None = None  # tokens generated
    warnings: list[str] | None = None  # what the console warned about results (orcabench.engine.preflight)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**{k: v for k, v in own.items() if v is not None}, **self.extra}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        known, extra = _known(cls, data)
        return cls(**known, extra=extra)


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(Path(__file__).parent), "describe", "--always", "--dirty", "--abbrev=40"],
            capture_output=True, text=True, timeout=5, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def orcabench_version() -> dict[str, Any]:
    return {"version": __version__, "git_commit": _git_commit()}


def _host() -> dict[str, Any]:
    import os

    return {"hostname": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor()}


@dataclass
class Manifest:
    """``manifest.json``: the fingerprint, where the weights and data came from, the host, each session."""

    schema_version: int
    created: str
    orcabench: dict[str, Any]
    fingerprint: Fingerprint
    model_path: str
    data: dict[str, Any]
    host: dict[str, Any]
    sessions: list[Session] = field(default_factory=list)
    rescores: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, fingerprint: Fingerprint, model_path: str, data: dict[str, Any]) -> Manifest:
        """The one manifest builder: a run's manifest before its first session."""
        return cls(SCHEMA_VERSION, now(), orcabench_version(), fingerprint, model_path, data, _host())

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"schema_version": self.schema_version, "created": self.created, "orcabench": self.orcabench,
                                "fingerprint": self.fingerprint.to_json(), "model_path": self.model_path, "data": self.data,
                                "host": self.host, "sessions": [s.to_json() for s in self.sessions]}
        if self.rescores:
            data["rescores"] = self.rescores
        return {**data, **self.extra}

    @classmethod
    def from_json(cls, data: Any, where: str = "manifest") -> Manifest:
        """A manifest of any schema version this orcabench can read (today: 1, and newer ones tolerantly)."""
        if not isinstance(data, dict) or not isinstance(data.get("fingerprint"), dict):
            raise OrcabenchError(f"{where} has no fingerprint; is it an orcabench run manifest?")
        known, extra = _known(cls, data, check=False)  # converted below, tolerantly (a null list is an empty one)
        try:
            return cls(
                schema_version=int(known.get("schema_version", SCHEMA_VERSION)),
                created=str(known.get("created", "")),
                orcabench=dict(known.get("orcabench") or {}),
                fingerprint=Fingerprint.from_json(known["fingerprint"]),
                model_path=str(known.get("model_path", "")),
                data=dict(known.get("data") or {}),
                host=dict(known.get("host") or {}),
                sessions=[Session.from_json(s) for s in known.get("sessions") or [] if isinstance(s, dict)],
                rescores=list(known.get("rescores") or []),
                extra=extra,
            )
        except (TypeError, ValueError) as error:
            raise OrcabenchError(f"{where} is not a readable orcabench manifest ({error}); "
                                 "move the run aside or fix the file") from error

    def last_finished(self) -> str:
        """When the run last changed: its latest finished session, else its creation."""
        finished = [s.finished for s in self.sessions if s.finished]
        return max(finished) if finished else self.created
