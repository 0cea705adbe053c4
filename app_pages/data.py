"""Step 1 · Data: load a table, look at it, and confirm target, task and sensitive columns."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from app_pages._common import (
    UPLOAD_TYPES,
    Keys,
    choose_dataset,
    guard,
    header,
    python_cell,
    task_word,
    workspace,
)
from app_pages._i18n import language, say, tr

header(
    tr("1 · Data"),
    tr(
        "Upload a table or pick a sample, check what Lepton made of each column, then say what "
        "to predict and which columns describe groups of people whose treatment should be fair."
    ),
)

# Imported after the heading is on screen: a first visit imports the engine's heavy parts.
from app_pages._ner import NER_UPLOAD_TYPES, is_ner_upload, ner_data_section  # noqa: E402
from app_pages._privacy import plain_terms  # noqa: E402
from lepton_core.core import TASKS, cache_entries  # noqa: E402
from lepton_core.data import (  # noqa: E402
    ACTION_TITLES,
    ACTIONS,
    KIND_LABELS,
    TYPE_CHOICES,
    Action,
    CleanupStep,
    TableFormat,
    add_cleanup,
    anonymise,
    apply_cleanups,
    check_target,
    encoding_label,
    fingerprint,
    k_anonymity,
    list_samples,
    load_hub_dataset,
    load_salt,
    load_sample,
    load_table,
    parse_hub_source,
    profile_table,
    read_table,
    scan_table,
    set_type,
    suggest_cleanups,
)
from lepton_core.jobs import JobStore  # noqa: E402
from lepton_core.plots import class_balance_figure, column_distribution_figure, token_length_figure  # noqa: E402
from lepton_core.workspace import confirm_dataset  # noqa: E402

# Training comes next: a spare worker imports the training stack while the user loads and
# reads their data (started here, before any step can stop the page), so that the job
# started on the Train page begins at once. Starting it takes a few milliseconds.
JobStore(workspace()).warm()

upload_limit_mb = st.get_option("server.maxUploadSize")
# Column kinds in a spreadsheet user's words.
KIND_WORDS = {
    "numeric": tr("number"),
    "categorical": tr("category"),
    "boolean": tr("yes / no"),
    "datetime": tr("date"),
    "text": tr("text"),
    "identifier": tr("ID (not used)"),
}
# The "Use as" choices (keys of TYPE_CHOICES) in the reader's language.
TYPE_WORDS = {
    "number": KIND_WORDS["numeric"],
    "category": KIND_WORDS["categorical"],
    "text": KIND_WORDS["text"],
    "date": KIND_WORDS["datetime"],
    "leave out": tr("leave out"),
}
TYPE_HELP = tr(
    "number: amounts, counts, prices. category: a few groups such as 'Full-time'. "
    "text: sentences a text model reads (table models leave it out). date: days and times. "
    "leave out: the column is removed from the data set."
)


@st.cache_data(show_spinner=tr("Looking for personal data…"), max_entries=cache_entries(8))
def _scan(_df: pd.DataFrame, key: str):
    return scan_table(_df)


@st.cache_data(show_spinner=tr("Counting tokens…"), max_entries=cache_entries(8))
def _lengths(_texts: pd.Series, key: str):
    from lepton_core.text import length_stats

    return length_stats(_texts.fillna("").astype("str").tolist())


@st.cache_data(show_spinner=tr("Profiling the table…"), max_entries=cache_entries(8))
def _profile(_df: pd.DataFrame, key: str, target: str | None = None):
    # The leading underscore keeps Streamlit from hashing the table; ``key`` is its fingerprint.
    return profile_table(_df, target=target)


@st.cache_data(show_spinner=tr("Looking for columns to tidy…"), max_entries=cache_entries(8))
def _proposals(_df: pd.DataFrame, key: str):
    return suggest_cleanups(_df)


def _plain(text: str) -> str:
    """``text`` shown as written: "$5 … $7" is money, not a formula, in Streamlit's markdown."""
    return re.sub(r"([\\$*_`~\[\]])", r"\\\1", text)


