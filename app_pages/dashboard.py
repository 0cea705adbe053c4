"""Dashboard: every model version in the workspace side by side, with its fairness and cost."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode, urlparse

import pandas as pd
import streamlit as st

from app_pages._common import (
    Keys,
    fmt,
    guard,
    header,
    metric_labels,
    python_cell,
    task_word,
    workspace,
)
from app_pages._i18n import language, say, tr
from lepton_core.core import LeptonError
from lepton_core.evaluation import GAPS, tradeoff_figure
from lepton_core.monitoring import LastCheck, last_check, live_from_log, save_check
from lepton_core.runs import BoardRow, board_tradeoff, filter_board, model_board
from lepton_core.workspace import ShareLinks


class _State:
    """This page's session-state keys."""

    DATASET = "board_dataset"
    PUBLISHED = "board_published"
    MAX_GAP = "board_max_gap"
    SEARCH = "board_search"
    OWNER = "board_owner"
    TABLE = "board_table"
    TRADE_DATASET = "board_tradeoff_dataset"
    TRADE_ATTRIBUTE = "board_tradeoff_attribute"
    TRADE_GAP = "board_tradeoff_gap"


ALL = "All data sets"
ANYONE = "Anyone"

header(
    tr("Team dashboard"),
    tr(
        "Every model version in this workspace, from every data set, side by side: how often "
        "it is right, how differently it treats groups of people, its privacy budget, size "
        "and status. Click a column's name to sort by it; tick two rows to compare them."
    ),
)


def _owners() -> dict[str, str]:
    """Run id → who started its training job (the signed-in member; none without sign-in)."""
    from lepton_core.jobs import JobStore  # the training stack: only for this lookup

    try:
        jobs = JobStore(workspace()).list(limit=100_000)
    except LeptonError:
        return {}
    return {job.run_id: job.owner for job in jobs if job.run_id and job.owner}


ws = workspace()
rows = guard(model_board, ws, owners=_owners())
if not rows:
    st.info(tr("There is no trained model yet; train one on the **Train** page first."))
    st.page_link("app_pages/train.py", label=tr("Go to Train"), icon=":material/model_training:")
    st.stop()


# ------------------------------------------------------------------------- alerts
#: A published version's stored check older than this is checked again by the dashboard.
_CHECK_EVERY_S = 600
#: Versions the dashboard checks itself per minute, oldest check first: a live report
#: takes seconds, and the scheduler's ``lepton monitor --live`` checks keep the others.
_CHECKS_PER_MINUTE = 2


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def _latest_checks(root: str, refs: tuple[str, ...]) -> dict[str, LastCheck]:
    """Each published version's latest stored check, renewing the oldest stale ones."""
    ws = workspace()
    checks, stale = {}, []
    for ref in refs:
        try:
            check = last_check(ws, ref)
        except LeptonError:
            continue
        if check is None or check.age_s > _CHECK_EVERY_S:
            stale.append((check.at if check else "", ref))
        if check is not None:
            checks[ref] = check
    for _, ref in sorted(stale)[:_CHECKS_PER_MINUTE]:
        try:  # a smaller sample than the Monitor page's
            checks[ref] = save_check(ws, live_from_log(ws, ref, max_rows=20_000))
        except LeptonError:
            continue
    return checks


published = tuple(f"{r.model}:{r.version}" for r in rows if r.published)
for ref, check in _latest_checks(str(ws.root), published).items():
    if not check.alerts:
        continue
    st.warning(
        tr("**{model}** breaks {count} of its limits (checked {when} UTC): {first}").format(
            model=ref,
            count=len(check.alerts) + check.more,
            when=check.at[:16].replace("T", " "),
            first=say(check.alerts[0].summary()),
        ),
        icon=":material/notifications_active:",
    )
    st.page_link(
        "app_pages/monitor.py",
        label=tr("Open Monitor"),
        icon=":material/monitoring:",
        query_params={"model": ref},  # the Monitor page opens on this version
    )

