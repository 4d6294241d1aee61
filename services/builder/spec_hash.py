"""The image id: a content address over everything that decides what an image contains."""

from __future__ import annotations

import hashlib

from berth.v1 import spec_pb2


def image_id(spec: spec_pb2.ImageSpec, *, runtime: str, layer_id: str) -> str:
    """sha256 (hex) of the deterministically serialized spec, the runtime name and the runtime layer id.

    Each part is length-prefixed so no two different inputs can produce the same byte stream.
    Step order is part of the serialization, so reordering steps makes a different image.
    """
    digest = hashlib.sha256()
    for part in (spec.SerializeToString(deterministic=True), runtime.encode(), layer_id.encode()):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
