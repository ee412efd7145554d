"""Training state as data: nested Python state written as JSON + safetensors, read without unpickling.

Accelerate's ``save_state`` writes the optimizer, LR scheduler, RNG states and registered objects
(the EMA) with ``torch.save``, and ``load_custom_state`` reads them back with
``weights_only=False``: a checkpoint folder from someone else could run code on ``resume``. Run
folders are shared, so our checkpoints hold only data. This module is the one hand-written
serialiser that needs (no maintained library stores a PyTorch optimizer ``state_dict`` without
pickle): a state tree becomes ``<name>.json`` (its structure and scalars) plus, if it holds
tensors, ``<name>.safetensors`` (the tensors, referenced from the JSON by key).

Representable: ``dict`` (any int/str/float/bool/None keys), ``list``, ``tuple``, ``int``,
``float`` (incl. inf/nan), ``str``, ``bool``, ``None``, ``torch.Tensor`` and ``numpy.ndarray``.
Anything else is refused when writing, so what cannot be read back is never written.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

FORMAT = "genwarp-state-v1"
_KEY_TYPES = {"str": str, "int": int, "float": float, "bool": lambda s: s == "True", "None": lambda s: None}


class StateFormatError(ValueError):
    """A state file is missing, truncated, or not in this format."""


def _encode(obj: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return {"__float__": repr(obj)} if not math.isfinite(obj) else obj
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        key = f"t{len(tensors)}"
        tensors[key] = torch.from_numpy(np.ascontiguousarray(obj).astype(obj.dtype.newbyteorder("="), copy=True))
        return {"__ndarray__": key, "dtype": obj.dtype.str}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), tensors, where)
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            kind = type(k).__name__ if k is not None else "None"
            if kind not in _KEY_TYPES:
                raise TypeError(f"{where}: dict key {k!r} of type {kind} cannot be stored as data")
            items.append([kind, str(k), _encode(v, tensors, f"{where}[{k!r}]")])
        return {"__dict__": items}
    raise TypeError(f"{where}: {type(obj).__name__} cannot be stored as data (only tensors, arrays, numbers, "
                    "strings, lists, tuples and dicts)")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__ndarray__" in obj:
        return tensors[obj["__ndarray__"]].numpy().astype(np.dtype(obj["dtype"]), copy=True)
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__tuple__" in obj:
        return tuple(_decode(v, tensors) for v in obj["__tuple__"])
    if "__dict__" in obj:
        return {_KEY_TYPES[kind](k): _decode(v, tensors) for kind, k, v in obj["__dict__"]}
    raise StateFormatError(f"unknown entry {sorted(obj)}")


def state_files(folder: str | Path, name: str) -> list[Path]:
    """The files :func:`save_tree` writes for ``name`` (the safetensors file only when it exists)."""
    folder = Path(folder)
    files = [folder / f"{name}.json"]
    if (folder / f"{name}.safetensors").exists():
        files.append(folder / f"{name}.safetensors")
    return files


def save_tree(folder: str | Path, name: str, obj: Any) -> list[Path]:
    """Write ``obj`` as ``<folder>/<name>.json`` (+ ``<name>.safetensors`` when it holds tensors)."""
    folder = Path(folder)
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(obj, tensors, name)
    written = []
    if tensors:
        path = folder / f"{name}.safetensors"
        # safetensors refuses tensors sharing memory; a state never needs that sharing back
        save_file({k: v.clone() if v.numel() else v for k, v in tensors.items()}, str(path))
        written.append(path)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"format": FORMAT, "tensors": sorted(tensors), "state": tree}))
    return [path, *written]


def load_tree(folder: str | Path, name: str, device: str | torch.device = "cpu") -> Any:
    """Read what :func:`save_tree` wrote; :class:`StateFormatError` naming the file if it is unusable."""
    folder = Path(folder)
    path = folder / f"{name}.json"
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise StateFormatError(f"{path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise StateFormatError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise StateFormatError(f"{path} is not a {FORMAT} state file")
    tensors: dict[str, torch.Tensor] = {}
    if record["tensors"]:
        tpath = folder / f"{name}.safetensors"
        try:
            with safe_open(str(tpath), framework="pt", device=str(device)) as f:
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except FileNotFoundError:
            raise StateFormatError(f"{tpath} is missing") from None
        except Exception as err:  # safetensors raises its own error types for torn files
            raise StateFormatError(f"{tpath} is unreadable (truncated or corrupt: {err})") from None
        missing = set(record["tensors"]) - set(tensors)
        if missing:
            raise StateFormatError(f"{tpath} lacks {len(missing)} tensors listed in {path.name}")
    try:
        return _decode(record["state"], tensors)
    except (KeyError, TypeError, ValueError) as err:
        raise StateFormatError(f"{path} is malformed ({err})") from None


__all__ = ["FORMAT", "StateFormatError", "load_tree", "save_tree", "state_files"]
