"""Bounded memory and time on every input: each bomb is refused by a named limit.

Every bomb is built here as a small file. The loads that matter for memory run
in a child process under ``RLIMIT_AS`` (:data:`ADDRESS_SPACE`): had a load
tried to materialise the bomb, the child would fail with ``MemoryError`` (or
pyarrow's "could not be read") instead of printing the limit's sentence. The
child also reports its peak resident memory, held under :data:`REFUSED_PEAK_MB`
for a refusal (the interpreter with pandas and pyarrow imported is about
110 MB; before the limits these files took the loader to 2.2 to 5.5 GB).

The child uses the system allocator for Arrow and two malloc arenas: jemalloc
and per-thread arenas reserve address space they never touch, which would make
an address-space cap measure reservations rather than memory.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lepton_core.core import DataError
from lepton_core.data import LIMIT_SETTINGS, InputLimits, load_table

ROOT = Path(__file__).resolve().parents[1]
ADDRESS_SPACE = int(1.5 * 2**30)  # the child's whole address space, interpreter included
REFUSED_PEAK_MB = 400  # peak RSS of a child that refused a bomb
LOADED_PEAK_MB = 900  # peak RSS of a child that loaded a table just under the default limits
_CHILD_ENV = {
    "ARROW_DEFAULT_MEMORY_POOL": "system",
    "MALLOC_ARENA_MAX": "2",
    "OMP_NUM_THREADS": "2",
}

# The peak is VmHWM, not ru_maxrss: after exec, ru_maxrss keeps the parent's peak (Linux
# records the old address space's high-water mark at exec).
_MEMORY = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))


def memory_mb(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field)) / 1024
"""

_LOAD = (
    _MEMORY
    + """
from lepton_core.core import DataError
from lepton_core.data import load_table

try:
    result = {{"shape": list(load_table(sys.argv[1]).shape)}}
except DataError as exc:
    result = {{"error": str(exc)}}
result["peak_mb"] = memory_mb("VmHWM:")
print(json.dumps(result))
"""
)


