"""glTF 2.0: ``NAME.gltf`` (JSON), one buffer ``NAME.bin`` and the texture files beside it.

The document is the GLB writer's (glb.build_document); only the packaging differs: the buffer
and the images are separate files, referred to by relative URIs.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from meshforge.asset import Asset
from meshforge.export.glb import build_document
from meshforge.export.registry import Exporter, write_atomically


def write_gltf(asset: Asset, path: Path) -> list[Path]:
    """Write ``path``, ``NAME.bin`` and ``NAME_image{i}.jpg|png``; the .gltf is listed first."""
    stem = path.stem
    names: dict[str, str] = {}

    def image_uri(index: int, mime: str) -> str:
        name = f"{stem}_image{index}{'.png' if mime == 'image/png' else '.jpg'}"
        names[quote(name)] = name
        return quote(name)

    bin_path = path.with_name(f"{stem}.bin")
    builder = build_document(asset, image_uri, buffer={"uri": quote(bin_path.name)})
    written = [write_atomically(bin_path, bytes(builder.blob))]
    written += [
        write_atomically(path.with_name(names[uri]), data) for uri, data in builder.external
    ]
    text = json.dumps(builder.gltf, indent=1).encode("utf-8")
    return [write_atomically(path, text), *written]


EXPORTER = Exporter(
    "gltf", ".gltf", write_gltf, "glTF 2.0 JSON + .bin + texture files, PBR metallic-roughness"
)
