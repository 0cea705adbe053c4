"""Tests of lepton_core.data (load, schema, suggestions, checks, profile, split) and its plots."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from lepton_core.core import DataError
from lepton_core.data import (
    MAX_CLASSES,
    Action,
    DataProfile,
    InputField,
    InputSchema,
    Schema,
    anonymise,
    check_sensitive,
    check_target,
    fingerprint,
    infer_schema,
    infer_task,
    load_table,
    prepare_features,
    profile_table,
    read_table,
    split_table,
    suggest_sensitive,
    suggest_target,
)
from lepton_core.plots import (
    class_balance_figure,
    column_distribution_figure,
    missing_values_figure,
)
from lepton_core.workspace import Workspace, confirm_dataset

ROOT = Path(__file__).resolve().parents[1]
SHARED_ADULT = ROOT.parent / "shared" / "data" / "adult"
SIMPLE = pd.DataFrame(
    {"name": ["ann", "bob", "cy"], "age": [31, 42, 27], "score": [1.5, 2.0, 3.25]}
)


def _write(tmp_path: Path, name: str, content: bytes | str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def _assert_simple(df: pd.DataFrame) -> None:
    assert list(df.columns) == ["name", "age", "score"]
    assert df["name"].tolist() == ["ann", "bob", "cy"]
    assert df["age"].tolist() == [31, 42, 27]
    assert df["score"].tolist() == [1.5, 2.0, 3.25]


def _simple_bytes(fmt: str) -> bytes:
    if fmt == "csv":
        return SIMPLE.to_csv(index=False).encode()
    if fmt == "tsv":
        return SIMPLE.to_csv(index=False, sep="\t").encode()
    if fmt == "parquet":
        buffer = io.BytesIO()
        SIMPLE.to_parquet(buffer, index=False)
        return buffer.getvalue()
    if fmt == "jsonl":
        return SIMPLE.to_json(orient="records", lines=True).encode()
    if fmt == "json":
        return SIMPLE.to_json(orient="records").encode()
    raise AssertionError(fmt)


# --------------------------------------------------------------------------- formats

FORMATS = [("csv", "csv"), ("tsv", "tsv"), ("txt", "csv"), ("parquet", "parquet")]
FORMATS += [("jsonl", "jsonl"), ("json", "json")]


@pytest.mark.parametrize(("ext", "fmt"), FORMATS)
def test_load_every_format_from_path(tmp_path, ext, fmt):
    _assert_simple(load_table(_write(tmp_path, f"table.{ext}", _simple_bytes(fmt))))


@pytest.mark.parametrize(("ext", "fmt"), FORMATS)
def test_load_every_format_from_bytes_with_filename(ext, fmt):
    _assert_simple(load_table(_simple_bytes(fmt), filename=f"upload.{ext}"))


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet", "jsonl", "json"])
def test_load_sniffs_format_without_a_name(fmt):
    _assert_simple(load_table(_simple_bytes(fmt)))


def test_load_accepts_pathlike_and_str(tmp_path):
    path = _write(tmp_path, "t.csv", _simple_bytes("csv"))
    _assert_simple(load_table(str(path)))
    _assert_simple(load_table(path))


def test_load_json_column_dict_and_json_lines_named_json():
    _assert_simple(load_table(SIMPLE.to_json(orient="columns").encode(), filename="t.json"))
    _assert_simple(load_table(_simple_bytes("jsonl"), filename="t.json"))


def test_load_json_nested_values_become_json_text():
    rows = [{"a": 1, "tags": ["x", "y"], "meta": {"k": 1}}, {"a": 2, "tags": [], "meta": None}]
    text = "\n".join(json.dumps(r) for r in rows).encode()
    df = load_table(text, filename="t.jsonl")
    assert df["tags"].tolist() == ['["x", "y"]', "[]"]
    assert df["meta"].iloc[0] == '{"k": 1}'
    fingerprint(df)  # unhashable cells would crash hashing
    infer_schema(df)


def test_parquet_with_named_index_keeps_it_as_a_column(tmp_path):
    frame = SIMPLE.set_index("name")
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    _assert_simple(load_table(path))


def test_parquet_bytes_win_over_a_wrong_extension():
    _assert_simple(load_table(_simple_bytes("parquet"), filename="oops.csv"))


# --------------------------------------------------------------------------- delimited text


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiter_is_detected(sep):
    text = sep.join(["id", "city", "note"]) + "\n"
    others = "".join(d for d in ",;|" if d != sep)
    for i in range(6):
        text += sep.join([str(i), f"town{i}", f'"a{others}b {i}"']) + "\n"
    df = load_table(text.encode(), filename="t.csv")
    assert list(df.columns) == ["id", "city", "note"]
    assert df["note"].iloc[0] == f"a{others}b 0"
    assert len(df) == 6


def test_delimiter_detected_when_commas_fill_text_in_a_tsv():
    text = "label\tsentence\n" + "".join(f"{i % 2}\tone, two, three, {i}\n" for i in range(30))
    df = load_table(text.encode(), filename="reviews.tsv")
    assert list(df.columns) == ["label", "sentence"]
    assert df["sentence"].iloc[3] == "one, two, three, 3"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252", "utf-16-le"])
def test_encodings(tmp_path, encoding):
    text = "name,city\nZoë,Montréal\nJosé,São Paulo\n"
    df = load_table(_write(tmp_path, "t.csv", text, encoding))
    assert list(df.columns) == ["name", "city"]
    assert df["name"].tolist() == ["Zoë", "José"]
    assert df["city"].tolist() == ["Montréal", "São Paulo"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_ends(newline):
    text = newline.join(["a,b", "1,x", "2,y", ""])
    df = load_table(text.encode(), filename="t.csv")
    assert df["a"].tolist() == [1, 2]
    assert df["b"].tolist() == ["x", "y"]


def test_quoted_newlines_stay_inside_the_value():
    text = 'id,comment\n1,"first line\nsecond line"\n2,plain\n'
    df = load_table(text.encode(), filename="t.csv")
    assert len(df) == 2
    assert df["comment"].iloc[0] == "first line\nsecond line"


def test_adult_style_comma_space_and_question_mark_missing():
    text = (
        "age, workclass, sex, Y\n39, State-gov, Male, <=50K\n50, ?, Female, >50K\n"
        "?, Private, ,>50K\n"
    )
    df = load_table(text.encode(), filename="adult.csv")
    assert list(df.columns) == ["age", "workclass", "sex", "Y"]
    assert df["workclass"].iloc[0] == "State-gov"
    assert pd.isna(df["workclass"].iloc[1])
    assert pd.isna(df["age"].iloc[2]) and df["age"].iloc[0] == 39
    assert pd.isna(df["sex"].iloc[2])


@pytest.mark.skipif(not SHARED_ADULT.exists(), reason="reference data folder not present")
def test_raw_adult_file_loads_like_the_parquet_sample(adult_train):
    pd.testing.assert_frame_equal(load_table(SHARED_ADULT / "adult.data"), adult_train)


def test_semicolon_with_decimal_commas_parses_numbers():
    text = "price;weight;city\n1,5;10,25;Lyon\n2,75;3;Nice\n1.234,5;0,5;Paris\n"
    df = load_table(text.encode(), filename="t.csv")
    assert df["price"].dtype == "float64"
    assert df["price"].tolist() == [1.5, 2.75, 1234.5]
    assert df["weight"].tolist() == [10.25, 3.0, 0.5]


def test_excel_sep_line_names_the_delimiter():
    df = load_table(b"sep=;\r\na;b\r\n1,5;x\r\n", filename="t.csv")
    assert list(df.columns) == ["a", "b"]
    assert df["a"].tolist() == [1.5]


def test_semicolon_with_decimal_points_is_left_alone():
    df = load_table(b"a;b\n1.5;x\n2.5;y\n", filename="t.csv")
    assert df["a"].tolist() == [1.5, 2.5]


def test_column_names_are_stripped_and_made_unique():
    df = load_table(b" a ,b,a, b\n1,2,3,4\n", filename="t.csv")
    assert list(df.columns) == ["a", "b", "a.1", "b.1"]
    assert df.iloc[0].tolist() == [1, 2, 3, 4]


def test_trailing_delimiter_column_is_dropped():
    df = load_table(b"a,b,\n1,2,\n3,4,\n", filename="t.csv")
    assert list(df.columns) == ["a", "b"]


def test_a_single_data_row_loads():
    df = load_table(b"a,b\n1,x\n", filename="t.csv")
    assert df.shape == (1, 2)


def test_a_single_column_loads():
    df = load_table(b"value\n1\n2\n3\n", filename="t.csv")
    assert df["value"].tolist() == [1, 2, 3]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("content", [b"", b"  \n\r\n  ", "\ufeff".encode()])
def test_empty_file(content):
    with pytest.raises(DataError, match=r"The file is empty; upload a file with a header row"):
        load_table(content, filename="t.csv")


@pytest.mark.parametrize(
    ("content", "name"),
    [(b"a,b,c\n", "t.csv"), (b"a,b\r\n\r\n", "t.csv"), (pd.DataFrame({"a": []}), "t.parquet")],
)
def test_header_only(content, name):
    if isinstance(content, pd.DataFrame):
        buffer = io.BytesIO()
        content.to_parquet(buffer)
        content = buffer.getvalue()
    with pytest.raises(DataError, match=r"has a header but no data rows; add at least one row"):
        load_table(content, filename=name)


def test_binary_file_renamed_csv():
    data = bytes(range(256)) * 8
    with pytest.raises(DataError, match=r"looks binary, not like a text table; upload a CSV"):
        load_table(data, filename="t.csv")


def test_gzip_of_a_csv_is_read(tmp_path):
    path = _write(tmp_path, "t.csv.gz", gzip.compress(b"a,b\n1,2\n"))
    df, fmt = read_table(path)
    assert df.to_dict("list") == {"a": [1], "b": [2]}
    assert fmt.member == "t.csv" and fmt.delimiter == ","
    assert load_table(gzip.compress(b"a,b\n1,2\n")).shape == (1, 2)  # no name: content decides
    with pytest.raises(DataError, match=r"gzip-compressed, not a table; decompress it"):
        load_table(gzip.compress(b"a,b\n1,2\n"), filename="t.csv")


def test_bzip2_is_still_refused():
    import bz2

    with pytest.raises(DataError, match=r"bzip2-compressed, not a table; decompress it"):
        load_table(bz2.compress(b"a,b\n1,2\n"), filename="t.csv")


def test_zip_holding_one_csv_is_read_and_a_plain_zip_named_xlsx_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("t.csv", "a,b\n1,2\n")
    df, fmt = read_table(buffer.getvalue(), filename="t.csv")
    assert df.to_dict("list") == {"a": [1], "b": [2]}
    assert fmt.member == "t.csv"
    with pytest.raises(DataError, match=r"named like an Excel workbook but is a plain zip"):
        load_table(buffer.getvalue(), filename="book.xlsx")


def test_not_a_parquet_file():
    with pytest.raises(DataError, match=r"named like a Parquet file but is not one"):
        load_table(b"a,b\n1,2\n", filename="t.parquet")
    with pytest.raises(DataError, match=r"Parquet file could not be read"):
        load_table(b"PAR1 but then garbage", filename="t.parquet")


def test_ragged_rows_name_the_line():
    text = b"a,b\n1,2\n3,4,5\n6,7\n"
    with pytest.raises(DataError, match=r"^Line 3 has 3 values but the header has 2 columns; fix"):
        load_table(text, filename="t.csv")


def test_every_row_longer_than_the_header():
    with pytest.raises(DataError, match=r"more values than the header has column names"):
        load_table(b"a,b\n1,2,3\n4,5,6\n", filename="t.csv")


def test_unclosed_quote():
    with pytest.raises(DataError, match=r"quoted value is never closed"):
        load_table(b'a,b\n1,"open\n2,3\n', filename="t.csv")


def test_file_over_the_upload_limit(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("wb") as handle:  # sparse: costs no disk or memory
        handle.truncate(250 * 2**20)
    message = (
        r"^The file is 250 MB, over the 200 MB upload limit; upload a smaller sample or a "
        r"Parquet file$"
    )
    with pytest.raises(DataError, match=message):
        load_table(path, max_bytes=200 * 2**20)
    with pytest.raises(DataError, match=r"The file is 2 KB, over the 1 KB upload limit"):
        load_table(b"x" * 2048, filename="t.csv", max_bytes=1024)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"does not exist; check the path"):
        load_table(tmp_path / "nope.csv")


def test_invalid_jsonl_names_the_line():
    text = b'{"a": 1}\n{"a": 2,,}\n'
    with pytest.raises(DataError, match=r"^Line 2 of the JSON Lines file is not valid JSON"):
        load_table(text, filename="t.jsonl")
    with pytest.raises(DataError, match=r"^Line 1 of the JSON Lines file is not a JSON object"):
        load_table(b"[1, 2]\n", filename="t.jsonl")


def test_invalid_json():
    with pytest.raises(DataError, match=r"The JSON file is not valid \(line 1"):
        load_table(b'[{"a": 1},', filename="t.json")
    with pytest.raises(DataError, match=r"must hold a list of objects"):
        load_table(b"[1, 2, 3]", filename="t.json")


def test_bad_source_type():
    with pytest.raises(TypeError):
        load_table(123)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- schema


def _kinds_frame() -> pd.DataFrame:
    n = 40
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "height": rng.normal(170, 10, n),
            "children": rng.integers(0, 4, n),
            "smoker01": rng.integers(0, 2, n),  # 0/1 numbers stay numeric
            "flag": rng.integers(0, 2, n).astype(bool),
            "answer": pd.Series(rng.choice(["Yes", "No"], n), dtype="str"),
            "bit": pd.Series(rng.choice(["0", "1"], n), dtype="str"),
            "color": pd.Series(rng.choice(["red", "green", "blue"], n), dtype="str"),
            "code": pd.Series(rng.choice(["1", "2"], n), dtype="str"),
            "joined": pd.Series([f"2021-03-{i % 28 + 1:02d}" for i in range(n)], dtype="str"),
            "stamp": pd.date_range("2020-01-01", periods=n, freq="h"),
            "review": pd.Series(
                [f"This product number {i} was really quite good overall" for i in range(n)],
                dtype="str",
            ),
            "email": pd.Series([f"user{i}@example.com" for i in range(n)], dtype="str"),
            "customer_id": np.arange(1000, 1000 + n),
            "row": np.arange(n),
            "ticket": pd.Series([f"T-{i:05d}" for i in range(n)], dtype="str"),
            "amount_text": pd.Series([f"{i * 1.5:.2f}" for i in range(n)], dtype="str"),
        }
    )


EXPECTED_KINDS = {
    "height": "numeric",
    "children": "numeric",
    "smoker01": "numeric",
    "flag": "boolean",
    "answer": "boolean",
    "bit": "boolean",
    "color": "categorical",
    "code": "categorical",
    "joined": "datetime",
    "stamp": "datetime",
    "review": "text",
    "email": "identifier",
    "customer_id": "identifier",
    "row": "identifier",
    "ticket": "identifier",
    "amount_text": "numeric",
}


def test_schema_kinds_on_a_hand_made_frame():
    schema = infer_schema(_kinds_frame())
    assert {c.name: c.kind for c in schema.columns} == EXPECTED_KINDS


def test_schema_fields_and_methods():
    df = _kinds_frame()
    df.loc[:9, "color"] = np.nan
    schema = infer_schema(df)
    color = schema.columns[schema.names().index("color")]
    assert color.missing_share == pytest.approx(0.25)
    assert color.distinct == 3
    assert color.dtype == "str"
    assert schema.names() == list(df.columns)
    assert schema.kind("review") == "text"
    with pytest.raises(ValueError, match="unknown column"):
        schema.kind("nope")
    features = schema.feature_columns("height")
    assert "height" not in features
    assert not {"review", "email", "customer_id", "row", "ticket"} & set(features)
    assert {"children", "flag", "color", "joined", "stamp"} <= set(features)
    assert Schema.from_json(schema.to_json()) == schema


def test_schema_on_adult(adult_small):
    kinds = {c.name: c.kind for c in infer_schema(adult_small).columns}
    assert kinds["age"] == "numeric"
    assert kinds["sex"] == "categorical"
    assert kinds["Y"] == "categorical"
    assert kinds["native-country"] == "categorical"


def test_dates_day_first_and_with_offsets():
    df = pd.DataFrame(
        {
            "eu": ["01/02/2021", "13/02/2021"] * 15,
            "us": ["01/02/2021", "12/31/2021"] * 15,
            "iso": ["2021-01-01T10:00:00+01:00", "2021-01-02T10:00:00+02:00"] * 15,
            "words": ["Jan 5, 2021", "March 3 2020"] * 15,
        }
    )
    schema = infer_schema(df)
    assert {c.kind for c in schema.columns} == {"datetime"}
    days = prepare_features(df, schema, None).iloc[0:2]
    epoch = pd.Timestamp("1970-01-01")
    assert days["eu"].tolist() == [(pd.Timestamp(f"2021-02-{d}") - epoch).days for d in (1, 13)]
    assert days["us"].tolist() == [
        (pd.Timestamp(d) - epoch).days for d in ("2021-01-02", "2021-12-31")
    ]
    assert days["iso"].iloc[0] == pytest.approx(
        (pd.Timestamp("2021-01-01 09:00") - epoch).days + 9 / 24
    )
    assert days["words"].iloc[1] == (pd.Timestamp("2020-03-03") - epoch).days


def test_frames_with_non_string_column_labels():
    df = pd.DataFrame({0: ["a", "b"] * 10, 1: range(20), "Y": [0, 1] * 10})
    profile = profile_table(df)
    assert profile.schema.names() == ["0", "1", "Y"]
    assert list(prepare_features(df, profile.schema, "Y").columns) == ["0"]


def test_all_missing_and_empty_columns_do_not_crash():
    df = pd.DataFrame({"a": [np.nan] * 5, "b": pd.Series([None] * 5, dtype="str"), "c": range(5)})
    kinds = {c.name: c.kind for c in infer_schema(df).columns}
    assert kinds["a"] == "numeric" and kinds["b"] == "categorical"
    assert infer_schema(df.iloc[:0]).columns[0].missing_share == 0.0


@pytest.fixture(scope="module")
def wide_strings() -> pd.DataFrame:
    n = 100_000
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "user": pd.Series([f"user-{i:06d}" for i in range(n)], dtype="str"),
            "group": pd.Series(rng.choice(["a", "b", "c"], n), dtype="str"),
            "x": rng.normal(size=n),
            "y": pd.Series(rng.choice(["no", "yes"], n), dtype="str"),
        }
    )


def test_100k_distinct_strings_are_an_identifier_and_break_nothing(wide_strings):
    schema = infer_schema(wide_strings)
    assert schema.kind("user") == "identifier"
    assert schema.columns[0].distinct == 100_000
    assert "user" not in schema.feature_columns("y")
    profile = profile_table(wide_strings)
    assert profile.suggestions.target == "y"
    assert len(profile.columns[0].stats["top"]["values"]) == 20
    assert DataProfile.from_json(profile.to_json()) == profile
    assert list(prepare_features(wide_strings, schema, "y").columns) == ["group", "x"]
    with pytest.raises(DataError, match=r"has 100,000 distinct values, too many classes"):
        check_target(wide_strings, "user")
    split = split_table(wide_strings, "y", task="binary")
    assert len(split.train) + len(split.valid) + len(split.test) == 100_000


# --------------------------------------------------------------------------- suggestions


def test_suggest_target_on_adult(adult_small):
    assert suggest_target(adult_small) == "Y"


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["Label", "x", "z"], "Label"),
        (["x", "Churn", "z"], "Churn"),
        (["target_variable", "x"], "target_variable"),
        (["x", "income", "class"], "class"),
        (["x", "z"], "z"),
    ],
)
def test_suggest_target_by_name_then_last_column(columns, expected):
    df = pd.DataFrame({c: [i % 3 for i in range(30)] for c in columns})
    assert suggest_target(df) == expected


def test_suggest_target_skips_identifiers_text_and_constants():
    n = 30
    df = pd.DataFrame(
        {
            "kind": ["a", "b"] * (n // 2),
            "note": [f"a long free text comment number {i} about it" for i in range(n)],
            "const": [1] * n,
            "order_id": range(100, 100 + n),
        }
    )
    assert suggest_target(df) == "kind"
    assert suggest_target(df[["note", "order_id"]]) is None


def test_suggest_target_skips_categories_with_too_many_values():
    n = 2 * (MAX_CLASSES + 10)
    df = pd.DataFrame({"kind": ["a", "b"] * (n // 2), "city": [f"c{i // 2}" for i in range(n)]})
    assert infer_schema(df).kind("city") == "categorical"
    assert suggest_target(df) == "kind"


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1] * 10, "binary"),
        (["yes", "no"] * 10, "binary"),
        ([True, False] * 10, "binary"),
        (["a", "b", "c"] * 10, "multiclass"),
        ([1, 2, 3, 4, 5] * 4, "multiclass"),
        (np.linspace(0, 1, 30).tolist(), "regression"),
        (list(range(100)), "regression"),
        ([0.5, 1.5, 2.5] * 10, "regression"),
        ([f"c{i}" for i in range(200)], "multiclass"),
    ],
)
def test_infer_task(values, task):
    assert infer_task(pd.Series(values, name="t")) == task


def test_infer_task_on_empty_target():
    with pytest.raises(DataError, match=r"The target column 't' is empty"):
        infer_task(pd.Series([np.nan, np.nan], name="t"))


def test_suggest_sensitive_on_adult(adult_small):
    assert suggest_sensitive(adult_small) == [
        "age",
        "marital-status",
        "race",
        "sex",
        "native-country",
    ]


def test_suggest_sensitive_normalises_names():
    names = ["Gender", "MaritalStatus", "Country of Birth", "patient_age", "ETHNIC_GROUP"]
    others = ["mileage", "page", "usage", "average", "message", "income"]
    df = pd.DataFrame({c: [i % 2 for i in range(10)] for c in names + others})
    assert suggest_sensitive(df) == names


def test_suggest_sensitive_skips_single_group_columns():
    df = pd.DataFrame({"sex": ["F"] * 5, "race": list("abcab")})
    assert suggest_sensitive(df) == ["race"]


# --------------------------------------------------------------------------- checks


def _frame(y, **extra) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(len(y)), "Y": y, **extra})


def test_check_target_returns_the_task(adult_small):
    assert check_target(adult_small, "Y") == "binary"
    assert check_target(adult_small, "age") == "regression"
    assert check_target(adult_small, "race") == "multiclass"
    assert check_target(adult_small, "race", "multiclass") == "multiclass"


def test_check_target_unknown_column():
    with pytest.raises(DataError, match=r"The target column 'nope' is not in the table"):
        check_target(_frame([1, 2] * 10), "nope")


def test_check_target_empty():
    with pytest.raises(
        DataError, match=r"^The target column 'Y' is empty; pick a column that has values$"
    ):
        check_target(_frame([np.nan] * 20), "Y")


def test_check_target_one_class():
    message = r"^The target column 'Y' has one class; pick a column with at least two values$"
    with pytest.raises(DataError, match=message):
        check_target(_frame(["a"] * 20 + [None] * 3), "Y")


def test_check_target_too_many_classes():
    y = [f"v{i}" for i in range(5000)]
    message = (
        r"^The target column 'Y' has 5,000 distinct values, too many classes; pick another "
        r"column or treat it as regression if it is a number$"
    )
    with pytest.raises(DataError, match=message):
        check_target(_frame(y), "Y")
    with pytest.raises(DataError, match="too many classes"):
        check_target(_frame(list(range(MAX_CLASSES + 1)) * 2), "Y", "multiclass")
    assert check_target(_frame(list(range(MAX_CLASSES + 1)) * 2), "Y", "regression") == "regression"


def test_check_target_too_few_rows():
    with pytest.raises(
        DataError, match=r"has only 6 rows with a value; add rows so that at least 10"
    ):
        check_target(_frame(["a", "b"] * 3 + [None] * 10), "Y")


def test_check_target_task_that_does_not_fit():
    with pytest.raises(DataError, match=r"holds text, so it cannot be predicted as a number"):
        check_target(_frame(["a", "b"] * 10), "Y", "regression")
    with pytest.raises(DataError, match=r"has 3 values, not two; choose multiclass"):
        check_target(_frame(["a", "b", "c"] * 10), "Y", "binary")
    with pytest.raises(ValueError, match="task must be one of"):
        check_target(_frame(["a", "b"] * 10), "Y", "ranking")  # type: ignore[arg-type]


def test_check_target_class_too_small_to_stratify():
    with pytest.raises(DataError, match=r"The class 'c' of the target column 'Y' has only one row"):
        check_target(_frame(["a", "b"] * 10 + ["c"]), "Y")
    assert check_target(_frame(["a", "b"] * 10 + ["c", "c"]), "Y") == "multiclass"


def test_check_sensitive(adult_small):
    check_sensitive(adult_small, ["sex", "race", "age"])
    with pytest.raises(DataError, match=r"The sensitive column 'gender' is not in the table"):
        check_sensitive(adult_small, ["sex", "gender"])
    one_group = adult_small.assign(sex="Male")
    message = (
        r"^The column 'sex' has a single group, so fairness cannot be compared; pick a column "
        r"with at least two groups$"
    )
    with pytest.raises(DataError, match=message):
        check_sensitive(one_group, ["race", "sex"])
    with pytest.raises(DataError, match=r"The column 'sex' is empty"):
        check_sensitive(adult_small.assign(sex=np.nan), ["sex"])


# --------------------------------------------------------------------------- confirm


def test_confirm_dataset_checks_the_choices_and_keeps_one_id(adult_small, tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(
        DataError, match=r"^The target column 'income' is not in the table; pick from its columns$"
    ):
        confirm_dataset(ws, adult_small, name="adult", target="income")
    with pytest.raises(DataError, match=r"The target column 'Y' has one class"):
        confirm_dataset(ws, adult_small.assign(Y=">50K"), name="adult", target="Y")
    with pytest.raises(DataError, match=r"The sensitive column 'gender' is not in the table"):
        confirm_dataset(ws, adult_small, name="adult", target="Y", sensitive=["gender"])
    with pytest.raises(DataError, match=r"There is no text column 'Y' besides the target"):
        confirm_dataset(ws, adult_small, name="adult", target="Y", text_column="Y")
    assert ws.list_datasets() == []

    info = confirm_dataset(ws, adult_small, name="adult", target="Y", sensitive=["sex", "race"])
    assert (info.task, info.sensitive, info.n_rows) == ("binary", ["sex", "race"], 3000)
    again = confirm_dataset(
        ws, adult_small.copy(), name="adult", target="Y", task="binary", sensitive=["race", "sex"]
    )
    assert again.id == info.id
    suggested = confirm_dataset(ws, adult_small, name="adult", target="Y")
    assert suggested.sensitive == [c for c in suggest_sensitive(adult_small) if c != "Y"]


def test_confirm_dataset_keeps_the_original_as_parent(adult_small, tmp_path):
    ws = Workspace(tmp_path)
    anonymised, _, steps = anonymise(adult_small, [Action("age", "generalise")], salt=b"s" * 32)
    child = confirm_dataset(
        ws,
        anonymised,
        name="adult",
        target="Y",
        sensitive=["sex", "age"],
        original=adult_small,
        steps=steps,
    )
    plain = confirm_dataset(ws, adult_small, name="adult", target="Y", sensitive=["sex", "age"])
    assert child.parent == plain.id != child.id
    assert [s["action"] for s in child.anonymisation] == ["generalise"]
    assert ws.load_dataset(child.id)[0]["age"].iloc[0] != adult_small["age"].iloc[0]


# --------------------------------------------------------------------------- fingerprint


def test_fingerprint_is_content_based(adult_small):
    digest = fingerprint(adult_small)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert fingerprint(adult_small.copy()) == digest
    assert fingerprint(adult_small.set_axis(range(5, 3005))) == digest  # index ignored
    changed = adult_small.copy()
    changed.loc[7, "age"] += 1
    assert fingerprint(changed) != digest
    assert fingerprint(adult_small.rename(columns={"age": "Age"})) != digest
    assert fingerprint(adult_small.astype({"age": "float64"})) != digest


def test_fingerprint_is_stable_across_processes():
    code = (
        "import pandas as pd; from lepton_core.data import fingerprint; "
        "print(fingerprint(pd.DataFrame({'a': [1, 2], 'b': ['x', None]})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == fingerprint(pd.DataFrame({"a": [1, 2], "b": ["x", None]}))


# --------------------------------------------------------------------------- profile


def test_profile_of_adult(adult_train):
    profile = profile_table(adult_train)
    assert (profile.n_rows, profile.n_columns) == (32561, 15)
    assert profile.suggestions.target == "Y"
    assert profile.suggestions.task == "binary"
    assert {"age", "race", "sex"} <= set(profile.suggestions.sensitive)
    assert profile.class_balance == {"<=50K": 24720, ">50K": 7841}
    assert profile.fingerprint == fingerprint(adult_train)
    age = profile.columns[0].stats
    assert age["min"] == 17 and age["max"] == 90
    assert age["mean"] == pytest.approx(adult_train["age"].mean())
    assert age["median"] == adult_train["age"].median()
    assert sum(age["histogram"]["counts"]) == 32561
    assert len(age["histogram"]["edges"]) == len(age["histogram"]["counts"]) + 1
    workclass = profile.columns[1]
    assert workclass.missing_share == pytest.approx(1836 / 32561)
    assert workclass.stats["top"]["values"][0] == "Private"
    assert DataProfile.from_json(profile.to_json()) == profile


def test_profile_with_a_given_target(adult_small):
    profile = profile_table(adult_small, target="hours-per-week")
    assert profile.suggestions.target == "hours-per-week"
    assert profile.suggestions.task == "regression"
    assert profile.class_balance is None
    with pytest.raises(DataError, match="not in the table"):
        profile_table(adult_small, target="nope")


def test_profile_of_dates_and_all_missing_columns():
    df = pd.DataFrame({"d": pd.date_range("2021-01-01", periods=50, freq="D"), "e": [np.nan] * 50})
    profile = profile_table(df)
    dates = profile.columns[0].stats
    assert dates["min"].startswith("2021-01-01") and dates["max"].startswith("2021-02-19")
    assert sum(dates["histogram"]["counts"]) == 50
    assert profile.columns[1].stats["mean"] is None
    assert DataProfile.from_json(profile.to_json()) == profile


# --------------------------------------------------------------------------- features


def test_prepare_features_dtypes():
    df = _kinds_frame().astype({"children": "float64"})
    df.loc[0, "color"] = np.nan
    df.loc[1, "children"] = np.nan
    schema = infer_schema(df)
    features = prepare_features(df, schema, "height")
    assert list(features.columns) == schema.feature_columns("height")
    assert features.index.equals(df.index)
    assert features["children"].dtype == "float64" and np.isnan(features["children"].iloc[1])
    assert features["smoker01"].dtype == "float64"
    assert features["amount_text"].tolist()[:3] == [0.0, 1.5, 3.0]
    assert set(features["flag"]) == {"true", "false"}
    assert features["answer"].tolist() == ["true" if a == "Yes" else "false" for a in df["answer"]]
    assert set(features["bit"]) == {"true", "false"}
    assert features["color"].dtype == "str" and pd.isna(features["color"].iloc[0])
    assert features["code"].dtype == "str"
    assert features["joined"].dtype == "float64"
    assert features["joined"].iloc[0] == (pd.Timestamp("2021-03-01") - pd.Timestamp(0)).days
    assert features["stamp"].iloc[1] - features["stamp"].iloc[0] == pytest.approx(1 / 24)


def test_prepare_features_on_new_rows_with_other_dtypes(adult_small):
    schema = infer_schema(adult_small)
    scoring = adult_small.head(5).drop(columns="Y").astype({"age": "str"})
    features = prepare_features(scoring, schema, "Y")
    assert features["age"].dtype == "float64"
    assert features["age"].tolist() == adult_small["age"].head(5).astype(float).tolist()
    with pytest.raises(DataError, match=r"^The table is missing the column 'sex'; provide every"):
        prepare_features(scoring.drop(columns="sex"), schema, "Y")


# --------------------------------------------------------------------------- split


def test_split_sizes_and_stratification(adult_small):
    split = split_table(adult_small, "Y", task="binary")
    sizes = len(split.train), len(split.valid), len(split.test)
    assert sum(sizes) == 3000
    assert sizes[2] == pytest.approx(600, abs=2) and sizes[1] == pytest.approx(300, abs=2)
    overall = (adult_small["Y"] == ">50K").mean()
    for part in (split.train, split.valid, split.test):
        assert (part["Y"] == ">50K").mean() == pytest.approx(overall, abs=0.005)
        assert list(part.columns) == list(adult_small.columns)
        assert part.index.equals(pd.RangeIndex(len(part)))
    rows = pd.concat([split.train, split.valid, split.test])
    assert fingerprint(rows.sort_values(list(rows.columns)).reset_index(drop=True)) == fingerprint(
        adult_small.sort_values(list(adult_small.columns)).reset_index(drop=True)
    )


def test_split_is_seeded(adult_small):
    first = split_table(adult_small, "Y", task="binary", seed=3)
    again = split_table(adult_small, "Y", task="binary", seed=3)
    other = split_table(adult_small, "Y", task="binary", seed=4)
    pd.testing.assert_frame_equal(first.test, again.test)
    pd.testing.assert_frame_equal(first.train, again.train)
    assert not first.test.equals(other.test)


def test_split_drops_missing_targets_and_handles_regression(adult_small):
    df = adult_small.astype({"hours-per-week": "float64"})
    df.loc[:99, "hours-per-week"] = np.nan
    split = split_table(df, "hours-per-week", task="regression", test_size=0.25, valid_size=0)
    assert len(split.valid) == 0
    assert len(split.train) + len(split.test) == 2900
    assert len(split.test) == 725
    assert split.train["hours-per-week"].notna().all()


def test_split_small_classes_reach_every_part():
    df = _frame(["a"] * 20 + ["b"] * 3 + ["c"] * 2)
    split = split_table(df, "Y", task="multiclass")
    assert set(split.train["Y"]) == {"a", "b", "c"}
    assert set(split.test["Y"]) == {"a", "b", "c"}
    assert "b" in set(split.valid["Y"])


def test_split_refuses_bad_targets_and_sizes(adult_small):
    with pytest.raises(DataError, match="has one class"):
        split_table(adult_small.assign(Y="x"), "Y", task="binary")
    with pytest.raises(ValueError, match="test_size and valid_size"):
        split_table(adult_small, "Y", task="binary", test_size=0.7, valid_size=0.3)


def test_split_with_given_test_aligns_trailing_dot_labels(adult_small, adult_test):
    raw_test = adult_test.head(500).assign(Y=lambda d: d["Y"] + ".", extra=1)
    raw_test.loc[0, "Y"] = np.nan
    split = split_table(adult_small, "Y", task="binary", test=raw_test)
    assert len(split.train) + len(split.valid) == 3000
    assert len(split.test) == 499
    assert list(split.test.columns) == list(adult_small.columns)
    assert set(split.test["Y"]) == {"<=50K", ">50K"}
    assert split.test["Y"].dtype == adult_small["Y"].dtype
    expected = adult_test["Y"].iloc[1:500].reset_index(drop=True)
    assert split.test["Y"].tolist() == expected.tolist()


def test_split_with_given_test_maps_whitespace_and_the_other_direction():
    train = _frame(["yes.", "no."] * 10)
    test = _frame([" yes", "no ", "maybe"])
    split = split_table(train, "Y", task="binary", test=test)
    assert split.test["Y"].tolist() == ["yes.", "no.", "maybe"]


def test_split_with_given_test_errors(adult_small, adult_test):
    with pytest.raises(
        DataError, match=r"^The test table is missing the columns 'race', 'sex'; upload"
    ):
        split_table(adult_small, "Y", task="binary", test=adult_test.drop(columns=["sex", "race"]))
    with pytest.raises(DataError, match=r"None of the test labels in 'Y'"):
        split_table(adult_small, "Y", task="binary", test=adult_test.assign(Y="rich"))
    with pytest.raises(DataError, match=r"The test table has no rows with a value"):
        split_table(adult_small, "Y", task="binary", test=adult_test.assign(Y=np.nan))


# --------------------------------------------------------------------------- plots


def test_plots_from_the_adult_profile(adult_small):
    profile = profile_table(adult_small)
    for column in profile.columns:
        fig = column_distribution_figure(column)
        assert isinstance(fig, go.Figure)
        assert fig.layout.template.layout.paper_bgcolor == "white"
        assert column.name in fig.layout.title.text
        assert sum(fig.data[0].y if column.kind == "numeric" else fig.data[0].x) == sum(
            column.stats["histogram" if column.kind == "numeric" else "top"]["counts"]
        )
    balance = class_balance_figure(profile)
    assert list(balance.data[0].x) == ["<=50K", ">50K"]
    assert sum(balance.data[0].y) == 3000
    assert "Class balance of 'Y'" in balance.layout.title.text
    missing = missing_values_figure(profile)
    assert len(missing.data[0].x) == 15
    assert missing.data[0].x[1] == pytest.approx(adult_small["workclass"].isna().mean())


def test_plots_of_dates_and_without_classes():
    df = pd.DataFrame({"d": pd.date_range("2021-01-01", periods=50, freq="D"), "v": range(50)})
    profile = profile_table(df)
    fig = column_distribution_figure(profile.columns[0])
    assert len(fig.data[0].x) == len(profile.columns[0].stats["histogram"]["counts"])
    assert "(none)" in missing_values_figure(profile).layout.title.text
    with pytest.raises(ValueError, match="no class balance"):
        class_balance_figure(profile)


# --------------------------------------------------------------------------- packaging


def test_importing_data_does_not_import_streamlit():
    code = "import sys, lepton_core.data, lepton_core.plots; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# ------------------------------------------- bad records and hidden names (issue 14)
def _schema() -> InputSchema:
    return InputSchema(
        fields=[
            InputField(name="age", kind="numeric", default=30),
            InputField(name="job", kind="categorical", default="a", choices=["a", "b"]),
        ]
    )


def test_visible_name_cuts_and_shows_hidden_characters():
    from lepton_core.data import visible_name

    assert visible_name("age") == "age"
    assert visible_name("x" * 1_000_000) == "x" * 60 + "…"
    assert visible_name("\u200bage") == "\\u200bage"
    assert visible_name("a\u202eb\nc") == "a\\u202eb\\x0ac"
    # A lone surrogate comes out as text any response can carry.
    assert visible_name("\ud800").encode("utf-8") == b"\\ud800"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"age": 1, "job": "a", "\ud800": 1}, "unknown field '\\ud800'"),
        ({"age": 1, "job": "a", "k" * 1_000_000: 1}, "'" + "k" * 60 + "…'"),
        ({"age": float("nan"), "job": "a"}, "'age' is nan, not a finite number"),
        ({"age": 1, "job": float("-inf")}, "'job' is -inf, not a finite number"),
        ({"age": "inf", "job": "a"}, "'age' must be a finite number, got 'inf'"),
        ({"age": "1e309", "job": "a"}, "'age' must be a finite number, got '1e309'"),
        ({"age": "NaN", "job": "a"}, "'age' must be a finite number, got 'NaN'"),
        ({"age": "y" * 100_000, "job": "a"}, "got '" + "y" * 59 + "…"),
    ],
)
def test_records_with_unreadable_values_or_names_get_one_short_sentence(record, message):
    with pytest.raises(DataError) as caught:
        _schema().to_frame([record])
    text = str(caught.value)
    assert message in text and len(text) < 400
    text.encode("utf-8")  # no lone surrogate in the message


def test_a_number_in_a_categorical_field_is_its_text_even_when_huge():
    # 1e308 is a whole number beyond int64: it used to fail the cast to Int64 (a 500).
    assert _schema().to_frame([{"age": 1, "job": 1e308}])["job"].tolist() == ["1e+308"]
    assert _schema().to_frame([{"age": 1, "job": 3.0}])["job"].tolist() == ["3"]
    features = prepare_features(
        pd.DataFrame({"job": [-1e300, None]}), Schema.from_dict(_job_schema()), None
    )
    assert features["job"].iloc[0] == "-1e+300" and pd.isna(features["job"].iloc[1])


def _job_schema() -> dict:
    return {
        "columns": [
            {"name": "job", "kind": "categorical", "dtype": "", "missing_share": 0, "distinct": 0}
        ]
    }


def test_a_table_with_infinite_numbers_is_refused_and_empty_cells_are_missing():
    schema = _schema()
    ok = schema.prepare(pd.DataFrame({"age": [1.0, np.nan, None], "job": ["a", "b", None]}))
    assert ok["age"].isna().tolist() == [False, True, True]
    for bad in ([1.0, np.inf], ["1", "-Infinity"]):
        with pytest.raises(DataError, match=r"'age'.*finite"):
            schema.prepare(pd.DataFrame({"age": bad, "job": ["a", "b"]}))


def test_profile_warns_about_column_names_with_hidden_characters():
    df = pd.DataFrame({"\u200bage": [1, 2], "age": [3, 4], "na\u202eme": ["x", "y"], "ok": [1, 2]})
    warnings = profile_table(df).warnings
    assert len(warnings) == 2
    assert "'\\u200bage'" in warnings[0] and "looks like column 'age'" in warnings[0]
    assert "\\u202e" in warnings[1]
    assert profile_table(pd.DataFrame({"age": [1, 2]})).warnings == []
    assert DataProfile.from_json(profile_table(df).to_json()).warnings == warnings


def test_data_page_warns_about_a_column_name_with_hidden_characters():
    from streamlit.testing.v1 import AppTest

    from app_pages._common import Keys

    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(root / "app.py", default_timeout=120).switch_page("app_pages/data.py")
    df = pd.DataFrame({"\u200bage": [1, 2, 3, 4], "age": [5, 6, 7, 8], "y": ["a", "b"] * 2})
    at.session_state[Keys.DRAFT] = {
        "name": "hidden",
        "df": df,
        "test": None,
        "source": "hidden.csv",
        "target": "y",
        "sensitive": [],
        "about": "A table with a hidden character.",
    }
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [w.value for w in at.warning]
    assert any("'\\u200bage'" in w and "looks like column 'age'" in w for w in shown), shown


def test_data_page_first_shows_the_distribution_of_a_column_whose_values_repeat():
    # An ID or a free text has one value per row: 20 bars of count 1 tell nothing.
    from streamlit.testing.v1 import AppTest

    from app_pages._common import Keys

    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(root / "app.py", default_timeout=120).switch_page("app_pages/data.py")
    n = 60
    words = ["good", "bad", "fine", "dull", "great", "odd"]
    df = pd.DataFrame(
        {
            "review_id": [f"R{i:04d}" for i in range(n)],
            "review": [
                f"a {words[i % 6]} film, number {i} of the lot, seen twice" for i in range(n)
            ],
            "store": ["north", "south", "east"] * (n // 3),
            "y": ["pos", "neg"] * (n // 2),
        }
    )
    at.session_state[Keys.DRAFT] = {
        "name": "reviews",
        "df": df,
        "test": None,
        "source": "reviews.csv",
        "target": "y",
        "sensitive": [],
        "about": "Reviews.",
    }
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = next(s for s in at.selectbox if s.label == "Distribution of")
    assert shown.value == "store"


def test_json_with_an_escaped_lone_surrogate_is_refused_in_a_sentence():
    data = b'{"a": "\\ud800", "b": 1}\n{"a": "x", "b": 2}\n'
    with pytest.raises(DataError, match="not valid Unicode"):
        load_table(data, filename="records.jsonl")


# --------------------------------------------------------------------------- data quality


def _quality_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "score": rng.normal(size=n),
            "country": ["FR"] * n,  # one value
            "fax": [None] * 150 + ["555-0100", "555-0101"] * 25,  # empty in 75% of rows
            # Amounts as text, some repeated: a category column with about 100 values.
            "income": [f"${v:,}" for v in rng.integers(100, 220, n) * 100],
            "y": rng.choice(["yes", "no"], n),
        }
    )


def test_profile_warns_about_data_quality_in_plain_sentences():
    warnings = profile_table(_quality_table(), target="y").warnings
    assert len(warnings) == 3, warnings
    assert warnings[0].startswith("Column 'country' has the same value in every filled row")
    assert warnings[1].startswith("Column 'fax' is empty in 75% of rows")
    assert "'income' is used as categories but has 98 different values" in warnings[2]
    assert profile_table(pd.DataFrame({"age": [1, 2, 3], "y": ["a", "b", "a"]})).warnings == []


def test_profile_warns_about_repeated_rows_and_clashing_labels():
    df = _quality_table().drop(columns=["country", "fax", "income"])
    copies = pd.concat([df, df.iloc[:4]], ignore_index=True)
    (warning,) = profile_table(copies, target="y").warnings
    assert warning.startswith("4 rows (2.0%) are exact copies of other rows")
    clash = df.iloc[:3].assign(y=lambda d: np.where(d["y"] == "yes", "no", "yes"))
    noisy = pd.concat([df, clash], ignore_index=True)
    (warning,) = profile_table(noisy, target="y").warnings
    assert warning.startswith("6 rows (3.0%) match another row in every column a model reads")
    assert "different 'y'" in warning
    # A regression target varies between alike rows by nature: no warning.
    assert profile_table(noisy.assign(y=np.arange(len(noisy)) * 1.5), target="y").warnings == []


def test_profile_of_adult_has_no_quality_warnings(adult_train):
    # 24 repeated rows (0.07%) and 2 clashing ones are too few to name.
    assert profile_table(adult_train).warnings == []


def test_dates_in_chinese_korean_day_first_and_month_first_forms_are_dates():
    from lepton_core.data import infer_schema
    from lepton_core.data._schema import _to_datetime

    zh = ["2024年3月5日", "2024年12月31日", "２０２３年１月２日", "2024年3月5日 14:30"]
    ko = ["2024년 3월 5일", "2023년 1월 2일", "2022년 7월 8일", "2021년 1월 1일"]
    table = pd.DataFrame(
        {
            "zh": [*zh, None] * 4,
            "ko": [*ko, None] * 4,
            "day_first": ["05.03.2024", "31.12.2023", "01.02.2022", "13.01.2021", None] * 4,
            "month_first": ["03/05/2024", "12/31/2023", "01/02/2022", "01/13/2021", None] * 4,
            "y": [0, 1] * 10,
        }
    )
    schema = infer_schema(table)
    assert [schema.kind(c) for c in ("zh", "ko", "day_first", "month_first")] == ["datetime"] * 4
    dates = {c: _to_datetime(table[c]).dt.strftime("%Y-%m-%d").tolist()[:4] for c in table}
    assert dates["zh"] == ["2024-03-05", "2024-12-31", "2023-01-02", "2024-03-05"]
    assert dates["ko"] == ["2024-03-05", "2023-01-02", "2022-07-08", "2021-01-01"]
    assert dates["day_first"] == ["2024-03-05", "2023-12-31", "2022-02-01", "2021-01-13"]
    assert dates["month_first"] == ["2024-03-05", "2023-12-31", "2022-01-02", "2021-01-13"]
