"""Copy the demo's measured numbers into README.md, so that they cannot go stale by hand.

  .venv/bin/geor1 demo --out runs/demo && .venv/bin/geor1 demo --quick --out runs/demo-quick
  .venv/bin/python scripts/update_readme.py --demo runs/demo --quick runs/demo-quick

Rewrites the block between <!-- demo:begin --> and <!-- demo:end --> from the runs'
before_after.json (written by geor1 demo): the table with its paired bootstrap intervals, the
settings, the wall times, the date and the machine.
"""

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
BEGIN, END = "<!-- demo:begin -->", "<!-- demo:end -->"


def block(full: dict, quick: dict | None) -> str:
    from geor1.demo import _table

    c = full["config"]
    full = {**full, "machine": full["machine"].replace(" 1 cores available", " 1 core available")}
    lines = [BEGIN, "",
             f"Measured on {full['date']} ({full['machine']}): `geor1 demo`, {c['shots']}-shot × 5 held-out "
             f"categories, {c['test']} test samples, {c['steps']} GRPO steps from `{full['model']}`; "
             f"{full['seconds']:.0f} s in all.", "", _table(full["base"], full["grpo"], full.get("intervals")), ""]
    if quick:
        q = quick["config"]
        lines += [f"`geor1 demo --quick` ({q['shots']}-shot, {q['test']} test samples, {q['steps']} steps) took "
                  f"{quick['seconds']:.0f} s on the same machine.", ""]
    return "\n".join(lines + [END])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--demo", default="runs/demo")
    p.add_argument("--quick", default=None)
    p.add_argument("--readme", default=str(REPO / "README.md"))
    args = p.parse_args(argv)
    full = json.loads((Path(args.demo) / "before_after.json").read_text())
    if full.get("quick"):
        raise SystemExit(f"{args.demo} is a --quick run: the README's table comes from the full demo")
    quick = json.loads((Path(args.quick) / "before_after.json").read_text()) if args.quick else None
    readme = Path(args.readme)
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme} has no {BEGIN} … {END} block")
    new = text[:text.index(BEGIN)] + block(full, quick) + text[text.index(END) + len(END):]
    readme.write_text(new, encoding="utf-8")
    print(block(full, quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