# ------------------------------------------------------------------------ filters
datasets = sorted({r.dataset for r in rows})
owners = sorted({r.owner for r in rows if r.owner})
f1, f2, f3, f4 = st.columns([1.2, 1, 1, 1.4])
dataset = f1.selectbox(
    tr("Data set"),
    [ALL, *datasets],
    format_func=lambda d: tr("All data sets") if d == ALL else d,
    key=_State.DATASET,
    help=tr("Show one data set's versions."),
)
max_gap = f2.number_input(
    tr("Fairness gap at most"),
    min_value=0.0,
    max_value=1.0,
    value=None,
    step=0.05,
    placeholder=tr("any"),
    key=_State.MAX_GAP,
    help=tr(
        "Keep versions whose largest gap between groups (parity or odds, over every "
        "sensitive column) is at most this; versions without a measured gap are hidden."
    ),
)
search = f3.text_input(
    tr("Search"),
    key=_State.SEARCH,
    placeholder=tr("name, family, owner…"),
    help=tr("Words in the model's name, data set, family, task or owner."),
)
with f4:
    owner = (
        st.selectbox(
            tr("Owner"),
            [ANYONE, *owners],
            format_func=lambda o: tr("Anyone") if o == ANYONE else o,
            key=_State.OWNER,
            help=tr("Who trained it."),
        )
        if owners
        else ANYONE
    )
    published_only = st.toggle(
        tr("Published only"), key=_State.PUBLISHED, help=tr("Versions whose demo page is live.")
    )
shown = guard(
    filter_board,
    rows,
    dataset=None if dataset == ALL else dataset,
    published=True if published_only else None,
    max_gap=max_gap,
    search=search,
    owner=None if owner == ANYONE else owner,
)

# -------------------------------------------------------------------------- table
base = urlparse(st.context.url or "http://localhost:8501")
live_link: dict[tuple[str, int], str] = {}
for link in guard(ShareLinks, ws).list():  # newest first: the newest live link wins
    if link.active:
        url = f"{base.scheme}://{base.netloc}/demo?{urlencode({'token': link.token})}"
        live_link.setdefault((link.model, link.version), url)
# A column per sensitive attribute on the rows shown, the most common first.
counts: dict[str, int] = {}
for row in shown:
    for gap in row.gaps:
        counts[gap.attribute] = counts.get(gap.attribute, 0) + 1
attributes = sorted(counts, key=lambda a: (-counts[a], a))
HELP = {
    "Model": tr("The model's name and version number; each training makes a new version."),
    "Data set": tr("The table it learned from."),
    "Family": tr("The kind of model."),
    "Task": tr(
        "What it predicts: yes/no (binary), one of several answers (multiclass), or a "
        "number (regression)."
    ),
    "Accuracy": tr("The share of test rows it gets right (yes/no and several-answer models)."),
    "ROC AUC": tr("How well it ranks yes-rows above no-rows: 0.5 is a coin toss, 1 is perfect."),
    "RMSE": tr("Number predictions: the typical size of an error; lower is better."),
    "MAE": tr("Number predictions: the average size of an error; lower is better."),
    "R²": tr("Number predictions: the share of the target's variation it explains; 1 is perfect."),
    "Largest gap": tr(
        "The largest parity or odds gap over every sensitive column; 0 means every group is "
        "treated alike. Groups with too few test rows are left out."
    ),
    "ε": tr(
        "Privacy budget, for models trained with differential privacy: smaller means "
        "stronger privacy. Blank: trained without it."
    ),
    "Energy": tr(
        "Electricity its training used (watt-hours), measured offline with CodeCarbon; an "
        "estimate where the processor has no readable energy counter. Blank: not measured."
    ),
    "Size": tr("The model's files on disk."),
    "Latency": tr("Time to answer one request, when it was measured; blank if never measured."),
    "Published": tr("Whether its demo page and API are live."),
    "Live links": tr("Share links that are neither revoked nor expired."),
    "Demo": tr("The newest live share link: opens its demo page."),
    "Last trained": tr("When training finished."),
    "Owner": tr(
        "Who trained it, where that was recorded (a browser session until sign-in exists)."
    ),
}
#: The table's column headers as the reader reads them (the table itself keeps English names).
LABELS = {
    "Model": tr("Model"),
    "Data set": tr("Data set"),
    "Family": tr("Family"),
    "Task": tr("Task"),
    "Accuracy": tr("Accuracy"),
    "ROC AUC": "ROC AUC",
    "RMSE": "RMSE",
    "MAE": "MAE",
    "R²": "R²",
    "Largest gap": tr("Largest gap"),
    "ε": "ε",
    "Energy": tr("Energy"),
    "Size": tr("Size"),
    "Latency": tr("Latency"),
    "Published": tr("Published"),
    "Live links": tr("Live links"),
    "Demo": tr("Demo"),
    "Last trained": tr("Last trained"),
    "Owner": tr("Owner"),
}


def _gap_help(attribute: str, kind: str) -> str:
    if kind == "parity":
        return tr(
            "Demographic parity difference by {attribute}: the largest gap between its "
            "groups in the share predicted yes; 0 is equal. Blank: not measured."
        ).format(attribute=attribute)
    return tr(
        "Equalized odds difference by {attribute}: the largest gap between its groups in "
        "true- or false-positive rate; 0 is equal. Blank: not measured."
    ).format(attribute=attribute)


