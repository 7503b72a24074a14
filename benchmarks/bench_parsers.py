"""The full parser fuzz: 100,000 generated completions (up to 2,048 structural tokens each: tags,
brackets, quotes, digits, 1e999, keywords) through every task's score(). CI runs a few thousand of
the same strings (tests/test_parser_robustness.py); this is the full run.

  .venv/bin/python benchmarks/bench_parsers.py            # 100,000 strings, a few minutes on 2 cores
  .venv/bin/python benchmarks/bench_parsers.py 20000
"""

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
n = sys.argv[1] if len(sys.argv) > 1 else "100000"
t0 = time.time()
rc = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "fuzz",
                      "tests/test_parser_robustness.py"], cwd=REPO, env={**os.environ, "GEOR1_FUZZ_EXAMPLES": n})
print(f"{n} fuzzed completions over 5 tasks: {'no failure' if rc == 0 else 'FAILED'} in {time.time() - t0:.0f} s")
sys.exit(rc)
