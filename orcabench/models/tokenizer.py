"""A model's tokenizer, loaded once per process: the prompt renderer and the backends share it.

Loading a Hugging Face tokenizer takes 0.5 s or more per load here (and seconds the first
time, with the transformers import); a run used to load the same one twice, once for the
chat template and once in the backend.
"""

from __future__ import annotations

import json
from typing import Any

from orcabench.timings import import_module

_LOADED: dict[str, Any] = {}


def load_tokenizer(path: str, revision: str | None = None, trust_remote_code: bool = False, **options: Any) -> Any:
    """``AutoTokenizer.from_pretrained(path, ...)``, the same object for the same arguments."""
    key = json.dumps([path, revision, trust_remote_code, options], sort_keys=True, default=str)
    if key not in _LOADED:
        transformers = import_module("transformers")
        _LOADED[key] = transformers.AutoTokenizer.from_pretrained(path, revision=revision, trust_remote_code=trust_remote_code,
                                                                  **options)
    return _LOADED[key]
