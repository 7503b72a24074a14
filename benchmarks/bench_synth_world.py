"""GeoSynth planet speed: crossview and geoloc samples per second at the default size.

    python benchmarks/bench_synth_world.py [--n 12] [--size 256] [--seed 0]

Makes N samples of each planet task in memory and writes their PNGs (as ``write_crossview`` /
``write_geoloc`` do, into memory), and prints samples per second, plus where a crossview
sample's time goes (layouts, aerial tiles, panoramas, PNG encoding). A crossview sample is one
panorama (2·size × size) and K = 4 aerial tiles (size × size), each from its own layout; a geoloc
sample is one image. Times are CPU seconds of this process (``time.process_time``), steadier than
wall time on a shared machine; one core. Target: >= 20 crossview samples/s.

Measured (2-vCPU shared AMD EPYC VM, load average ~6 from other jobs, size 256, n 20): crossview
8.2/s (about 125 ms of CPU: layouts 21, four aerial tiles 39, the panorama 38, PNG 23, evidence and
sampling the rest), crossview reverse 5.7/s (four panoramas), geoloc ground 20/s, geoloc aerial 53/s.
That is below the 20/s aim (not measured on an idle machine; none was available).
"""

from __future__ import annotations

import argparse
import io
import time

from geor1.synth import crossview as cv
from geor1.synth import ground


def _encode(images) -> None:
    for im in images:
        im.save(io.BytesIO(), format="PNG", compress_level=cv.PNG_COMPRESS_LEVEL)


def rate(make, n: int) -> float:
    """Samples per CPU second of ``make(i) -> (sample, images)`` including PNG encoding."""
    make(10_000)  # warm the gazetteer and caches outside the timing
    start = time.process_time()
    for i in range(n):
        _encode(make(i)[1])
    return n / (time.process_time() - start)


def crossview_breakdown(n: int, size: int, seed: int) -> dict[str, float]:
    """Mean CPU milliseconds per crossview sample spent in each stage."""
    spent: dict[str, float] = {}
    originals = {name: getattr(ground, name) for name in ("layout_at", "render_aerial", "render_panorama")}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t = time.process_time()
            out = fn(*args, **kwargs)
            spent[name] = spent.get(name, 0.0) + time.process_time() - t
            return out
        return wrapper

    try:
        for name, fn in originals.items():
            setattr(ground, name, timed(name, fn))
        start = time.process_time()
        for i in range(n):
            images = cv.make_crossview_sample(cv.sample_rng(seed, "crossview", i), size=size)[1]
            t = time.process_time()
            _encode(images)
            spent["png"] = spent.get("png", 0.0) + time.process_time() - t
        spent["total"] = time.process_time() - start
    finally:
        for name, fn in originals.items():
            setattr(ground, name, fn)
    return {k: 1000 * v / n for k, v in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n, size, seed = args.n, args.size, args.seed
    tasks = {
        "crossview": lambda i: cv.make_crossview_sample(cv.sample_rng(seed, "crossview", i), size=size),
        "crossview reverse": lambda i: cv.make_crossview_sample(cv.sample_rng(seed, "crossview", i),
                                                                size=size, reverse=True),
        "geoloc ground": lambda i: cv.make_geoloc_sample(cv.sample_rng(seed, "geoloc", i), size=size),
        "geoloc aerial": lambda i: cv.make_geoloc_sample(cv.sample_rng(seed, "geoloc", i), size=size,
                                                         view="aerial"),
    }
    print(f"GeoSynth planet, size {size}, {n} samples per task, CPU time of one process")
    for name, make in tasks.items():
        print(f"  {name:18s} {rate(make, n):6.1f} samples/s")
    parts = crossview_breakdown(n, size, seed + 1)  # other places than above: no warm block caches
    print("  crossview, ms per sample: " + ", ".join(f"{k} {v:.0f}" for k, v in parts.items()))


if __name__ == "__main__":
    main()
