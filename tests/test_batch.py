"""Batch scoring of the Adult test file, in Python and through ``lepton predict``."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from lepton_core.cli import main
from lepton_core.core import DataError
from lepton_core.runs import load_bundle, score_table, write_table


@pytest.fixture(scope="module")
def bundle(adult_run, workspace):
    return load_bundle(workspace, adult_run.model_name, adult_run.model_version)


def test_the_adult_test_file_comes_back_scored_and_explained(bundle, adult_test):
    table = adult_test.head(3000)
    calls = []
    scored = score_table(bundle, table, chunk_size=1000, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1000, 3000), (2000, 3000), (3000, 3000)]
    assert list(scored.columns[: table.shape[1]]) == list(table.columns)
    assert len(scored) == len(table)
    features = bundle.input_schema.prepare(table)
    np.testing.assert_array_equal(scored["prediction"], bundle.model.predict(features))
    proba = bundle.model.predict_proba(features).max(axis=1)
    np.testing.assert_allclose(scored["probability"], proba)
    # Accuracy on the labelled test file matches what training measured on it.
    accuracy = (scored["prediction"] == table["Y"]).mean()
    assert accuracy == pytest.approx(0.87, abs=0.02)
    # Reasons name real columns with signed contributions, largest first.
    first = scored.loc[0, ["reason_1", "reason_2", "reason_3"]].tolist()
    names = [r.split("=", 1)[0] for r in first]
    assert set(names) <= set(bundle.input_schema.names) and len(set(names)) == 3
    sizes = [abs(float(r.rsplit("(", 1)[1].rstrip(")"))) for r in first]
    assert sizes == sorted(sizes, reverse=True)


def test_same_schema_checks_as_the_api(bundle, adult_test):
    with pytest.raises(DataError, match="no column 'age'"):
        score_table(bundle, adult_test.head(5).drop(columns=["age"]))
    bad = adult_test.head(5).astype({"age": "object"})
    bad.loc[2, "age"] = "old"
    with pytest.raises(DataError, match="'age' must be a number"):
        score_table(bundle, bad)
    with pytest.raises(DataError, match="no rows"):
        score_table(bundle, adult_test.head(0))


def test_cli_predict_writes_the_scored_file(adult_run, adult_test, tmp_path, capsys):
    data = tmp_path / "in.csv"
    adult_test.head(200).to_csv(data, index=False)
    out = tmp_path / "out.parquet"
    ref = f"{adult_run.model_name}:{adult_run.model_version}"
    assert main(["predict", "--model", ref, "--data", str(data), "--out", str(out)]) == 0
    assert "200 rows scored" in capsys.readouterr().out
    scored = pd.read_parquet(out)
    assert {"prediction", "probability", "reason_1", "reason_3"} <= set(scored.columns)
    assert main(["predict", "--model", "nope", "--data", str(data), "--out", str(out)]) == 2
    assert "no model named 'nope'" in capsys.readouterr().err
    bad_out = tmp_path / "out.xlsx"
    assert main(["predict", "--model", ref, "--data", str(data), "--out", str(bad_out)]) == 2


# -------------------------------------------------- output safety, bad values (issue 14)
ATTACKS = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def _csv_cells(text: str, sep: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))


def test_csv_outputs_escape_formula_cells_but_not_numbers(tmp_path):
    from lepton_core.runs import to_csv

    table = pd.DataFrame(
        {
            "=name": ATTACKS,
            "number": [-1.5, 2, -3, 4, 5, 6],
            "text_number": ["-5", "+1.5e3", "7", ".5", "-inf", "x"],
            "reason_1": ["-x=1 (+0.5)", "@a=b (-0.1)", "a=b (+0.1)", None, "ok", "=1"],
        }
    )
    rows = _csv_cells(to_csv(table))
    assert rows[0] == ["'=name", "number", "text_number", "reason_1"]
    assert [r[0] for r in rows[1:]] == ["'" + a for a in ATTACKS]
    assert [r[1] for r in rows[1:]] == ["-1.5", "2.0", "-3.0", "4.0", "5.0", "6.0"]
    assert [r[2] for r in rows[1:]] == ["-5", "+1.5e3", "7", ".5", "'-inf", "x"]
    assert [r[3] for r in rows[1:]] == [
        "'-x=1 (+0.5)",
        "'@a=b (-0.1)",
        "a=b (+0.1)",
        "",
        "ok",
        "'=1",
    ]
    assert table["=name"].tolist() == ATTACKS  # the caller's table is left as it was
    for name, sep in [("out.csv", ","), ("out.tsv", "\t")]:
        written = write_table(table, tmp_path / name)
        assert _csv_cells(written.read_bytes().decode(), sep) == rows
    # Parquet and JSON Lines are data, not spreadsheets: values stay as they are.
    assert (
        pd.read_parquet(write_table(table, tmp_path / "out.parquet"))["=name"].tolist() == ATTACKS
    )


def test_cli_predict_escapes_formula_cells_in_its_csv(adult_run, adult_test, tmp_path, capsys):
    data = tmp_path / "in.csv"
    table = adult_test.head(4).copy()
    table["workclass"] = ATTACKS[:4]  # tabs and CRs may be trimmed on loading: see above
    table.to_csv(data, index=False)
    out = tmp_path / "out.csv"
    ref = f"{adult_run.model_name}:{adult_run.model_version}"
    assert main(["predict", "--model", ref, "--data", str(data), "--out", str(out)]) == 0
    rows = _csv_cells(out.read_bytes().decode())
    column = rows[0].index("workclass")
    assert [r[column] for r in rows[1:]] == ["'" + a for a in ATTACKS[:4]]
    assert rows[1][rows[0].index("age")] == str(table["age"].iloc[0])


def test_infinite_numbers_in_a_table_are_refused(bundle, adult_test):
    bad = adult_test.head(5).astype({"age": "float64"})
    bad.loc[2, "age"] = np.inf
    with pytest.raises(DataError, match="'age' holds an infinite number"):
        score_table(bundle, bad)
    text = adult_test.head(5).astype({"age": "object"})
    text.loc[2, "age"] = "Infinity"
    with pytest.raises(DataError, match="'age' must be a finite number"):
        score_table(bundle, text)
    # An empty cell is a missing value, as it always was.
    missing = adult_test.head(5).astype({"age": "float64"})
    missing.loc[2, "age"] = np.nan
    assert len(score_table(bundle, missing)) == 5
