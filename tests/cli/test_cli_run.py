"""The `bnlab` command line: types, run, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from experiments import catalog
from service.cli import main


def test_types_lists_all_eleven(capsys):
    assert main(["types", "--json"]) == 0
    types = json.loads(capsys.readouterr().out)["types"]
    assert [t["id"] for t in types] == catalog.ids()
    assert len(types) == 11
    ready = {t["id"] for t in types if t["status"] == "ready"}
    assert "small_batch_statistics" in ready
    for t in types:
        if t["status"] == "ready":
            assert {"params", "presets"} <= set(t)
            assert set(t["presets"]) == {"smoke", "quick", "full"}


def test_run_writes_result_and_figures(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "small_batch_statistics", "--preset", "smoke", "--device", "cpu",
                 "--seeds", "2", "--set", "batch_sizes=4,16", "--set", "arms=batchnorm,ewa_forward",
                 "--out", str(out)])
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    assert result["params"]["batch_sizes"] == [4, 16]
    assert result["params"]["seeds"] == 2
    for fig in result["figures"]:
        assert (out / fig["file"]).exists()
    assert result["answer"] in capsys.readouterr().out


@pytest.mark.parametrize(("args", "words"), [
    (["run", "no_such_type"], "valid: gamma_beta_undo"),
    (["run", "small_batch_statistics", "--preset", "huge"], "valid: smoke, quick, full"),
    (["run", "small_batch_statistics", "--set", "epochs=0"], "epochs"),
    (["run", "small_batch_statistics", "--set", "colour=blue"], "unknown parameter"),
    (["run", "small_batch_statistics", "--set", "oops"], "KEY=VALUE"),
])
def test_bad_input_exits_non_zero_with_one_line(args, words, tmp_path):
    check_one_line_error(args, words, tmp_path)


def test_types_lists_every_catalog_type_as_ready():
    proc = subprocess.run([sys.executable, "-m", "service.cli", "types", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    listed = listed["types"] if isinstance(listed, dict) else listed
    assert [t["id"] for t in listed] == catalog.ids()
    assert {t["status"] for t in listed} == {"ready"}


def check_one_line_error(args, words, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "service.cli", *args, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert words in lines[0]