def _record(row: BoardRow) -> dict:
    record = {
        "Model": row.ref,
        "Data set": row.dataset,
        "Owner": row.owner or None,
        "Family": say(row.family_title),
        "Task": task_word(row.task),
        "Accuracy": row.accuracy,
        "ROC AUC": row.roc_auc,
        "RMSE": row.rmse,
        "MAE": row.mae,
        "R²": row.r2,
        "Largest gap": row.largest_gap,
    }
    for attribute in attributes:
        gap = row.gap(attribute)
        record[f"Parity gap · {attribute}"] = gap.demographic_parity_difference if gap else None
        record[f"Odds gap · {attribute}"] = gap.equalized_odds_difference if gap else None
    record.update(
        {
            "ε": row.epsilon,
            "Energy": row.energy_wh,
            "Size": None if row.size_bytes is None else row.size_bytes / 1e6,
            "Latency": row.latency_ms,
            "Published": row.published,
            "Live links": row.live_links,
            "Demo": live_link.get((row.model, row.version)),
            "Last trained": dt.datetime.fromtimestamp(row.trained),
        }
    )
    return record


table = pd.DataFrame([_record(r) for r in shown], columns=list(_record(rows[0])))
# A column that cannot apply to any shown version (RMSE among classifiers, the owner
# without sign-in) would be a column of blanks: leave it out. ε stays: blank says "not
# private", which is worth seeing.
OPTIONAL = ("Accuracy", "ROC AUC", "RMSE", "MAE", "R²", "Owner", "Latency", "Demo")
table = table.drop(columns=[c for c in OPTIONAL if table[c].isna().all()])
# A figure no shown version has (ε when none is private) is None in every row, shown as
# "None"; the text columns that can be empty are gone above. As floats, the cells are blank.
table = table.astype({name: float for name in table.columns if table[name].isna().all()})
share = {"min_value": 0.0, "max_value": 1.0, "format": "%.3f"}
config = {
    "Model": st.column_config.TextColumn(help=HELP["Model"], pinned=True),
    "Accuracy": st.column_config.ProgressColumn(help=HELP["Accuracy"], **share),
    "ROC AUC": st.column_config.ProgressColumn(help=HELP["ROC AUC"], **share),
    "RMSE": st.column_config.NumberColumn(help=HELP["RMSE"], format="%.3g"),
    "MAE": st.column_config.NumberColumn(help=HELP["MAE"], format="%.3g"),
    "R²": st.column_config.NumberColumn(help=HELP["R²"], format="%.3f"),
    "Largest gap": st.column_config.NumberColumn(help=HELP["Largest gap"], format="%.3f"),
    "ε": st.column_config.NumberColumn(help=HELP["ε"], format="%.2g"),
    "Energy": st.column_config.NumberColumn(help=HELP["Energy"], format="%.3g Wh"),
    "Size": st.column_config.NumberColumn(help=HELP["Size"], format="%.1f MB"),
    "Latency": st.column_config.NumberColumn(help=HELP["Latency"], format="%.1f ms"),
    "Published": st.column_config.CheckboxColumn(help=HELP["Published"]),
    "Live links": st.column_config.NumberColumn(help=HELP["Live links"], format="%d"),
    "Demo": st.column_config.LinkColumn(help=HELP["Demo"], display_text=tr("Open demo")),
    "Last trained": st.column_config.DatetimeColumn(
        help=HELP["Last trained"], format="YYYY-MM-DD HH:mm"
    ),
}
for name in ("Data set", "Family", "Task", "Owner"):
    config[name] = st.column_config.TextColumn(help=HELP[name])
for name, column in config.items():
    column["label"] = LABELS[name]
for attribute in attributes:
    config[f"Parity gap · {attribute}"] = st.column_config.NumberColumn(
        tr("Parity gap · {attribute}").format(attribute=attribute),
        help=_gap_help(attribute, "parity"),
        format="%.3f",
    )
    config[f"Odds gap · {attribute}"] = st.column_config.NumberColumn(
        tr("Odds gap · {attribute}").format(attribute=attribute),
        help=_gap_help(attribute, "odds"),
        format="%.3f",
    )

st.caption(
    tr("{shown:,} of {total:,} versions · {sets} data sets").format(
        shown=len(shown), total=len(rows), sets=len({r.dataset for r in rows})
    )
)
event = st.dataframe(
    table,
    column_config=config,
    hide_index=True,
    on_select="rerun",
    selection_mode="multi-row",
    key=_State.TABLE,
)

# ------------------------------------------------------------------------ compare
picked = [shown[i] for i in (event.selection.rows if event else []) if i < len(shown)]
if len(picked) != 2:
    st.caption(
        tr("Tick two rows to compare them side by side.")
        if len(picked) < 2
        else tr("{n} rows are ticked; untick all but two to compare them.").format(n=len(picked))
    )
