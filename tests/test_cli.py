"""The command line: --json results, and one clear sentence with exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from lepton_core.cli import main


def _run(*args: str, workspace) -> tuple[int, dict | None, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "lepton_core", "--workspace", str(workspace.root), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = json.loads(proc.stdout) if proc.returncode == 0 and "--json" in args else None
    return proc.returncode, out, proc.stderr


def test_train_json(adult_csv, workspace):
    code, out, err = _run(
        "train",
        "--data",
        str(adult_csv),
        "--target",
        "Y",
        "--sensitive",
        "sex",
        "--model",
        "tree",
        "--json",
        workspace=workspace,
    )
    assert code == 0, err
    assert out["family"] == "tree" and out["model_version"] >= 1
    assert out["fairness"][0]["attribute"] == "sex"
    assert 0.7 < out["evaluation"]["metrics"]["accuracy"] <= 1


def test_profile_audit_explain(adult_csv, adult_run, workspace, tmp_path, capsys):
    assert main(["profile", "--data", str(adult_csv), "--json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert profile["suggestions"]["target"] == "Y" and profile["n_rows"] == 3000

    preds = tmp_path / "preds.csv"
    import pandas as pd

    df = pd.read_csv(adult_csv)
    df["pred"] = df["Y"].where(df.index % 7 != 0, "<=50K")
    df.to_csv(preds, index=False)
    assert (
        main(
            [
                "audit",
                "--data",
                str(preds),
                "--label",
                "Y",
                "--prediction",
                "pred",
                "--sensitive",
                "sex",
                "--json",
            ]
        )
        == 0
    )
    audit = json.loads(capsys.readouterr().out)
    assert audit["n_rows"] == 3000 and audit["fairness"][0]["attribute"] == "sex"

    ref = f"{adult_run.model_name}:{adult_run.model_version}"
    assert (
        main(
            [
                "--workspace",
                str(workspace.root),
                "explain",
                "--model",
                ref,
                "--data",
                str(adult_csv),
                "--rows",
                "20",
                "--json",
            ]
        )
        == 0
    )
    expl = json.loads(capsys.readouterr().out)
    assert len(expl["values"]) == 20 and "age" in expl["feature_names"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["profile", "--data", "/no/such/file.csv"], "no/such/file.csv"),
        (["explain", "--model", "nope:1", "--data", "x.csv"], "no model named 'nope'"),
        (["train", "--data", "sample:nope"], "nope"),
        (["compress", "--model", "nope:1"], "no model named 'nope'"),
    ],
)
def test_bad_input_exits_2_with_one_sentence(args, message, workspace):
    code, _, err = _run(*args, workspace=workspace)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_train_without_model_picks_the_datas_default_family(tmp_path, workspace):
    """Free text alone gets the text default (n-grams); a table gets LightGBM."""
    from tests.conftest import SAMPLES

    texts = tmp_path / "reviews.csv"
    pd.read_parquet(SAMPLES / "sst2_train.parquet").sample(400, random_state=0).to_csv(
        texts, index=False
    )
    code, out, err = _run("train", "--data", str(texts), "--json", workspace=workspace)
    assert code == 0, err
    assert out["family"] == "ngram"