def _redo(draft: dict, cleanups: list[CleanupStep]) -> None:
    """Apply ``cleanups`` to the table as loaded, then the personal-data actions again.

    Undoing a clean-up is applying the others, so the loaded table is never changed.
    """
    loaded = draft.setdefault("loaded", draft.get("original", draft["df"]))
    loaded_test = draft.setdefault("loaded_test", draft.get("original_test", draft["test"]))
    df = guard(apply_cleanups, loaded, cleanups)
    test = apply_cleanups(loaded_test, cleanups) if loaded_test is not None else None
    draft["cleanups"] = cleanups
    if draft.get("steps"):
        actions = [Action(s.column, s.action, s.option) for s in draft["steps"]]
        actions = [a for a in actions if a.column in df.columns]
        salt = load_salt(workspace().root)
        new_df, new_test, steps = guard(anonymise, df, actions, salt=salt, test=test)
        draft.update(original=df, original_test=test, df=new_df, test=new_test, steps=steps)
    else:
        draft.update(df=df, test=test)
    st.rerun()


DELIMITER_CHOICES = {
    ",": tr("comma ,"),
    ";": tr("semicolon ;"),
    "\t": tr("tab"),
    "|": tr("pipe |"),
    r"\s+": tr("spaces"),
    ":": tr("colon :"),
    "^": tr("caret ^"),
    "~": tr("tilde ~"),
}
ENCODING_CHOICES = ["utf_8", "gb18030", "big5", "cp932", "cp1252", "utf_16", "cp1251", "euc_kr"]


def _upload_id(upload) -> str:
    return getattr(upload, "file_id", None) or f"{upload.name}:{upload.size}"


def _load_upload(upload, test_upload, options: dict) -> None:
    """Read the upload (with the user's ``options`` over what is detected) into the draft."""
    limit = upload_limit_mb * 1024 * 1024
    df, read_as = guard(
        read_table, upload.getvalue(), filename=upload.name, max_bytes=limit, **options
    )
    test = None
    if test_upload is not None:
        test = guard(load_table, test_upload.getvalue(), filename=test_upload.name, max_bytes=limit)
    st.session_state[Keys.DRAFT] = {
        "name": upload.name.rsplit(".", 1)[0],
        "df": df,
        "test": test,
        "source": upload.name,
        "target": None,
        "sensitive": None,
        "about": tr("Uploaded file {name}.").format(name=upload.name),
        "upload_id": _upload_id(upload),
        "read_as": read_as.to_dict(),
        "read_options": options,
    }


def _read_options(read_as: TableFormat, chosen: dict) -> dict:
    """The expander's inputs, set to what was used; returns the overrides they ask for."""
    options: dict = {}
    if read_as.format == "csv":
        c1, c2 = st.columns(2)
        delimiters = dict(DELIMITER_CHOICES)
        delimiters.setdefault(read_as.delimiter or ",", repr(read_as.delimiter))
        keys = list(delimiters)
        options["delimiter"] = c1.selectbox(
            tr("Columns separated by"),
            keys,
            index=keys.index(read_as.delimiter or ","),
            format_func=delimiters.get,
        )
        encodings = list(ENCODING_CHOICES)
        if read_as.encoding and read_as.encoding not in encodings:
            encodings.insert(0, read_as.encoding)
        encoding = read_as.encoding or "utf_8"
        options["encoding"] = c2.selectbox(
            tr("Encoding"),
            encodings,
            index=encodings.index(encoding) if encoding in encodings else 0,
            format_func=encoding_label,
            help=tr(
                "GBK/GB18030 for Simplified Chinese, Big5 for Traditional Chinese, "
                "Shift-JIS for Japanese, Windows-1252 for Western European office files."
            ),
        )
    if read_as.format == "excel" and len(read_as.sheets) > 1:
        options["sheet"] = st.selectbox(
            tr("Sheet"),
            read_as.sheets,
            index=read_as.sheets.index(read_as.sheet) if read_as.sheet in read_as.sheets else 0,
        )
    if read_as.format in ("csv", "excel"):
        answers = {"Yes": tr("Yes"), "No": tr("No")}
        answer = st.radio(
            tr("Does the first row name the columns?"),
            list(answers),
            index=0 if read_as.header else 1,
            format_func=answers.get,
            horizontal=True,
        )
        options["header"] = answer == "Yes"
    return options


SOURCES = {
    "Sample": tr("Sample"),
    "Upload a file": tr("Upload a file"),
    "Hugging Face data set": tr("Hugging Face data set"),
    "Images": tr("Images"),
}
source = st.radio(tr("Source"), list(SOURCES), format_func=SOURCES.get, horizontal=True)
if source == "Images":  # labelled pictures: their own upload, grid and confirmation
    from app_pages._images import data_section

    data_section()
    st.stop()