else:
    a, b = picked
    st.subheader(tr("{first} and {second}").format(first=a.ref, second=b.ref))
    names = list(dict.fromkeys([*a.headline(), *b.headline()]))
    figures = [(metric_labels().get(n, n), a.headline().get(n), b.headline().get(n)) for n in names]
    for attribute in dict.fromkeys([g.attribute for g in a.gaps + b.gaps]):
        gap_labels = (tr("Parity gap · {attribute}"), tr("Odds gap · {attribute}"))
        for key, label in zip(GAPS, gap_labels, strict=True):
            figures.append(
                (
                    label.format(attribute=attribute),
                    getattr(a.gap(attribute), key, None),
                    getattr(b.gap(attribute), key, None),
                )
            )
    figures += [
        ("ε", a.epsilon, b.epsilon),
        (tr("Energy (Wh)"), a.energy_wh, b.energy_wh),
        (tr("Size (MB)"), *(None if r.size_bytes is None else r.size_bytes / 1e6 for r in (a, b))),
        (tr("Latency (ms)"), a.latency_ms, b.latency_ms),
    ]
    st.dataframe(
        pd.DataFrame(
            [
                {
                    tr("figure"): label,
                    a.ref: fmt(x),
                    b.ref: fmt(y),
                    tr("difference"): fmt(y - x) if x is not None and y is not None else "—",
                }
                for label, x, y in figures
            ]
        ),
        hide_index=True,
    )
    st.caption(
        tr(
            "Difference: the second minus the first. Versions of different data sets were "
            "tested on different rows, so compare their figures with care."
        )
    )
    if st.button(tr("Open both on the Evaluate page"), icon=":material/compare_arrows:"):
        recent = {r.run_id for r in guard(ws.list_runs)}
        if {a.run_id, b.run_id} <= recent:
            st.session_state[Keys.RUN_ID] = a.run_id
            st.session_state[Keys.COMPARE_RUN_ID] = b.run_id
            st.switch_page("app_pages/evaluate.py")
        st.warning(
            tr(
                "The Evaluate page lists the 200 newest runs, and one of these is older; "
                "the figures above are the ones it would compare."
            )
        )

# ----------------------------------------------------------------------- trade-off
st.subheader(tr("Accuracy against fairness, per data set"))
# By data set id: two data sets may share a name (the same table with another target).
names = {r.dataset_id: r.dataset for r in rows}
fair = sorted(
    {r.dataset_id for r in rows if r.accuracy is not None and r.gaps},
    key=lambda i: (names[i], i),
)
if not fair:
    st.write(
        tr(
            "This needs versions with accuracy and a sensitive column, such as yes/no models "
            "trained with a sensitive column chosen on the Data page."
        )
    )
else:
    st.write(
        tr(
            "Every version of one data set: accuracy against a fairness gap (ε marks versions "
            "trained with differential privacy). Red points are the best trade-offs: no other "
            "version is both more accurate and fairer."
        )
    )
    shared = {n for n in names.values() if list(names.values()).count(n) > 1}
    t1, t2, t3 = st.columns(3)
    chosen = t1.selectbox(
        tr("Data set"),
        fair,
        index=next((i for i, d in enumerate(fair) if names[d] == dataset), 0),
        format_func=lambda i: f"{names[i]} ({i})" if names[i] in shared else names[i],
        key=_State.TRADE_DATASET,
    )
    of_dataset = [r for r in rows if r.dataset_id == chosen]
    columns = list(dict.fromkeys(g.attribute for r in of_dataset for g in r.gaps))
    attribute = t2.selectbox(tr("Gap by"), columns, key=_State.TRADE_ATTRIBUTE)
    gap = t3.selectbox(
        tr("Gap"), GAPS, format_func=lambda g: metric_labels().get(g, g), key=_State.TRADE_GAP
    )
    trade = guard(board_tradeoff, of_dataset, chosen, attribute=attribute, gap=gap)
    st.plotly_chart(tradeoff_figure(trade, language=language()), key="board_tradeoff")
    if trade.skipped:
        st.caption(
            tr("{n} version(s) without figures for {attribute} are left out.").format(
                n=trade.skipped, attribute=attribute
            )
        )

python_cell(
    f"""
from lepton_core.runs import model_board
from lepton_core.workspace import Workspace
rows = model_board(
    Workspace(),
    dataset={None if dataset == ALL else dataset!r},
    published={True if published_only else None!r},
    max_gap={max_gap!r},
    search={search or None!r},
    sort="trained",
)
for row in rows:
    print(row.ref, row.dataset, row.headline(), row.largest_gap, row.epsilon, row.published)
"""
)
