"""Files packed inside a MediaPipe solution's npm package (Emscripten ``*_packed_assets.data``).

The loader script beside the ``.data`` file calls ``loadPackage({"files": [{"filename": ...,
"start": ..., "end": ...}, ...]})``; that JSON says where each file lies in the ``.data`` blob.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from orin.vision.detectors.base import DetectorUnavailable

INSTALL_HINT = "run `make setup` (or `npm ci --prefix models` in the checkout)"


def checkout_node_modules() -> Path | None:
    """``models/node_modules`` of the checkout this source file lies in, if there is one."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "models" / "package.json").is_file():
            return folder / "models" / "node_modules"
    return None


def _file_table(loader_js: str) -> dict[str, tuple[int, int]]:
    decoder = json.JSONDecoder()
    marker = "loadPackage("
    position = loader_js.find(marker)
    while position >= 0:
        start = position + len(marker)
        if loader_js[start : start + 1] == "{":
            metadata, _ = decoder.raw_decode(loader_js, start)
            return {
                str(entry["filename"]): (int(entry["start"]), int(entry["end"]))
                for entry in metadata["files"]
            }
        position = loader_js.find(marker, start)
    raise ValueError("no loadPackage({...}) call")


def read_packed_files(
    package_dir: Path, stem: str, suffixes: Mapping[str, str]
) -> dict[str, bytes]:
    """The files of ``{stem}_packed_assets.data`` whose names end with each of ``suffixes``.

    ``suffixes`` maps a key of the result to the end of a packed file name (e.g. ``".tflite"``);
    any problem raises `DetectorUnavailable` naming the package folder and the fix.
    """
    loader = package_dir / f"{stem}_packed_assets_loader.js"
    data = package_dir / f"{stem}_packed_assets.data"
    if not loader.is_file() or not data.is_file():
        raise DetectorUnavailable(
            f"{loader.name} / {data.name} not found in {package_dir}; {INSTALL_HINT}"
        )
    try:
        table = _file_table(loader.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError) as error:
        raise DetectorUnavailable(f"cannot read the file table in {loader}: {error}") from error
    found: dict[str, bytes] = {}
    with data.open("rb") as blob:
        size = blob.seek(0, 2)
        for key, suffix in suffixes.items():
            names = [name for name in table if name.endswith(suffix)]
            if len(names) != 1:
                raise DetectorUnavailable(f"{data} holds {len(names)} files ending {suffix!r}")
            start, end = table[names[0]]
            if not 0 <= start <= end <= size:
                raise DetectorUnavailable(f"{data} is truncated ({size} bytes); {INSTALL_HINT}")
            blob.seek(start)
            found[key] = blob.read(end - start)
    return found
