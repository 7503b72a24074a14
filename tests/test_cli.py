import subprocess
import sys
from pathlib import Path

from geor1.cli import COMMANDS, available_commands, main


def test_help_lists_available_subcommands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "model" in out and "inspect or build the built-in tiny model" in out
    assert main([]) == 0


def test_geor1_help_console_script():
    exe = Path(sys.executable).parent / "geor1"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for name in available_commands():
        assert name in out.stdout
    assert "model" in out.stdout


def test_every_available_command_module_has_the_contract():
    import importlib

    for name, (module, _) in available_commands().items():
        m = importlib.import_module(module)
        assert callable(m.add_arguments) and callable(m.run), name
    assert set(available_commands()) <= set(COMMANDS)


def test_model_info(capsys):
    assert main(["model", "info", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "family       qwen2.5-vl (qwen2_5_vl" in out and "answers in 224x224" in out
    assert "patch size   14 px" in out


def test_unknown_command_is_an_error(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err
