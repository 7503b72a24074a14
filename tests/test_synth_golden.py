"""GeoSynth's output per seed, pinned: three samples of every builder in both styles, digested
(data.jsonl bytes + decoded pixels, so a PNG encoder's choices do not count). A change here means
every dataset made with the same seed changes: refactors of GeoSynth must keep these; a deliberate
change of the world updates them (and says so in docs/geosynth.md)."""

import hashlib
import importlib.metadata as md

import numpy as np
import pytest
from PIL import Image

from geor1.synth.registry import write

GOLDEN = {
    "rec-A": "dc9acaa8d311aa07", "rec-B": "8f161a53dfdd8293",
    "ovd-A": "501dc99c01c31c1b", "ovd-B": "3cb03a914de6e850",
    "gres-A": "5278a16e0b291953", "gres-B": "6fee410f5ac4d496",
    "counting-A": "c83fa17d85c8c6e1", "counting-B": "0070d5d99e726426",
    "crossview-A": "6ee77f1e7c0caba5", "crossview-B": "e959345b6aad73f6",  # B: the one sensor (2026-12-05)
    "geoloc-A": "0e488a42bcec52e3", "geoloc-B": "a1995037809c2d6f",
}


def digest(folder) -> str:
    h = hashlib.sha256((folder / "data.jsonl").read_bytes())
    for p in sorted((folder / "images").rglob("*.png")):
        with Image.open(p) as im:
            h.update(np.asarray(im.convert("RGB")).tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("key", GOLDEN)
def test_geosynth_output_per_seed_is_pinned(key, tmp_path):
    task, style = key.rsplit("-", 1)
    write(task, tmp_path, 3, seed=7, size=96 if task in ("crossview", "geoloc") else 160, style=style)
    versions = ", ".join(f"{p} {md.version(p)}" for p in ("numpy", "numba", "pillow"))
    assert digest(tmp_path) == GOLDEN[key], f"GeoSynth {key} changed ({versions})"
