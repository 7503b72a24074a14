"""What a user meets on bad input: one line on stderr naming the file, line, field or flag, a
non-zero exit, no traceback (``--debug`` shows it), and no output folder from a run that never
started. Each case below was a traceback before."""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import time

import pytest
from PIL import Image

from geor1.cli import COMMANDS, main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    Image.new("RGB", (64, 64), (90, 90, 90)).save(root / "a.png")
    rec = dict(id="r0", task="rec", images=["a.png"], width=64, height=64, query="the square", category="square",
               boxes=[[4, 4, 20, 20]], labels=["square"])
    (root / "data.jsonl").write_text(json.dumps(rec) + "\n")
    return root


def one_line_error(capsys, rc, prefix):
    err = capsys.readouterr().err.strip()
    assert rc != 0, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith(prefix), err
    return err


@pytest.mark.parametrize("args, says", [
    (["eval", "--data", "{missing}", "--out", "{out}"], "no data.jsonl in dataset folder"),
    (["eval", "--data", "{bad}", "--out", "{out}"], "data.jsonl:2: not valid JSON"),
    (["eval", "--data", "{data}", "--out", "{out}", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["eval", "--data", "{data}", "--out", "{out}", "--limit", "-1"], "--limit must be at least 0"),
    (["eval", "--model", "tiny-geosnyth", "--data", "{data}", "--out", "{out}"], "did you mean 'tiny-geosynth'?"),
    (["predict", "--task", "rec", "--image", "{data}/a.png"], "--task rec needs --query"),
    (["predict", "--task", "geoloc", "--image", "{data}/none.png"], "--image/--candidates: no image at"),
    (["train", "grpo", "tiny/grpo_rec", "--set", "trainer.max_stpes=2"], "did you mean 'trainer.max_steps'?"),
    (["train", "grpo", "tiny/grpo_rcc"], "no recipe file 'tiny/grpo_rcc'"),
    (["pretrain", "tiny/pretrain_vision", "--set", "stpes=1"], "did you mean 'steps'?"),
])
def test_bad_input_is_one_line_and_leaves_nothing(args, says, data, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes((data / "a.png").read_bytes())
    (bad / "data.jsonl").write_text((data / "data.jsonl").read_text() + "{not json\n")
    fill = {"missing": tmp_path / "missing", "bad": bad, "data": data, "out": tmp_path / "out"}
    t = time.time()
    rc = main([a.format(**fill) for a in args])
    err = one_line_error(capsys, rc, f"geor1 {args[0]}: ")
    assert says in err
    assert not (tmp_path / "out").exists()  # nothing left behind by a run that never started
    assert time.time() - t < 20  # an unknown model name fails at once, not after the hub's retries


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        main(["--debug", "predict", "--task", "geoloc", "--image", str(tmp_path / "none.png")])


@pytest.mark.parametrize("name, says", [("a\0b.png", "NUL character"), ("x" * 300 + ".png", "304 bytes long")])
def test_validate_names_impossible_image_paths(name, says, tmp_path, capsys):
    rec = dict(id="r0", task="rec", images=[name], width=64, height=64, query="q", category="c", boxes=[[1, 1, 2, 2]],
               labels=["c"])
    (tmp_path / "data.jsonl").write_text(json.dumps(rec) + "\n")
    rc = main(["validate", str(tmp_path)])
    out = capsys.readouterr()
    text = (out.out + out.err).strip()
    assert rc != 0 and "Traceback" not in text and says in text and "data.jsonl:1" in text, text


def test_a_latin1_im2gps_csv_is_read_with_a_warning(tmp_path, caplog):
    from test_converters_crossview import IM2GPS_HEADER, image

    from geor1.data import load_dataset
    from geor1.data.converters import get_converter

    src = tmp_path / "src"
    image(src / "im2gps3ktest" / "1.jpg", size=(40, 30))
    row = "1.jpg,Jos\xe9@N00,40.8,-73.9,2,14,364,0.01,0.01,0.97"  # é in Latin-1
    (src / "im2gps3k_places365.csv").write_bytes((IM2GPS_HEADER + "\n" + row + "\n").encode("latin-1"))
    with caplog.at_level("WARNING"):
        assert get_converter("im2gps3k")(src, tmp_path / "out") == 1
    assert "im2gps3k_places365.csv:2: not UTF-8 (byte 0xe9); reading the file as Latin-1" in caplog.text
    assert load_dataset(tmp_path / "out")[0].meta["author"] == "José@N00"


def test_set_takes_several_overrides():
    from geor1.train.recipe import load_recipe

    parser = argparse.ArgumentParser()
    importlib.import_module("geor1.train.cli").add_arguments(parser)
    args = parser.parse_args(["grpo", "tiny/grpo_rec", "--set", "trainer.max_steps=3", "data.think=true"])
    recipe = load_recipe(args.recipe, [o for group in args.overrides for o in group])
    assert recipe.trainer["max_steps"] == 3 and recipe.data.think is True


PLACEHOLDERS = {"FORMAT", "SRC", "DIR", "DATA", "SPLIT", "S", "RECIPE", "KEY=VALUE", "OUT", "MODEL"}


def _examples():
    """Every ``geor1 …`` example line of every command's help text (continuation lines joined;
    synopsis lines, with ``[optional]`` parts or placeholders, left out)."""
    for name, (module, _) in COMMANDS.items():
        doc = (importlib.import_module(module).__doc__ or "").replace("\\\n", " ")
        for line in doc.splitlines():
            line = line.strip().split("  #")[0].strip()
            if not line.startswith(f"geor1 {name} ") or "[" in line or "..." in line or "…" in line:
                continue
            if PLACEHOLDERS & set(line.split()):
                continue
            yield name, module, line


@pytest.mark.parametrize("name, module, line", list(_examples()), ids=lambda v: v if isinstance(v, str) else "")
def test_help_examples_parse_and_name_real_recipes(name, module, line):
    """The examples in --help parse with the command's own parser, and the recipes they name exist."""
    from geor1.train.recipe import resolve_recipe

    words = shlex.split(line)[2:]
    parser = argparse.ArgumentParser(exit_on_error=False)
    importlib.import_module(module).add_arguments(parser)
    args = parser.parse_args(words)
    recipe = getattr(args, "recipe", None)
    if recipe and not recipe.endswith(".yaml"):
        resolve_recipe(recipe)