if source == "Sample":
    name = st.selectbox(tr("Sample"), list_samples())
    if st.button(tr("Load sample"), type="primary"):
        sample = guard(load_sample, name)
        st.session_state[Keys.DRAFT] = {
            "name": sample.name,
            "df": sample.train,
            "test": sample.test,
            "source": f"sample:{sample.name}",
            "target": sample.target,
            "sensitive": sample.sensitive,
            "text_column": sample.text_column,
            "about": tr("{title}: {description} Source: {source}").format(
                title=say(sample.title), description=say(sample.description), source=sample.source
            ),
        }
elif source == "Hugging Face data set":
    h1, h2, h3 = st.columns([3, 1, 1])
    hub_id = h1.text_input(tr("Data set id"), placeholder="stanfordnlp/sst2")
    hub_config = h2.text_input(tr("Config (optional)"))
    hub_split = h3.text_input(tr("Split"), "train")
    st.caption(tr("Needs internet access; offline, upload the data as a file or pick a sample."))
    if hub_id and st.button(tr("Load data set"), type="primary"):
        df = guard(load_hub_dataset, hub_id.strip(), config=hub_config or None, split=hub_split)
        st.session_state[Keys.DRAFT] = {
            "name": hub_id.strip().replace("/", "-"),
            "df": df,
            "test": None,
            "source": f"hub:{hub_id.strip()}"
            + (f":{hub_config}" if hub_config else "")
            + f"@{hub_split}",
            "target": None,
            "sensitive": None,
            "about": tr("Hugging Face data set {id}, split {split}.").format(
                id=hub_id, split=hub_split
            ),
        }
else:
    upload = st.file_uploader(
        tr(
            "Table (CSV, TSV, Excel, Parquet, JSON, or a zip holding one), or sentences with "
            "their names marked (CoNLL/BIO, JSON lines)"
        ),
        type=[*UPLOAD_TYPES, *NER_UPLOAD_TYPES],  # CoNLL/BIO files: labelled sentences
    )
    test_upload = st.file_uploader(
        tr("Optional test table (same columns); otherwise part of the table is held out"),
        type=[*UPLOAD_TYPES, *NER_UPLOAD_TYPES],
    )
    if is_ner_upload(upload):  # labelled sentences: their own preview and confirmation
        ner_data_section(upload, test_upload)
        st.stop()
    if upload is not None and st.button(tr("Load file"), type="primary"):
        _load_upload(upload, test_upload, {})
    draft = st.session_state.get(Keys.DRAFT)
    if upload is not None and (draft is None or draft.get("upload_id") != _upload_id(upload)):
        # The table below would be another file's: never show it as if it were this one.
        st.info(
            tr("**{name}** is chosen; press **Load file** to read it.").format(
                name=_plain(upload.name)
            )
        )
        st.stop()
    if upload is not None and draft.get("read_as") is not None:
        read_as = TableFormat.from_dict(draft["read_as"])
        st.caption(f":material/description: {_plain(say(read_as.describe()))}.")
        with st.expander(tr("Adjust how the file is read")):
            options = _read_options(read_as, draft.get("read_options", {}))
            if st.button(tr("Read the file again with these settings")):
                _load_upload(upload, test_upload, options)

draft = st.session_state.get(Keys.DRAFT)
if draft is None:
    st.info(tr("Pick a sample or upload a file to begin."))
    python_cell(
        """
from lepton_core.data import load_table, profile_table
df = load_table("my_table.csv")
profile = profile_table(df)
"""
    )
    st.stop()

df: pd.DataFrame = draft["df"]
key = fingerprint(df)
profile = _profile(df, key)
st.caption(draft["about"])
c1, c2, c3, c4 = st.columns(4)
c1.metric(tr("Rows"), f"{profile.n_rows:,}")
c2.metric(tr("Columns"), profile.n_columns)
missing = sum(c.missing_share for c in profile.columns) / max(len(profile.columns), 1)
c3.metric(tr("Missing values"), f"{missing:.1%}")
c4.metric(
    tr("Test rows"), f"{len(draft['test']):,}" if draft["test"] is not None else tr("held out")
)
for warning in profile.warnings:  # hidden characters in a name, constant or empty columns…
    st.warning(say(warning), icon=":material/warning:")

