"""Step 1 · Data: load a table, look at it, and confirm target, task and sensitive columns."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._common import Keys, guard, header, python_cell, workspace
from lepton_core.core import TASKS
from lepton_core.data import (
    ACTIONS,
    KIND_LABELS,
    Action,
    anonymise,
    check_target,
    fingerprint,
    k_anonymity,
    list_samples,
    load_hub_dataset,
    load_salt,
    load_sample,
    load_table,
    parse_hub_source,
    profile_table,
    scan_table,
)
from lepton_core.plots import class_balance_figure, column_distribution_figure, token_length_figure
from lepton_core.workspace import confirm_dataset

header(
    "1 · Data",
    "Upload a table or pick a sample, check what Lepton made of each column, then say what "
    "to predict and which columns describe groups of people whose treatment should be fair.",
)
upload_limit_mb = st.get_option("server.maxUploadSize")


@st.cache_data(show_spinner="Looking for personal data…", max_entries=8)
def _scan(_df: pd.DataFrame, key: str):
    return scan_table(_df)


@st.cache_data(show_spinner="Counting tokens…", max_entries=8)
def _lengths(_texts: pd.Series, key: str):
    from lepton_core.text import length_stats

    return length_stats(_texts.fillna("").astype("str").tolist())


@st.cache_data(show_spinner="Profiling the table…", max_entries=8)
def _profile(_df: pd.DataFrame, key: str, target: str | None = None):
    # The leading underscore keeps Streamlit from hashing the table; ``key`` is its fingerprint.
    return profile_table(_df, target=target)


source = st.radio("Source", ["Sample", "Upload a file", "Hugging Face data set"], horizontal=True)
if source == "Sample":
    name = st.selectbox("Sample", list_samples())
    if st.button("Load sample", type="primary"):
        sample = guard(load_sample, name)
        st.session_state[Keys.DRAFT] = {
            "name": sample.name,
            "df": sample.train,
            "test": sample.test,
            "source": f"sample:{sample.name}",
            "target": sample.target,
            "sensitive": sample.sensitive,
            "text_column": sample.text_column,
            "about": f"{sample.title}: {sample.description} Source: {sample.source}",
        }
elif source == "Hugging Face data set":
    h1, h2, h3 = st.columns([3, 1, 1])
    hub_id = h1.text_input("Data set id", placeholder="stanfordnlp/sst2")
    hub_config = h2.text_input("Config (optional)")
    hub_split = h3.text_input("Split", "train")
    st.caption("Needs internet access; offline, upload the data as a file or pick a sample.")
    if hub_id and st.button("Load data set", type="primary"):
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
            "about": f"Hugging Face data set {hub_id}, split {hub_split}.",
        }
else:
    upload = st.file_uploader(
        "Table (CSV, TSV, Parquet or JSONL)", type=["csv", "tsv", "txt", "parquet", "jsonl", "json"]
    )
    test_upload = st.file_uploader(
        "Optional test table (same columns); otherwise part of the table is held out",
        type=["csv", "tsv", "txt", "parquet", "jsonl", "json"],
    )
    if upload is not None and st.button("Load file", type="primary"):
        limit = upload_limit_mb * 1024 * 1024
        df = guard(load_table, upload.getvalue(), filename=upload.name, max_bytes=limit)
        test = None
        if test_upload is not None:
            test = guard(
                load_table, test_upload.getvalue(), filename=test_upload.name, max_bytes=limit
            )
        st.session_state[Keys.DRAFT] = {
            "name": upload.name.rsplit(".", 1)[0],
            "df": df,
            "test": test,
            "source": upload.name,
            "target": None,
            "sensitive": None,
            "about": f"Uploaded file {upload.name}.",
        }

draft = st.session_state.get(Keys.DRAFT)
if draft is None:
    st.info("Pick a sample or upload a file to begin.")
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
c1.metric("Rows", f"{profile.n_rows:,}")
c2.metric("Columns", profile.n_columns)
missing = sum(c.missing_share for c in profile.columns) / max(len(profile.columns), 1)
c3.metric("Missing values", f"{missing:.1%}")
c4.metric("Test rows", f"{len(draft['test']):,}" if draft["test"] is not None else "held out")
for warning in profile.warnings:  # e.g. a column name with zero-width characters
    st.warning(warning, icon=":material/visibility_off:")

st.subheader("Preview")
st.dataframe(df.head(200), height=260)

st.subheader("Columns")
st.dataframe(
    pd.DataFrame(
        {
            "column": [c.name for c in profile.columns],
            "type": [c.kind for c in profile.columns],
            "missing": [c.missing_share for c in profile.columns],
            "distinct": [c.distinct for c in profile.columns],
        }
    ),
    column_config={"missing": st.column_config.ProgressColumn("missing", format="percent")},
    hide_index=True,
)
left, right = st.columns(2)
with left:
    shown = st.selectbox("Distribution of", [c.name for c in profile.columns])
    column = next(c for c in profile.columns if c.name == shown)
    st.plotly_chart(column_distribution_figure(column))

st.subheader("Personal data")
st.caption(
    "Lepton looked at each column's name and a sample of its values for personal data. "
    "Detection is advisory, not a compliance guarantee: check the table yourself before "
    "training or sharing."
)
scan = _scan(df, key)
original: pd.DataFrame = draft.get("original", df)
if draft.get("steps"):
    st.success(
        "Applied: "
        + "; ".join(f"{s.column} → {s.action} ({s.detail})" for s in draft["steps"])
        + ". The original table is kept as its own data set version when you confirm."
    )
# Columns already anonymised keep their (hashed, generalised) values unless changed again.
done = {step.column: step.action for step in draft.get("steps", [])}
if scan.personal or scan.quasi_identifiers:
    edited = st.data_editor(
        pd.DataFrame(
            {
                "column": [f.column for f in scan.findings],
                "finding": [
                    f"done: {done[f.column]}"
                    if f.column in done
                    else KIND_LABELS.get(f.kind or "", "")
                    for f in scan.findings
                ],
                "confidence": [
                    f.confidence if (f.kind or f.quasi_identifier) else None for f in scan.findings
                ],
                "quasi-identifier": [f.quasi_identifier for f in scan.findings],
                "why": [f.evidence for f in scan.findings],
                "action": ["keep" if f.column in done else f.suggested for f in scan.findings],
                "option": [None for _ in scan.findings],
            }
        ),
        column_config={
            "confidence": st.column_config.ProgressColumn("confidence", format="percent"),
            "action": st.column_config.SelectboxColumn("action", options=ACTIONS, required=True),
            "option": st.column_config.TextColumn(
                "option",
                help="For generalise: age:10 (bands), ranges:5, year, month or prefix:3; "
                "empty picks one from the column.",
            ),
        },
        disabled=["column", "finding", "confidence", "quasi-identifier", "why"],
        hide_index=True,
        key=f"privacy_actions_{key}",
    )
    st.markdown("**k-anonymity** — how many rows share each combination of quasi-identifiers")
    k1, k2 = st.columns([3, 1])
    quasi = k1.multiselect(
        "Quasi-identifiers",
        list(df.columns),
        default=[c for c in scan.quasi_identifiers if c in df.columns],
    )
    k = int(k2.number_input("k", min_value=2, max_value=100, value=5))
    before = guard(k_anonymity, original, [c for c in quasi if c in original.columns], k=k)
    after = guard(k_anonymity, df, quasi, k=k) if draft.get("steps") else None
    m1, m2, m3 = st.columns(3)
    m1.metric("Smallest group (before)", before.smallest_group)
    m2.metric(f"Rows in groups below {k} (before)", f"{before.share_below_k:.1%}")
    if after is not None:
        m3.metric(
            f"Rows in groups below {k} (after)",
            f"{after.share_below_k:.1%}",
            delta=f"{after.share_below_k - before.share_below_k:+.1%}",
            delta_color="inverse",
        )
        st.caption(f"Smallest group after: {after.smallest_group}.")
    if st.button("Apply actions"):
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
    st.info("No column looks like personal data or a quasi-identifier.")

st.subheader("What to predict")
names = list(df.columns)
suggested = draft["target"] or profile.suggestions.target
target = st.selectbox(
    "Target column", names, index=names.index(suggested) if suggested in names else len(names) - 1
)
inferred = guard(check_target, df, target)
task = st.radio(
    "Task",
    TASKS,
    index=TASKS.index(inferred),
    horizontal=True,
    help="Inferred from the target column; change it only if Lepton guessed wrong.",
)
default_sensitive = draft["sensitive"]
if default_sensitive is None:
    default_sensitive = profile.suggestions.sensitive
sensitive = st.multiselect(
    "Sensitive columns (fairness is compared across their groups)",
    [n for n in names if n != target],
    default=[s for s in default_sensitive if s != target and s in names],
)
with right:
    if task != "regression":
        st.plotly_chart(class_balance_figure(guard(_profile, df, key, target)))

text_columns = [c.name for c in profile.columns if c.kind == "text" and c.name != target]
text_column = ""
if text_columns and task != "regression":
    st.subheader("Text")
    default_text = draft.get("text_column") or text_columns[0]
    use_text = st.toggle(
        "Text classification: fine-tune a language model on a free-text column",
        value=bool(draft.get("text_column")) or len(text_columns) == len(names) - 1,
    )
    if use_text:
        text_column = st.selectbox(
            "Text column",
            text_columns,
            index=text_columns.index(default_text) if default_text in text_columns else 0,
        )
        st.caption(
            "A text model reads this column only; combining text with the table's other "
            "columns is not supported yet (they can still be sensitive columns for fairness)."
        )
        lengths = guard(_lengths, df[text_column], f"{key}:{text_column}")
        st.plotly_chart(token_length_figure(lengths))
        st.caption(
            f"Texts are cut at {lengths.suggested_max_length} tokens while training, which "
            f"keeps {1 - lengths.truncated_share:.0%} of them whole (the 95th percentile, "
            "capped); longer limits train more slowly."
        )

if st.button("Use this data", type="primary"):
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
    )
    st.session_state[Keys.DATASET_ID] = info.id
    st.success(f"Data set **{info.name}** is ready ({info.n_rows:,} rows); next, train a model.")
    st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")

if draft["source"].startswith("sample:"):
    load_code = f"df = load_sample({draft['name']!r}).train"
elif draft["source"].startswith("hub:"):
    hub_args = parse_hub_source(draft["source"])
    load_code = (
        f"df = load_hub_dataset({hub_args[0]!r}, config={hub_args[1]!r}, split={hub_args[2]!r})"
    )
else:
    load_code = f"df = load_table({draft['source']!r})"
steps_code = ", ".join(
    f"Action({s.column!r}, {s.action!r}, {s.option!r})" for s in draft.get("steps", [])
)
python_cell(
    f"""
from lepton_core import Workspace, confirm_dataset
from lepton_core.data import load_table, profile_table
from lepton_core.data import Action, anonymise, k_anonymity, load_salt, scan_table
from lepton_core.data import load_sample
from lepton_core.data import load_hub_dataset
{load_code}
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
