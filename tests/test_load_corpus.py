"""A corpus of files shaped like the ones people really have, each with the table it must give.

Every file is built here from a real layout: UCI ``.data`` files (whitespace or
comma, no header), office CSV exports in GBK, Big5, Shift-JIS, cp1252 and
UTF-16, European semicolons with decimal commas, Excel workbooks with several
sheets and a title row, zips holding a table, and a zip bomb named ``.xlsx``.
Each case checks the shape, the column names, a few values and what
:func:`read_table` says it detected. The overrides and :class:`TableFormat`
are tested at the end.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd
import pytest

from lepton_core.core import DataError
from lepton_core.data import LIMIT_SETTINGS, InputLimits, TableFormat, load_table, read_table

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _default_limits(monkeypatch):
    for name, _ in LIMIT_SETTINGS.values():
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------- builders


def _letters(i: int) -> str:
    out, i = "", i + 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def xlsx(sheets: dict[str, list[list]]) -> bytes:
    """A minimal .xlsx (inline strings, numbers) with one worksheet per item, in order."""
    names = list(sheets)
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel_ns = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
    office = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(len(names))
        )
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            f"{overrides}</Types>",
        )
        z.writestr(
            "_rels/.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships {rel_ns}><Relationship '
            f'Id="rId1" Type="{office}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><workbook {ns} xmlns:r="{office}"><sheets>'
            + "".join(
                f'<sheet name="{escape(n)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                for i, n in enumerate(names)
            )
            + "</sheets></workbook>",
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships {rel_ns}>'
            + "".join(
                f'<Relationship Id="rId{i + 1}" Type="{office}/worksheet" '
                f'Target="worksheets/sheet{i + 1}.xml"/>'
                for i in range(len(names))
            )
            + "</Relationships>",
        )
        for i, name in enumerate(names):
            rows = sheets[name]
            xml_rows = []
            for r, row in enumerate(rows):
                cells = []
                for c, value in enumerate(row):
                    ref = f"{_letters(c)}{r + 1}"
                    if value is None or value == "":
                        continue
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        cells.append(f'<c r="{ref}"><v>{value}</v></c>')
                    else:
                        text = escape(str(value))
                        cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')
                xml_rows.append(f'<row r="{r + 1}">{"".join(cells)}</row>')
            width = max((len(row) for row in rows), default=1)
            dimension = f"A1:{_letters(max(width, 1) - 1)}{max(len(rows), 1)}"
            z.writestr(
                f"xl/worksheets/sheet{i + 1}.xml",
                f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}><dimension '
                f'ref="{dimension}"/><sheetData>{"".join(xml_rows)}</sheetData></worksheet>',
            )
    return buffer.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buffer.getvalue()


HOUSING = (
    " 0.00632  18.00   2.310  0  0.5380  6.5750 "
    " 65.20  4.0900   1  296.0  15.30 396.90   4.98  24.00\n"
    " 0.02731   0.00   7.070  0  0.4690  6.4210 "
    " 78.90  4.9671   2  242.0  17.80 396.90   9.14  21.60\n"
    " 0.02729   0.00   7.070  0  0.4690  7.1850 "
    " 61.10  4.9671   2  242.0  17.80 392.83   4.03  34.70\n"
    " 0.03237   0.00   2.180  0  0.4580  6.9980 "
    " 45.80  6.0622   3  222.0  18.70 394.63   2.94  33.40\n"
    " 0.06905   0.00   2.180  0  0.4580  7.1470 "
    " 54.20  6.0622   3  222.0  18.70 396.90   5.33  36.20\n"
)
AUTO_MPG = (
    '18.0   8   307.0      130.0      3504.      12.0   70  1\t"chevrolet chevelle malibu"\n'
    '15.0   8   350.0      165.0      3693.      11.5   70  1\t"buick skylark 320"\n'
    '25.0   4   98.00      ?          2046.      19.0   71  1\t"ford pinto"\n'
    '24.0   4   113.0      95.00      2372.      15.0   70  3\t"toyota corona mark ii"\n'
)
IRIS = (
    "5.1,3.5,1.4,0.2,Iris-setosa\n4.9,3.0,1.4,0.2,Iris-setosa\n7.0,3.2,4.7,1.4,Iris-versicolor\n"
    "6.4,3.2,4.5,1.5,Iris-versicolor\n6.3,3.3,6.0,2.5,Iris-virginica\n"
)
ADULT_NO_HEADER = (
    "39, State-gov, 77516, Bachelors, 13, Never-married, Male, <=50K\n"
    "50, Self-emp-not-inc, 83311, Bachelors, 13, Married-civ-spouse, Male, <=50K\n"
    "38, Private, 215646, HS-grad, 9, Divorced, Male, <=50K\n"
    "53, Private, 234721, 11th, 7, Married-civ-spouse, Male, >50K\n"
)
ZH_ROWS = [
    ("姓名", "城市", "年龄", "评价"),
    ("张伟", "北京", 34, "服务很好，下次还来"),
    ("王芳", "上海", 28, "送餐太慢了"),
    ("李娜", "广州", 45, "味道一般，价格偏高"),
    ("刘洋", "深圳", 31, "非常满意"),
]


def _csv(rows, sep=",", newline="\n") -> str:
    return newline.join(sep.join(str(v) for v in row) for row in rows) + newline


@dataclass
class Case:
    """One file, what it must load as, and what must be detected."""

    id: str
    content: bytes
    filename: str | None
    shape: tuple[int, int]
    columns: list[str] | None = None
    values: dict[str, list] = field(default_factory=dict)
    detected: dict[str, object] = field(default_factory=dict)


def _numbered(n: int) -> list[str]:
    return [f"column_{i + 1}" for i in range(n)]


SALES_BOOK = xlsx(
    {
        "Notes": [],
        "Sales": [
            ["Sales report 2024"],
            [],
            ["region", "month", "amount", "units"],
            ["North", "2024-01", 1200.5, 10],
            ["South", "2024-01", 980, 7],
            ["North", "2024-02", 1310.25, 12],
        ],
        "Summary": [["total"], [3490.75]],
    }
)

CASES = [
    Case(
        "uci_housing_whitespace_no_header",
        HOUSING.encode(),
        "housing.data",
        (5, 14),
        _numbered(14),
        {"column_1": [0.00632, 0.02731], "column_14": [24.0, 21.6]},
        {"format": "csv", "delimiter": r"\s+", "header": False},
    ),
    Case(
        "uci_auto_mpg_whitespace_quoted_names",
        AUTO_MPG.encode(),
        "auto-mpg.data",
        (4, 9),
        _numbered(9),
        {"column_9": ["chevrolet chevelle malibu", "buick skylark 320"], "column_1": [18.0, 15.0]},
        {"delimiter": r"\s+", "header": False},
    ),
    Case(
        "uci_iris_headerless_csv",
        IRIS.encode(),
        "iris.data",
        (5, 5),
        _numbered(5),
        {"column_5": ["Iris-setosa", "Iris-setosa"], "column_1": [5.1, 4.9]},
        {"delimiter": ",", "header": False},
    ),
    Case(
        "uci_adult_headerless_comma_space",
        ADULT_NO_HEADER.encode(),
        "adult.data",
        (4, 8),
        _numbered(8),
        {"column_1": [39, 50], "column_2": ["State-gov", "Self-emp-not-inc"]},
        {"delimiter": ",", "header": False},
    ),
    Case(
        "headerless_numeric_with_binary_target",
        b"1.5,2,0\n2.5,3,1\n0.5,7,1\n3.0,1,0\n",
        "numbers.csv",
        (4, 3),
        _numbered(3),
        {"column_3": [0, 1, 1, 0]},
        {"header": False},
    ),
    Case(
        "gbk_chinese_headers_and_values",
        _csv(ZH_ROWS).encode("gbk"),
        "订单.csv",
        (4, 4),
        ["姓名", "城市", "年龄", "评价"],
        {"城市": ["北京", "上海"], "评价": ["服务很好，下次还来", "送餐太慢了"], "年龄": [34, 28]},
        {"encoding": "gb18030", "header": True, "delimiter": ","},
    ),
    Case(
        "gb18030_large_file_detected_on_a_sample",
        (_csv(ZH_ROWS[:1]) + _csv(ZH_ROWS[1:]) * 500).encode("gb18030"),
        "big.csv",
        (2000, 4),
        ["姓名", "城市", "年龄", "评价"],
        {"姓名": ["张伟", "王芳"]},
        {"encoding": "gb18030"},
    ),
    Case(
        "big5_traditional_chinese",
        "姓名,城市,年齡\n陳大文,台北,30\n林小明,高雄,25\n黃美玲,台中,41\n".encode("big5"),
        "名單.csv",
        (3, 3),
        ["姓名", "城市", "年齡"],
        {"城市": ["台北", "高雄", "台中"]},
        {"encoding": "big5"},
    ),
    Case(
        "shift_jis_japanese",
        "名前,都市,年齢,コメント\n山田太郎,東京,30,とても良い\n佐藤花子,大阪,25,普通です\n"
        "鈴木一郎,名古屋,41,また来ます\n".encode("shift_jis"),
        "顧客.csv",
        (3, 4),
        ["名前", "都市", "年齢", "コメント"],
        {"都市": ["東京", "大阪", "名古屋"], "年齢": [30, 25, 41]},
        {"encoding": "cp932"},
    ),
    Case(
        "cp1252_german_semicolon_decimal_comma",
        "Name;Straße;Größe;Gewicht\r\nJürgen;Hauptstraße 5;1,80;82,5\r\nBärbel;Königsallee 1;1,65;"
        "61,0\r\nSören;Müllerweg 3;1,92;90,25\r\n".encode("cp1252"),
        "kunden.csv",
        (3, 4),
        ["Name", "Straße", "Größe", "Gewicht"],
        {"Name": ["Jürgen", "Bärbel", "Sören"], "Größe": [1.8, 1.65, 1.92]},
        {"encoding": "cp1252", "delimiter": ";", "decimal": ","},
    ),
    Case(
        "cp1252_french_accents_comma",
        "nom,ville,prix\nZoë,Montréal,12\nJosé,São Paulo,30\nFrançois,Genève,7\n".encode("cp1252"),
        "clients.csv",
        (3, 3),
        ["nom", "ville", "prix"],
        {"ville": ["Montréal", "São Paulo", "Genève"]},
        {"encoding": "cp1252"},
    ),
    Case(
        "cp1251_cyrillic",
        "имя,город,возраст\nИван,Москва,30\nОльга,Казань,25\nПётр,Самара,41\n".encode("cp1251"),
        "люди.csv",
        (3, 3),
        ["имя", "город", "возраст"],
        {"город": ["Москва", "Казань", "Самара"]},
        {"encoding": "cp1251"},
    ),
    Case(
        "utf16_excel_unicode_text_export",
        _csv(ZH_ROWS, sep="\t", newline="\r\n").encode("utf-16"),
        "export.txt",
        (4, 4),
        ["姓名", "城市", "年龄", "评价"],
        {"城市": ["北京", "上海"]},
        {"encoding": "utf_16", "delimiter": "\t"},
    ),
    Case(
        "utf8_bom_chinese",
        b"\xef\xbb\xbf" + _csv(ZH_ROWS).encode(),
        "bom.csv",
        (4, 4),
        ["姓名", "城市", "年龄", "评价"],
        {"姓名": ["张伟", "王芳"]},
        {"encoding": "utf_8"},
    ),
    Case(
        "windows_line_ends",
        b"id,name,score\r\n1,ann,2.5\r\n2,bob,3.5\r\n3,cy,1.0\r\n",
        "win.csv",
        (3, 3),
        ["id", "name", "score"],
        {"name": ["ann", "bob", "cy"], "score": [2.5, 3.5, 1.0]},
    ),
    Case(
        "semicolon_decimal_comma_thousands_dot",
        b"Artikel;Preis;Menge\nStuhl;1.234,50;3\nTisch;899,99;1\nLampe;12,00;10\n",
        "preise.csv",
        (3, 3),
        ["Artikel", "Preis", "Menge"],
        {"Preis": [1234.5, 899.99, 12.0]},
        {"delimiter": ";", "decimal": ","},
    ),
    Case(
        "pipe_separated",
        b"id|product|price\n1|tea, green|3.5\n2|coffee|4.0\n3|milk|1.2\n",
        "export.txt",
        (3, 3),
        ["id", "product", "price"],
        {"product": ["tea, green", "coffee", "milk"]},
        {"delimiter": "|"},
    ),
    Case(
        "tab_separated_with_commas_in_text",
        b"label\tsentence\n" + b"".join(f"{i % 2}\tone, two, {i}\n".encode() for i in range(20)),
        "reviews.tsv",
        (20, 2),
        ["label", "sentence"],
        {"sentence": ["one, two, 0", "one, two, 1"]},
        {"delimiter": "\t"},
    ),
    Case(
        "excel_sep_line",
        b"sep=;\r\nname;amount\r\nann;1,5\r\nbob;2,25\r\n",
        "excel.csv",
        (2, 2),
        ["name", "amount"],
        {"amount": [1.5, 2.25]},
        {"delimiter": ";"},
    ),
    Case(
        "quoted_newlines_and_delimiters",
        b'id,comment,city\n1,"first line\nsecond, with comma",Paris\n2,"say ""hi""",Rome\n'
        b"3,plain,Oslo\n",
        "comments.csv",
        (3, 3),
        ["id", "comment", "city"],
        {"comment": ["first line\nsecond, with comma", 'say "hi"', "plain"]},
        {"delimiter": ","},
    ),
    Case(
        "trailing_delimiters",
        b"a;b;c;\n1;x;2;\n3;y;4;\n",
        "trailing.csv",
        (2, 3),
        ["a", "b", "c"],
        {"b": ["x", "y"]},
    ),
    Case(
        "colon_separated",
        b"user:uid:gid:shell\nroot:0:0:bash\ndaemon:1:1:nologin\nbin:2:2:nologin\n",
        "passwd.txt",
        (3, 4),
        ["user", "uid", "gid", "shell"],
        {"uid": [0, 1, 2]},
        {"delimiter": ":"},
    ),
    Case(
        "caret_separated",
        b"code^name^qty\nA1^bolt, steel^100\nB2^nut^250\nC3^washer^75\n",
        "parts.txt",
        (3, 3),
        ["code", "name", "qty"],
        {"name": ["bolt, steel", "nut", "washer"]},
        {"delimiter": "^"},
    ),
    Case(
        "tilde_separated",
        b"id~text~score\n1~good; very~5\n2~bad~1\n3~fine~3\n",
        "t.txt",
        (3, 3),
        ["id", "text", "score"],
        {"text": ["good; very", "bad", "fine"]},
        {"delimiter": "~"},
    ),
    Case(
        "comma_with_times_and_dates",
        b"when,at,value\n2024-03-05,12:30:00,1\n2024-03-06,08:15:00,2\n2024-03-07,17:45:30,3\n",
        "log.csv",
        (3, 3),
        ["when", "at", "value"],
        {"at": ["12:30:00", "08:15:00", "17:45:30"]},
        {"delimiter": ","},
    ),
    Case(
        "whitespace_with_header",
        b"CRIM ZN INDUS MEDV\n0.00632 18.0 2.31 24.0\n0.02731 0.0 7.07 21.6\n"
        b"0.02729 0.0 7.07 34.7\n",
        "boston.txt",
        (3, 4),
        ["CRIM", "ZN", "INDUS", "MEDV"],
        {"MEDV": [24.0, 21.6, 34.7]},
        {"delimiter": r"\s+", "header": True},
    ),
    Case(
        "excel_several_sheets_title_row",
        SALES_BOOK,
        "report.xlsx",
        (3, 4),
        ["region", "month", "amount", "units"],
        {"amount": [1200.5, 980, 1310.25], "units": [10, 7, 12]},
        {
            "format": "excel",
            "sheet": "Sales",
            "sheets": ["Notes", "Sales", "Summary"],
            "skipped_rows": 2,
            "header": True,
        },
    ),
    Case(
        "excel_chinese_sheet_and_headers",
        xlsx({"销售": [list(r) for r in ZH_ROWS]}),
        "销售.xlsx",
        (4, 4),
        ["姓名", "城市", "年龄", "评价"],
        {"年龄": [34, 28, 45, 31]},
        {"format": "excel", "sheet": "销售"},
    ),
    Case(
        "excel_headerless_numbers",
        xlsx({"Data": [[1.5, 2, 0], [2.5, 3, 1], [0.5, 7, 1]]}),
        "numbers.xlsm",
        (3, 3),
        _numbered(3),
        {"column_3": [0, 1, 1]},
        {"format": "excel", "header": False},
    ),
    Case(
        "zip_with_one_csv_and_mac_litter",
        zipped(
            {
                "data/train.csv": b"a,b\n1,x\n2,y\n",
                "__MACOSX/data/._train.csv": b"\x00\x05junk",
                "data/.DS_Store": b"\x00\x00junk",
                "README.md": b"about the data",
            }
        ),
        "download.zip",
        (2, 2),
        ["a", "b"],
        {"b": ["x", "y"]},
        {"member": "data/train.csv", "format": "csv"},
    ),
    Case(
        "zip_with_an_excel_workbook",
        zipped({"report.xlsx": SALES_BOOK}),
        "report.zip",
        (3, 4),
        ["region", "month", "amount", "units"],
        {"region": ["North", "South", "North"]},
        {"member": "report.xlsx", "format": "excel", "sheet": "Sales"},
    ),
    Case(
        "zip_with_gbk_csv",
        zipped({"订单.csv": _csv(ZH_ROWS).encode("gbk")}),
        "orders.zip",
        (4, 4),
        ["姓名", "城市", "年龄", "评价"],
        {"城市": ["北京", "上海"]},
        {"encoding": "gb18030", "member": "订单.csv"},
    ),
    Case(
        "gzip_csv",
        gzip.compress(IRIS.encode()),
        "iris.data.gz",
        (5, 5),
        _numbered(5),
        {"column_5": ["Iris-setosa", "Iris-setosa"]},
        {"member": "iris.data", "header": False},
    ),
    Case(
        "zip_with_parquet",
        zipped({"t.parquet": pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_parquet()}),
        "t.zip",
        (2, 2),
        ["a", "b"],
        {"a": [1, 2]},
        {"format": "parquet", "member": "t.parquet"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_file_loads_as_expected(case: Case):
    df, fmt = read_table(case.content, filename=case.filename)
    assert df.shape == case.shape, df.head()
    if case.columns is not None:
        assert list(df.columns) == case.columns
    for column, values in case.values.items():
        assert df[column].tolist()[: len(values)] == values, column
    for name, value in case.detected.items():
        assert getattr(fmt, name) == value, (name, fmt)
    # load_table gives the same table.
    pd.testing.assert_frame_equal(load_table(case.content, filename=case.filename), df)


def test_the_corpus_has_at_least_30_files():
    assert len(CASES) + len(REFUSED) >= 30


REFUSED = [
    (
        "zip_with_two_tables",
        zipped({"train.csv": b"a\n1\n", "test.csv": b"a\n2\n"}),
        "split.zip",
        r"^The zip archive holds 2 tables \('train.csv', 'test.csv'\); upload one of them",
    ),
    (
        "nested_zip",
        zipped({"inner.zip": zipped({"t.csv": b"a\n1\n"})}),
        "outer.zip",
        r"^The zip archive holds another archive \('inner.zip'\), not a table",
    ),
    (
        "zip_without_a_table",
        zipped({"notes.docx": b"words", "photo.png": b"\x89PNG"}),
        "stuff.zip",
        r"^The zip archive holds no table \(it has 'notes.docx', 'photo.png'\)",
    ),
    ("bzip2_csv", bz2.compress(IRIS.encode()), "iris.csv.bz2", r"bzip2-compressed, not a table"),
    (
        "plain_zip_named_xlsx",
        zipped({"t.csv": b"a\n1\n"}),
        "book.xlsx",
        r"named like an Excel workbook but is a plain zip archive",
    ),
    (
        "csv_named_xlsx",
        b"a,b\n1,2\n",
        "book.xlsx",
        r"named like an Excel workbook but is not one",
    ),
    (
        "empty_workbook",
        xlsx({"Sheet1": [], "Sheet2": []}),
        "empty.xlsx",
        r"^Every sheet of the workbook is empty",
    ),
]


@pytest.mark.parametrize(("content", "filename", "message"), [r[1:] for r in REFUSED])
def test_corpus_file_is_refused_with_a_sentence(content, filename, message):
    with pytest.raises(DataError, match=message):
        read_table(content, filename=filename)


# --------------------------------------------------------------------------- bombs


def _xlsx_bomb(path: Path, size: int = 1100 * 2**20) -> Path:
    """An .xlsx whose one sheet inflates to ``size`` bytes of rows (a few MB on disk)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx({"Sheet1": [["a"], [1]]})))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                z.writestr(info.filename, source.read(info.filename))
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/')
            sheet.write(b'2006/main"><sheetData>')
            chunk = b"<row><c><v>0</v></c></row>" * 40000
            for _ in range(size // len(chunk)):
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return path


_CAPPED = """
import json, resource, sys
cap = int(1.5 * 2**30)
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from lepton_core.core import DataError
from lepton_core.data import load_table
try:
    result = {"shape": list(load_table(sys.argv[1]).shape)}
except DataError as exc:
    result = {"error": str(exc)}
with open("/proc/self/status") as status:
    peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) / 1024
result["peak_mb"] = peak
print(json.dumps(result))
"""


def _load_capped(path: Path) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEPTON_MAX_")}
    environ.update(ARROW_DEFAULT_MEMORY_POOL="system", MALLOC_ARENA_MAX="2", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", _CAPPED, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=environ,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_xlsx_zip_bomb_is_refused_from_its_directory_in_little_memory(tmp_path):
    path = _xlsx_bomb(tmp_path / "bomb.xlsx")
    assert path.stat().st_size < 10 * 2**20
    result = _load_capped(path)
    assert result.get("error", "").startswith(
        "The Excel workbook decompresses to 1,100 MB, over the 1,000 MB limit on decompressed"
    ), result
    assert result["peak_mb"] < 400, result


def test_zip_bomb_holding_a_csv_is_refused(tmp_path):
    path = tmp_path / "bomb.zip"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z,
        z.open("big.csv", "w", force_zip64=True) as member,
    ):
        member.write(b"a,b\n")
        for _ in range(300):
            member.write(b"1,2\n" * 2**18)
    limits = InputLimits(max_decompressed_bytes=100 * 2**20)
    with pytest.raises(DataError, match=r"^The zip archive decompresses to 300 MB, over the 100"):
        load_table(path, limits=limits)


def test_workbook_whose_directory_lies_about_a_size_is_refused():
    """A sheet declared 10 bytes that inflates larger fails its check before calamine sees it."""
    data = bytearray(SALES_BOOK)
    name = b"xl/worksheets/sheet2.xml"
    info = zipfile.ZipFile(io.BytesIO(SALES_BOOK)).getinfo(name.decode())
    data[info.header_offset + 22 : info.header_offset + 26] = (10).to_bytes(4, "little")
    central = bytes(data).find(b"PK\x01\x02")
    while bytes(data[central + 46 : central + 46 + len(name)]) != name:
        central = bytes(data).find(b"PK\x01\x02", central + 4)
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(DataError, match=r"^The Excel workbook could not be read \(a damaged"):
        read_table(bytes(data), filename="lie.xlsx")


def test_gzip_bomb_stops_at_the_limit():
    bomb = gzip.compress(b"a,b\n" + b"1,2\n" * (10 * 2**20))
    limits = InputLimits(max_decompressed_bytes=2**20)
    with pytest.raises(DataError, match=r"^The gzip file decompresses to more than 1.0 MB"):
        read_table(bomb, filename="t.csv.gz", limits=limits)


def test_workbook_over_the_row_limit_is_refused_from_its_dimension():
    book = xlsx({"Sheet1": [["a", "b"]] + [[i, i] for i in range(50)]})
    with pytest.raises(DataError, match=r"^The table has 50 rows, over the 10-row limit"):
        read_table(book, filename="t.xlsx", limits=InputLimits(max_rows=10))
    assert read_table(book, filename="t.xlsx", limits=InputLimits(max_rows=50))[0].shape == (50, 2)


# --------------------------------------------------------------------------- overrides


def test_encoding_override():
    content = _csv(ZH_ROWS).encode("gbk")
    df, fmt = read_table(content, filename="t.csv", encoding="GBK")
    assert fmt.encoding == "gbk" and df["城市"].iloc[0] == "北京"
    garbled, fmt = read_table(content, filename="t.csv", encoding="latin-1")
    assert fmt.encoding == "iso8859_1" and "北京" not in garbled.iloc[:, 1].tolist()
    with pytest.raises(DataError, match=r"'klingon' is not an encoding Lepton knows"):
        read_table(content, filename="t.csv", encoding="klingon")


def test_delimiter_override():
    content = b"a;b,c\n1;2,3\n4;5,6\n"
    assert read_table(content, filename="t.csv")[0].shape[1] in (2, 3)
    df, fmt = read_table(content, filename="t.csv", delimiter=";")
    assert list(df.columns) == ["a", "b,c"] and fmt.delimiter == ";"
    df, fmt = read_table(content, filename="t.csv", delimiter=",")
    assert list(df.columns) == ["a;b", "c"]
    df, fmt = read_table(HOUSING.encode(), filename="h.data", delimiter=" ", header=False)
    assert df.shape == (5, 14) and fmt.delimiter == r"\s+"
    with pytest.raises(ValueError, match="one character"):
        read_table(content, filename="t.csv", delimiter=";;")


def test_header_override():
    df, fmt = read_table(IRIS.encode(), filename="iris.csv", header=True)
    assert fmt.header and df.columns[0] == "5.1" and len(df) == 4
    df, fmt = read_table(b"a,b\n1,2\n3,4\n", filename="t.csv", header=False)
    assert not fmt.header and list(df.columns) == ["column_1", "column_2"]
    assert df["column_1"].tolist() == ["a", "1", "3"]
    df, fmt = read_table(SALES_BOOK, filename="r.xlsx", header=False)
    assert list(df.columns) == _numbered(4) and df["column_1"].iloc[0] == "region"


def test_sheet_override():
    df, fmt = read_table(SALES_BOOK, filename="r.xlsx", sheet="Summary")
    assert fmt.sheet == "Summary" and df.to_dict("list") == {"total": [3490.75]}
    df, fmt = read_table(SALES_BOOK, filename="r.xlsx", sheet=2)
    assert fmt.sheet == "Summary"
    with pytest.raises(DataError, match=r"no sheet named 'Costs'; pick one of 'Notes', 'Sales'"):
        read_table(SALES_BOOK, filename="r.xlsx", sheet="Costs")
    with pytest.raises(DataError, match=r"The sheet 'Notes' is empty"):
        read_table(SALES_BOOK, filename="r.xlsx", sheet="Notes")


def test_table_format_round_trips_through_json_and_says_what_it_found():
    _, fmt = read_table(_csv(ZH_ROWS).encode("gbk"), filename="t.csv")
    assert TableFormat.from_json(fmt.to_json()) == fmt
    assert fmt.describe() == (
        "Read as a comma-separated file, encoding GBK/GB18030, first row used as column names"
    )
    _, fmt = read_table(SALES_BOOK, filename="r.xlsx")
    assert TableFormat.from_json(fmt.to_json()) == fmt
    assert fmt.describe().startswith("Read as an Excel workbook, sheet 'Sales' of 3")
    _, fmt = read_table(HOUSING.encode(), filename="housing.data")
    assert "separated by spaces" in fmt.describe() and "no header row" in fmt.describe()


# --------------------------------------------------------------------------- Data page


def _data_page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(ROOT / "app.py", default_timeout=120)
    at.switch_page("app_pages/data.py")
    return at


def _no_exception(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_data_page_says_what_it_detected_and_rereads_in_one_click():
    from app_pages._common import Keys

    at = _no_exception(_data_page().run())
    at.radio[0].set_value("Upload a file")
    _no_exception(at.run())
    at.file_uploader[0].upload("report.xlsx", SALES_BOOK, "application/octet-stream")
    _no_exception(at.run())
    # Chosen but not loaded: nothing of another table is shown as if it were this one.
    assert any("press **Load file**" in i.value for i in at.info)
    assert not at.dataframe
    next(b for b in at.button if b.label == "Load file").click()
    _no_exception(at.run())
    captions = [c.value for c in at.caption]
    assert any("Read as an Excel workbook, sheet 'Sales' of 3" in c for c in captions), captions
    assert list(at.session_state[Keys.DRAFT]["df"].columns) == [
        "region",
        "month",
        "amount",
        "units",
    ]
    next(s for s in at.selectbox if s.label == "Sheet").set_value("Summary")
    next(b for b in at.button if b.label == "Read the file again with these settings").click()
    _no_exception(at.run())
    assert list(at.session_state[Keys.DRAFT]["df"].columns) == ["total"]
    # A new file is chosen: the old preview is not shown as this one's.
    at.file_uploader[0].upload("iris.data", IRIS.encode(), "text/plain")
    _no_exception(at.run())
    assert any("iris.data" in i.value for i in at.info) and not at.dataframe
    next(b for b in at.button if b.label == "Load file").click()
    _no_exception(at.run())
    assert list(at.session_state[Keys.DRAFT]["df"].columns) == _numbered(5)
    next(r for r in at.radio if r.label == "Does the first row name the columns?").set_value("Yes")
    next(b for b in at.button if b.label == "Read the file again with these settings").click()
    _no_exception(at.run())
    df = at.session_state[Keys.DRAFT]["df"]
    assert df.columns[0] == "5.1" and len(df) == 4
