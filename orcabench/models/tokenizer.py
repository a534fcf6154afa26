"""A model's tokenizer, loaded once per process: the prompt renderer and the backends share it.

Loading a Hugging Face tokenizer takes 0.5 s or more per load here (and seconds the first
time, with the transformers import); a run used to load the same one twice, once for the
chat template and once in the backend.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from orcabench.timings import import_module
from orcabench.types import OrcabenchError

_LOADED: dict[str, Any] = {}
HUB_PROBE_TIMEOUT_S = 3.0


def load_tokenizer(path: str, revision: str | None = None, trust_remote_code: bool = False, **options: Any) -> Any:
    """``AutoTokenizer.from_pretrained(path, ...)``, the same object for the same arguments.

    A Hub id that is neither cached nor reachable is one line naming the fix, found in seconds
    (huggingface_hub would otherwise retry for half a minute and end in a traceback).
    """
    key = json.dumps([path, revision, trust_remote_code, options], sort_keys=True, default=str)
    if key not in _LOADED:
        transformers = import_module("transformers")
        if not Path(path).is_dir():
            _check_hub_reachable(path, revision)
        try:
            _LOADED[key] = transformers.AutoTokenizer.from_pretrained(
                path, revision=revision, trust_remote_code=trust_remote_code, **options)
        except OSError as error:  # no such repo or folder, no tokenizer files, or the Hub unreachable mid-way
            raise OrcabenchError(f"cannot load the tokenizer of {path}: {str(error).splitlines()[0].rstrip('.')}; "
                                 f"{_FIX}") from error
    return _LOADED[key]


_FIX = ("pass a local model folder (a model YAML's `path:` or --model PATH), or a Hugging Face id "
        "that is in the local cache (HF_HUB_OFFLINE=1) or reachable")


def _check_hub_reachable(repo_id: str, revision: str | None) -> None:
    """Refuse at once a Hub id that is not in the local cache while the Hub cannot be reached."""
    from huggingface_hub import constants, try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(repo_id, "tokenizer_config.json", revision=revision)
    except ValueError:  # not a valid repo id either: let from_pretrained name the problem
        return
    if isinstance(cached, str) or constants.HF_HUB_OFFLINE:
        return  # cached, or offline mode: transformers reads the cache without the network
    endpoint = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((endpoint.hostname or "huggingface.co", endpoint.port or 443),
                                 timeout=HUB_PROBE_TIMEOUT_S).close()
    except OSError as error:
        raise OrcabenchError(f"model {repo_id} is not a local folder nor in the Hugging Face cache, and "
                             f"{constants.ENDPOINT} cannot be reached ({error.strerror or error}); {_FIX}") from None