def _run_capped(code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEPTON_MAX_")}
    environ.update(_CHILD_ENV, PYTHONPATH=str(ROOT), **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=environ,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def _load_capped(path: Path, env: dict[str, str] | None = None) -> dict:
    """``load_table(path)`` in a child under :data:`ADDRESS_SPACE`: its shape or error, and peak."""
    return _run_capped(_LOAD.format(cap=ADDRESS_SPACE), str(path), env=env)


def _refused(path: Path, message: str) -> None:
    result = _load_capped(path)
    assert "error" in result, f"loaded {result}"
    assert result["error"] == message
    assert result["peak_mb"] < REFUSED_PEAK_MB, result


@pytest.fixture(autouse=True)
def _default_limits(monkeypatch):
    for name, _ in LIMIT_SETTINGS.values():
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------- bombs


def _long_strings_parquet(path: Path, rows: int = 4_000_000, width: int = 1000) -> Path:
    """About 420 KB on disk: one 1,000-character string, dictionary-encoded ``rows`` times.

    Written without the Arrow schema, so a reader sees a plain string column and expands it
    to ``rows × width`` bytes (4 GB).
    """
    block = min(rows, 1_000_000)
    column = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(block, np.int32)), pa.array(["x" * width])
    )
    schema = pa.schema([("text", column.type)])
    with pq.ParquetWriter(path, schema, store_schema=False, compression="zstd") as writer:
        for _ in range(rows // block):
            writer.write_table(pa.table({"text": column}))
    return path


def _zeros_parquet(path: Path, rows: int) -> Path:
    """A few hundred KB of zeros, ``rows`` of them in an int64 column."""
    block = pa.array(np.zeros(10_000_000, np.int64))
    with pq.ParquetWriter(path, pa.schema([("zero", pa.int64())]), compression="zstd") as writer:
        for _ in range(rows // len(block)):
            writer.write_table(pa.table({"zero": block}), row_group_size=rows)
    return path


def _sparse_csv(path: Path, size: int) -> Path:
    """20 KB of CSV, then a hole of NUL bytes up to ``size`` (no disk used)."""
    with path.open("wb") as handle:
        handle.write(b"a,b\n" + b"1,2\n" * 5000)
        handle.truncate(size)
    return path


def _wide_csv(path: Path, columns: int, rows: int = 2) -> Path:
    header = ",".join(f"c{i}" for i in range(columns))
    row = ",".join("0" for _ in range(columns))
    path.write_text("\n".join([header] + [row] * rows) + "\n")
    return path


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    df.to_parquet(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------ Parquet


def test_parquet_of_long_strings_is_refused_before_it_expands(tmp_path):
    path = _long_strings_parquet(tmp_path / "strings.parquet")
    assert path.stat().st_size < 1_000_000
    assert pq.ParquetFile(path).metadata.num_rows == 4_000_000
    _refused(
        path,
        "The Parquet file decompresses to more than 1,000 MB, over the 1,000 MB limit on "
        "decompressed data; load fewer rows or columns, or raise LEPTON_MAX_DECOMPRESSED_MB",
    )


def test_parquet_list_of_long_strings_in_one_row_is_refused(tmp_path):
    # One row and one column: only the decoded length gives it away.
    strings = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(4_000_000, np.int32)), pa.array(["x" * 1000])
    )
    lists = pa.ListArray.from_arrays(pa.array([0, len(strings)], pa.int32()), strings)
    path = tmp_path / "lists.parquet"
    pq.write_table(pa.table({"texts": lists}), path, store_schema=False, compression="zstd")
    _refused(
        path,
        "The Parquet file decompresses to more than 1,000 MB, over the 1,000 MB limit on "
        "decompressed data; load fewer rows or columns, or raise LEPTON_MAX_DECOMPRESSED_MB",
    )


def test_parquet_of_many_zeros_is_refused_from_its_footer(tmp_path):
    path = _zeros_parquet(tmp_path / "zeros.parquet", rows=40_000_000)
    assert path.stat().st_size < 1_000_000
    _refused(
        path,
        "The table has 40,000,000 rows, over the 5,000,000-row limit; load a sample of the "
        "rows, or raise LEPTON_MAX_ROWS",
    )


def test_parquet_just_under_the_row_and_cell_limits_loads(tmp_path):
    rows = 5_000_000  # × 2 columns: exactly the default row and cell limits
    df = pd.DataFrame({"a": np.arange(rows, dtype=np.int32), "b": np.ones(rows, np.int32)})
    path = tmp_path / "big.parquet"
    df.to_parquet(path)
    result = _load_capped(path)
    assert result.get("shape") == [rows, 2], result
    assert result["peak_mb"] < LOADED_PEAK_MB, result
    pd.concat([df, df.head(1)]).to_parquet(path)
    with pytest.raises(DataError, match=r"^The table has 5,000,001 rows, over the 5,000,000-row"):
        load_table(path)


def test_parquet_decompressed_limit_counts_strings(monkeypatch):
    df = pd.DataFrame({"text": ["y" * 1000] * 7000, "n": np.arange(7000)})  # ~6.7 MB of text
    data = _parquet_bytes(df)
    monkeypatch.setenv("LEPTON_MAX_DECOMPRESSED_MB", "8")
    pd.testing.assert_frame_equal(load_table(data, filename="t.parquet"), df)
    more = _parquet_bytes(pd.concat([df, df.head(2000)], ignore_index=True))  # ~8.6 MB
    with pytest.raises(DataError, match=r"^The Parquet file decompresses to more than 8.0 MB"):
        load_table(more, filename="t.parquet")


def test_parquet_column_limit(monkeypatch):
    df = pd.DataFrame({f"c{i}": [i] for i in range(50)})
    monkeypatch.setenv("LEPTON_MAX_COLUMNS", "50")
    assert load_table(_parquet_bytes(df)).shape == (1, 50)
    df["c50"] = 0
    with pytest.raises(DataError, match=r"^The table has 51 columns, over the 50-column limit"):
        load_table(_parquet_bytes(df))


# ------------------------------------------------------------------ file size


def test_sparse_gigabyte_file_is_refused_before_reading(tmp_path):
    path = _sparse_csv(tmp_path / "sparse.csv", 2**30)
    _refused(
        path,
        "The file is 1,024 MB, over the 200 MB file-size limit; load a smaller sample of it, "
        "or raise LEPTON_MAX_FILE_MB",
    )


def test_sparse_file_under_the_size_limit_is_refused_as_binary(tmp_path):
    # The NUL check covers the whole file, not its first 8 KB: read once, never decoded.
    path = _sparse_csv(tmp_path / "sparse.csv", 150 * 2**20)
    result = _load_capped(path)
    assert result.get("error") == (
        "The file looks binary, not like a text table; upload a CSV, TSV, Parquet or JSONL file"
    )
    assert result["peak_mb"] < REFUSED_PEAK_MB + 150, result


def test_file_size_setting(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * (2**20 // 4 - 1))  # exactly 1 MB
    monkeypatch.setenv("LEPTON_MAX_FILE_MB", "1")
    assert load_table(path).shape == (2**20 // 4 - 1, 2)
    with path.open("ab") as handle:
        handle.write(b"3,4\n")
    with pytest.raises(DataError, match=r"over the 1.0 MB file-size limit; .* LEPTON_MAX_FILE_MB$"):
        load_table(path)
    with pytest.raises(DataError, match=r"over the 1.0 MB file-size limit"):
        load_table(path.read_bytes(), filename="t.csv")


# ------------------------------------------------------------------ CSV


def test_csv_of_100000_columns_is_refused_from_its_header(tmp_path):
    path = _wide_csv(tmp_path / "wide.csv", 100_000)
    _refused(
        path,
        "The table has 100,000 columns, over the 2,000-column limit; keep only the columns you "
        "need, or raise LEPTON_MAX_COLUMNS",
    )


def test_csv_of_2000_columns_loads(tmp_path):
    assert load_table(_wide_csv(tmp_path / "wide.csv", 2000)).shape == (2, 2000)
    with pytest.raises(DataError, match=r"^The table has 2,001 columns"):
        load_table(_wide_csv(tmp_path / "wider.csv", 2001))


def test_csv_just_under_the_cell_limit_loads(tmp_path):
    rows = 5_000_000  # × 2 columns: exactly the default row and cell limits
    path = tmp_path / "long.csv"
    with path.open("wb") as handle:
        handle.write(b"a,b\n" + b"1,2\n" * rows)
    result = _load_capped(path)
    assert result.get("shape") == [rows, 2], result
    assert result["peak_mb"] < LOADED_PEAK_MB, result


def test_csv_rows_and_cells_stop_the_parser(monkeypatch):
    monkeypatch.setenv("LEPTON_MAX_ROWS", "100")
    assert load_table(b"a,b\n" + b"1,2\n" * 100, filename="t.csv").shape == (100, 2)
    with pytest.raises(DataError, match=r"^The table has more than 100 rows, over the 100-row"):
        load_table(b"a,b\n" + b"1,2\n" * 101, filename="t.csv")
    monkeypatch.delenv("LEPTON_MAX_ROWS")
    monkeypatch.setenv("LEPTON_MAX_CELLS", "1000")
    assert load_table(b"a,b\n" + b"1,2\n" * 500, filename="t.csv").shape == (500, 2)
    message = (
        r"^The table has more than 1,000 cells \(rows × columns\), over the 1,000-cell limit; "
        r"load fewer rows or columns, or raise LEPTON_MAX_CELLS$"
    )
    with pytest.raises(DataError, match=message):
        load_table(b"a,b\n" + b"1,2\n" * 501, filename="t.csv")


# ------------------------------------------------------------------ JSON


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "deep.json"),
        (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "deep.jsonl"),
        (b'[{"a": "[[[["}, {"a": ' + b"{" * 5000 + b"}" * 5000 + b"}]", "deep.json"),
    ],
)
def test_deeply_nested_json_is_a_data_error(content, name):
    with pytest.raises(DataError, match=r"^The JSON nests arrays and objects [\d,]+ levels deep, "):
        load_table(content, filename=name)


def test_json_at_the_depth_limit_loads():
    # A list of records is 2 levels; a value nested 30 more brings it to the limit of 32.
    text = b'[{"a": 1, "b": ' + b"[" * 30 + b"]" * 30 + b"}]"
    assert load_table(text, filename="t.json")["b"].tolist() == ["[" * 30 + "]" * 30]
    deeper = b'[{"a": 1, "b": ' + b"[" * 31 + b"]" * 31 + b"}]"
    message = (
        r"^The JSON nests arrays and objects 33 levels deep, over the 32-level limit; flatten "
        r"the nested values into columns, or raise LEPTON_MAX_JSON_DEPTH$"
    )
    with pytest.raises(DataError, match=message):
        load_table(deeper, filename="t.json")
    # Brackets inside strings are text, not nesting.
    quoted = json.dumps([{"a": "[" * 100 + '\\"{' * 100}]).encode()
    assert load_table(quoted, filename="t.json").shape == (1, 1)


def test_nested_json_in_a_child_stays_small(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b'{"a": ' + b"[" * 1_000_000 + b"]" * 1_000_000 + b"}\n")
    result = _load_capped(path)
    assert result.get("error", "").startswith("The JSON nests arrays and objects 1,000,001 levels")
    assert result["peak_mb"] < REFUSED_PEAK_MB, result


def test_json_values_are_counted_before_parsing(monkeypatch):
    monkeypatch.setenv("LEPTON_MAX_CELLS", "100")
    records = [{"a": i, "b": i} for i in range(50)]
    for name, text in [
        ("t.json", json.dumps(records)),
        ("t.jsonl", "\n".join(json.dumps(r) for r in records)),
    ]:
        assert load_table(text.encode(), filename=name).shape == (50, 2)
    more = json.dumps([*records, {"a": 50}])
    with pytest.raises(DataError, match=r"^The JSON file holds about 101 values, over the 100-"):
        load_table(more.encode(), filename="t.json")


def test_json_columns_are_counted(monkeypatch):
    monkeypatch.setenv("LEPTON_MAX_COLUMNS", "10")
    lines = [json.dumps({f"k{i}": 1}) for i in range(11)]  # one new key a line
    with pytest.raises(DataError, match=r"^The table has 11 columns, over the 10-column limit"):
        load_table("\n".join(lines).encode(), filename="t.jsonl")


# ------------------------------------------------------------------ settings


def test_settings_are_read_from_the_environment(monkeypatch):
    assert InputLimits.from_env({}) == InputLimits()
    limits = InputLimits.from_env({"LEPTON_MAX_FILE_MB": "5", "LEPTON_MAX_JSON_DEPTH": "4"})
    assert limits.max_file_bytes == 5 * 2**20 and limits.max_json_depth == 4
    for value in ["abc", "0", "-1", "1.5"]:
        message = rf"^The setting LEPTON_MAX_ROWS='{value}' is not a whole number of at least 1"
        with pytest.raises(DataError, match=message):
            InputLimits.from_env({"LEPTON_MAX_ROWS": value})
    monkeypatch.setenv("LEPTON_MAX_COLUMNS", "1")
    with pytest.raises(DataError, match=r"over the 1-column limit"):
        load_table(b"a,b\n1,2\n", filename="t.csv")
    # An explicit InputLimits wins over the environment.
    assert load_table(b"a,b\n1,2\n", filename="t.csv", limits=InputLimits()).shape == (1, 2)


def test_adult_loads_under_the_defaults(adult_train, tmp_path):
    path = tmp_path / "adult.csv"
    adult_train.to_csv(path, index=False)
    result = _load_capped(path)
    assert result.get("shape") == [32561, 15], result
    assert result["peak_mb"] < REFUSED_PEAK_MB, result
    assert load_table(_parquet_bytes(adult_train)).shape == (32561, 15)
    assert load_table(adult_train.to_json(orient="records").encode()).shape == (32561, 15)


# ------------------------------------------------------------------ REST /batch

_BATCH = (
    _MEMORY
    + """
from types import SimpleNamespace

from fastapi.testclient import TestClient
from lepton_core.serving import create_app
from lepton_core.workspace import Workspace


class AnyModel:  # load_table runs before the model is used: any version will do
    def get(self, name, version):  # the log reads its name and number; the route, its kind
        version = SimpleNamespace(name=name, version=1)
        return SimpleNamespace(version=version, model=SimpleNamespace(reads="table"))


app = create_app(Workspace(sys.argv[1]), require_key=False)
app.state.serving.models = AnyModel()
client = TestClient(app)
client.post("/models/m/versions/1/batch", files={{"file": ("t.csv", b"")}})  # warm up: 422
before, answers = memory_mb("VmRSS:"), []
for path in sys.argv[2:]:
    with open(path, "rb") as handle:
        body = handle.read()
    response = client.post("/models/m/versions/1/batch", files={{"file": (path, body)}})
    answers.append([response.status_code, response.json().get("detail")])
    del body, response
print(json.dumps({{"answers": answers, "before_mb": before, "after_mb": memory_mb("VmRSS:"),
                  "peak_mb": memory_mb("VmHWM:")}}))
"""
)


def test_batch_route_answers_422_for_each_bomb_and_keeps_no_memory(tmp_path):
    bombs = [
        _long_strings_parquet(tmp_path / "strings.parquet"),
        _zeros_parquet(tmp_path / "zeros.parquet", rows=40_000_000),
        _sparse_csv(tmp_path / "sparse.csv", 12 * 2**20),  # under the 16 MB request limit
        _wide_csv(tmp_path / "wide.csv", 100_000),
    ]
    deep = tmp_path / "deep.json"
    deep.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    bombs.append(deep)
    workspace = tmp_path / "workspace"
    code = _BATCH.format(cap=2 * 2**30)  # the API's imports need more room than the loader's
    result = _run_capped(code, str(workspace), *map(str, bombs))
    details = [detail for _, detail in result["answers"]]
    assert [status for status, _ in result["answers"]] == [422] * len(bombs), details
    assert "LEPTON_MAX_DECOMPRESSED_MB" in details[0]
    assert "LEPTON_MAX_ROWS" in details[1]
    assert details[2].startswith("The file looks binary")
    assert "LEPTON_MAX_COLUMNS" in details[3]
    assert "LEPTON_MAX_JSON_DEPTH" in details[4]
    # Refused before reading: the server neither grows nor keeps what it read.
    assert result["peak_mb"] - result["before_mb"] < 150, result
    assert result["after_mb"] - result["before_mb"] < 100, result


def _hub_table(monkeypatch, columns: int, rows: int) -> None:
    import datasets

    table = datasets.Dataset.from_dict({f"c{i}": list(range(rows)) for i in range(columns)})
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: table)


