"""Cross-view question building at CV-Cities scale: hard distractors (same city, within 1 km) for
N pairs in one city, against a brute-force per-question scan of the whole pool (the obvious way).

  python benchmarks/bench_questions.py [--n 8000]
"""
import argparse
import time

import numpy as np

from geor1.data.questions import Pair, build_questions
from geor1.geo import haversine_km


def brute_force(pairs, k, radius_km, seed):
    rng = np.random.default_rng(seed)
    lat = np.array([p.candidate_gps[0] for p in pairs])
    lon = np.array([p.candidate_gps[1] for p in pairs])
    out = []
    for i in range(len(pairs)):
        d = haversine_km(lat[i], lon[i], lat, lon)
        near = np.flatnonzero((d <= radius_km) & (d > 0.1))
        out.append(rng.choice(near, size=min(k - 1, len(near)), replace=False))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    lat = 41.38 + rng.uniform(-0.1, 0.1, args.n)
    lon = 2.17 + rng.uniform(-0.1, 0.1, args.n)
    pairs = [Pair(id=str(i), query=f"g{i}", candidate=f"a{i}", query_gps=(a, b), candidate_gps=(a, b),
                  query_size=(1, 1), city="bcn") for i, (a, b) in enumerate(zip(lat, lon))]
    t = time.perf_counter()
    qs = build_questions(pairs, 4, radius_km=1.0, seed=0)
    ours = time.perf_counter() - t
    t = time.perf_counter()
    brute_force(pairs, 4, 1.0, 0)
    brute = time.perf_counter() - t
    hard = sum(q.meta["difficulty"] == "hard" for q in qs)
    print(f"{args.n} pairs in one city: build_questions {ours:.2f} s ({hard} hard), "
          f"brute-force scan {brute:.2f} s, ratio {brute / ours:.1f}x")


if __name__ == "__main__":
    main()