st.subheader(tr("Preview"))
st.dataframe(df.head(200), height=260)

st.subheader(tr("Columns"))
st.dataframe(
    pd.DataFrame(
        {
            "column": [c.name for c in profile.columns],
            "type": [KIND_WORDS.get(c.kind, c.kind) for c in profile.columns],
            "missing": [c.missing_share for c in profile.columns],
            "distinct": [c.distinct for c in profile.columns],
        }
    ),
    # The table's own column names stay English; only their headings are translated.
    column_config={
        "column": st.column_config.Column(tr("column")),
        "type": st.column_config.Column(tr("type")),
        "missing": st.column_config.ProgressColumn(tr("missing"), format="percent"),
        "distinct": st.column_config.Column(tr("distinct")),
    },
    hide_index=True,
)
left, right = st.columns(2)
with left:
    # An ID or a free text has one value per row: start with a column whose values repeat.
    telling = [i for i, c in enumerate(profile.columns) if c.kind not in ("identifier", "text")]
    shown = st.selectbox(
        tr("Distribution of"),
        [c.name for c in profile.columns],
        index=telling[0] if telling else 0,
        key=f"distribution_{key}",
    )
    column = next(c for c in profile.columns if c.name == shown)
    st.plotly_chart(column_distribution_figure(column, language=language()))

st.subheader(tr("Clean-ups and column types"))
st.caption(
    tr(
        "Numbers written as text (\\$78,693, 34k, 45%, ￥3,000, 5万) can be read as numbers, "
        "words like 'n/a' become blanks, and spellings of one category ('Full-time', "
        "'full time ') can be merged. Nothing changes until you apply it, and every change "
        "can be undone."
    )
)
cleanups: list[CleanupStep] = draft.get("cleanups", [])
proposals = _proposals(df, key)
if proposals:
    ticked = [
        step
        for i, step in enumerate(proposals)
        if st.checkbox(_plain(say(step.description)), value=True, key=f"cleanup_{key}_{i}")
    ]
    if st.button(tr("Apply the ticked clean-ups"), disabled=not ticked):
        for step in ticked:
            cleanups = add_cleanup(cleanups, step)
        _redo(draft, cleanups)
else:
    st.caption(tr("No column needs tidying."))
t1, t2, t3 = st.columns([2, 2, 1], vertical_alignment="bottom")
type_column = t1.selectbox(tr("Column"), list(df.columns), key=f"type_column_{key}")
type_kind = t2.selectbox(
    tr("Use as"),
    list(TYPE_CHOICES),
    format_func=lambda choice: TYPE_WORDS.get(choice, choice),
    help=TYPE_HELP,
    key=f"type_kind_{key}",
)
if t3.button(tr("Set type")):
    _redo(draft, add_cleanup(cleanups, guard(set_type, df, type_column, type_kind)))
if cleanups:
    st.markdown(tr("**Applied**"))
    for i, step in enumerate(cleanups):
        a1, a2 = st.columns([6, 1], vertical_alignment="center")
        a1.markdown(f":material/check: {_plain(say(step.description))}")
        if a2.button(tr("Undo"), key=f"undo_{i}_{key}"):
            _redo(draft, [s for j, s in enumerate(cleanups) if j != i])

st.subheader(tr("Personal data"))
st.caption(
    tr(
        "Lepton looked at each column's name and a sample of its values for personal data. "
        "Detection is advisory, not a compliance guarantee: check the table yourself before "
        "training or sharing."
    )
)
scan = _scan(df, key)
for note in scan.notes:  # e.g. the free-text model could not be loaded
    st.warning(say(note))
original: pd.DataFrame = draft.get("original", df)
if draft.get("steps"):
    st.success(
        tr(
            "Applied: {steps}. The original table is kept as its own data set version when "
            "you confirm."
        ).format(
            steps="; ".join(
                f"{s.column} → {say(ACTION_TITLES[s.action])} ({say(s.detail)})"
                for s in draft["steps"]
            )
        )
    )