def test_hub_data_set_is_cut_to_the_row_limit(monkeypatch):
    from lepton_core.data import load_hub_dataset

    _hub_table(monkeypatch, columns=3, rows=500)
    monkeypatch.setenv("LEPTON_MAX_ROWS", "120")
    assert load_hub_dataset("someone/big").shape == (120, 3)
    monkeypatch.setenv("LEPTON_MAX_CELLS", "150")
    assert load_hub_dataset("someone/big").shape == (50, 3)


def test_hub_data_set_over_the_column_or_size_limit_is_refused(monkeypatch):
    from lepton_core.data import load_hub_dataset

    _hub_table(monkeypatch, columns=30, rows=10)
    monkeypatch.setenv("LEPTON_MAX_COLUMNS", "20")
    with pytest.raises(DataError, match="30 columns, over the 20-column limit"):
        load_hub_dataset("someone/wide")
    monkeypatch.delenv("LEPTON_MAX_COLUMNS")
    _hub_table(monkeypatch, columns=2, rows=400_000)  # 6.4 MB of int64
    monkeypatch.setenv("LEPTON_MAX_DECOMPRESSED_MB", "1")
    with pytest.raises(DataError, match="LEPTON_MAX_DECOMPRESSED_MB"):
        load_hub_dataset("someone/heavy")