# Columns already anonymised keep their (hashed, generalised) values unless changed again.
done = {step.column: step.action for step in draft.get("steps", [])}
if scan.personal or scan.quasi_identifiers:
    edited = st.data_editor(
        pd.DataFrame(
            {
                "column": [f.column for f in scan.findings],
                "finding": [
                    tr("done: {action}").format(action=say(ACTION_TITLES[done[f.column]]))
                    if f.column in done
                    else say(KIND_LABELS.get(f.kind or "", ""))
                    for f in scan.findings
                ],
                "confidence": [
                    f.confidence if (f.kind or f.quasi_identifier) else None for f in scan.findings
                ],
                "quasi-identifier": [f.quasi_identifier for f in scan.findings],
                "why": [say(f.evidence) for f in scan.findings],
                "action": ["keep" if f.column in done else f.suggested for f in scan.findings],
                "option": [None for _ in scan.findings],
            }
        ),
        # The editor's column names stay English (rows are read back by them); only their
        # headings are translated.
        column_config={
            "column": st.column_config.Column(tr("column")),
            "finding": st.column_config.Column(tr("finding")),
            "confidence": st.column_config.ProgressColumn(tr("confidence"), format="percent"),
            "quasi-identifier": st.column_config.Column(tr("quasi-identifier")),
            "why": st.column_config.Column(tr("why")),
            "action": st.column_config.SelectboxColumn(
                tr("action"),
                options=ACTIONS,
                required=True,
                format_func=lambda action: say(ACTION_TITLES[action]),
            ),
            "option": st.column_config.TextColumn(
                tr("option"),
                help=tr(
                    "For generalise: age:10 (bands), ranges:5, year, month or prefix:3; "
                    "empty picks one from the column."
                ),
            ),
        },
        disabled=["column", "finding", "confidence", "quasi-identifier", "why"],
        hide_index=True,
        key=f"privacy_actions_{key}",
    )
    st.markdown(
        tr(
            "**Can someone be singled out?** — how many rows share each combination of the "
            "columns that could identify a person (k-anonymity)"
        ),
        help=plain_terms()["k_anonymity"],
    )
    k1, k2 = st.columns([3, 1])
    quasi = k1.multiselect(
        tr("Columns that could identify someone together (quasi-identifiers)"),
        list(df.columns),
        default=[c for c in scan.quasi_identifiers if c in df.columns],
        help=plain_terms()["quasi_identifier"],
    )
    k = int(
        k2.number_input(
            tr("Least rows per combination (k)"),
            min_value=2,
            max_value=100,
            value=5,
            help=tr("Combinations shared by fewer rows than this stand out."),
        )
    )
    before = guard(k_anonymity, original, [c for c in quasi if c in original.columns], k=k)
    after = guard(k_anonymity, df, quasi, k=k) if draft.get("steps") else None
    m1, m2, m3 = st.columns(3)
    m1.metric(tr("Smallest group (before)"), before.smallest_group)
    m2.metric(tr("Rows in groups below {k} (before)").format(k=k), f"{before.share_below_k:.1%}")
    if after is not None:
        m3.metric(
            tr("Rows in groups below {k} (after)").format(k=k),
            f"{after.share_below_k:.1%}",
            delta=f"{after.share_below_k - before.share_below_k:+.1%}",
            delta_color="inverse",
        )
        st.caption(tr("Smallest group after: {size}.").format(size=after.smallest_group))
    if st.button(tr("Apply actions")):
        chosen = [
            Action(row.column, row.action, row.option or None)
            for row in edited.itertuples(index=False)
            if row.action != "keep"
        ]
        new_df, new_test, steps = guard(
            anonymise, df, chosen, salt=load_salt(workspace().root), test=draft["test"]
        )
        draft.setdefault("original", df)
        draft.setdefault("original_test", draft["test"])
        draft.update(df=new_df, test=new_test, steps=[*draft.get("steps", []), *steps])
        st.rerun()
else:
    st.info(tr("No column looks like personal data or a quasi-identifier."))

st.subheader(tr("What to predict"))
names = list(df.columns)
suggested = draft["target"] or profile.suggestions.target
target = st.selectbox(
    tr("Target column"),
    names,
    index=names.index(suggested) if suggested in names else len(names) - 1,
)
inferred = guard(check_target, df, target)
target_profile = guard(_profile, df, key, target)
for warning in target_profile.warnings:
    if warning not in profile.warnings:  # about this target: alike rows, different labels
        st.warning(say(warning), icon=":material/warning:")
task = st.radio(
    tr("Task"),
    TASKS,
    index=TASKS.index(inferred),
    format_func=task_word,
    horizontal=True,
    help=tr("Inferred from the target column; change it only if Lepton guessed wrong."),
)
default_sensitive = draft["sensitive"]
if default_sensitive is None:
    default_sensitive = profile.suggestions.sensitive
sensitive = st.multiselect(
    tr("Sensitive columns (fairness is compared across their groups)"),
    [n for n in names if n != target],
    default=[s for s in default_sensitive if s != target and s in names],
)
with right:
    if task != "regression":
        st.plotly_chart(class_balance_figure(target_profile, language=language()))

text_columns = [c.name for c in profile.columns if c.kind == "text" and c.name != target]
text_column = ""
if text_columns and task != "regression":
    st.subheader(tr("Text"))
    default_text = draft.get("text_column") or text_columns[0]
    use_text = st.toggle(
        tr("Text classification: fine-tune a language model on a free-text column"),
        value=bool(draft.get("text_column")) or len(text_columns) == len(names) - 1,
    )
    if use_text:
        text_column = st.selectbox(
            tr("Text column"),
            text_columns,
            index=text_columns.index(default_text) if default_text in text_columns else 0,
        )
        st.caption(
            tr(
                "A text model reads this column only; combining text with the table's other "
                "columns is not supported yet (they can still be sensitive columns for fairness)."
            )
        )
        lengths = guard(_lengths, df[text_column], f"{key}:{text_column}")
        st.plotly_chart(token_length_figure(lengths, language=language()))
        st.caption(
            tr(
                "Texts are cut at {tokens} tokens while training, which keeps {whole:.0%} of "
                "them whole (the 95th percentile, capped); longer limits train more slowly."
            ).format(tokens=lengths.suggested_max_length, whole=1 - lengths.truncated_share)
        )

if st.button(tr("Use this data"), type="primary"):
    steps = draft.get("steps", [])
    info = guard(
        confirm_dataset,
        workspace(),
        df,
        name=draft["name"],
        target=target,
        task=task,
        sensitive=sensitive,
        text_column=text_column,
        test=draft["test"],
        source=draft["source"],
        # With no steps applied there is no older version to keep.
        original=original if steps else None,
        original_test=draft.get("original_test") if steps else None,
        steps=steps,
        cleanups=draft.get("cleanups", []),
    )
    choose_dataset(info.id)
    st.success(
        tr("Data set **{name}** is ready ({rows:,} rows); next, train a model.").format(
            name=info.name, rows=info.n_rows
        )
    )
    st.page_link("app_pages/train.py", label=tr("Go to Train"), icon=":material/model_training:")

if draft["source"].startswith("sample:"):
    load_code = f"df = load_sample({draft['name']!r}).train"
elif draft["source"].startswith("hub:"):
    hub_args = parse_hub_source(draft["source"])
    load_code = (
        f"df = load_hub_dataset({hub_args[0]!r}, config={hub_args[1]!r}, split={hub_args[2]!r})"
    )
elif draft.get("read_options"):
    settings = ", ".join(f"{k}={v!r}" for k, v in draft["read_options"].items())
    load_code = f"df, how = read_table({draft['source']!r}, {settings})"
else:
    load_code = f"df = load_table({draft['source']!r})"
steps_code = ", ".join(
    f"Action({s.column!r}, {s.action!r}, {s.option!r})" for s in draft.get("steps", [])
)
cleanups_code = ",\n            ".join(s.as_code() for s in draft.get("cleanups", []))
python_cell(
    f"""
from lepton_core import Workspace, confirm_dataset
from lepton_core.data import load_table, profile_table, read_table
from lepton_core.data import CleanupStep, apply_cleanups, suggest_cleanups
from lepton_core.data import Action, anonymise, k_anonymity, load_salt, scan_table
from lepton_core.data import load_sample
from lepton_core.data import load_hub_dataset
{load_code}
proposed = suggest_cleanups(df)  # numbers written as text, spellings of one category
df = apply_cleanups(df, [{cleanups_code}])
findings = scan_table(df)  # advisory: check the table yourself too
df, _, steps = anonymise(df, [{steps_code}], salt=load_salt(workspace_folder))
profile = profile_table(df, target={target!r})
info = confirm_dataset(Workspace(), df, name={draft["name"]!r}, target={target!r}, task={task!r},
                       sensitive={sensitive!r}{
        f", text_column={text_column!r}" if text_column else ""
    })
# then train: TrainConfig(data=f"dataset:{{info.id}}"{", model='text'" if text_column else ""})
"""
)
