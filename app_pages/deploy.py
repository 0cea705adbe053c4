"""Step 5 · Deploy: share links, the REST API with its keys, and batch scoring."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlencode, urlparse

import pandas as pd
import streamlit as st

from app_pages._common import (
    Keys,
    compression_methods,
    guard,
    header,
    metric_row,
    model_versions,
    python_cell,
    run_reports,
    store_written,
    warm_explainer,
    when,
    workspace,
)
from app_pages._i18n import language, say, tr
from app_pages._team import actor, may


class _State:
    """This page's session-state keys."""

    NEW_KEY = "deploy_new_key"  # a key just created: shown once, then dropped
    EXPIRY = "deploy_expiry"
    SCORED = "deploy_scored"
    ZIP = "deploy_zip"
    ONNX = "deploy_onnx"
    COMPRESSED = "deploy_compressed"
    VERSION = "deploy_version"  # the version picker
    PICKED = "deploy_picked"  # (the session's run then, the version picked in the picker)


header(
    tr("5 · Deploy"),
    tr(
        "Share a model version as a demo link, call it from your own service through the "
        "REST API, or score a whole file."
    ),
)

# Imported after the heading is on screen: a first visit imports the engine's heavy parts.
from app_pages._recourse import whatif_section  # noqa: E402
from lepton_core.data import load_table  # noqa: E402
from lepton_core.explain import prediction_title  # noqa: E402
from lepton_core.runs import (  # noqa: E402
    cached_model_card,
    compress,
    export_mlflow_zip,
    export_onnx,
    load_bundle,
    publish,
    score_table,
    set_intended_use,
    to_csv,
)
from lepton_core.serving import DEFAULT_HOST, DEFAULT_PORT, api_examples, try_predict  # noqa: E402
from lepton_core.workspace import (  # noqa: E402
    EXPIRY_CHOICES,
    KEY_EXPIRY_CHOICES,
    ApiKey,
    ApiKeyStore,
    Role,
    ShareLinks,
    prediction_log,
)

ws = workspace()
versions = model_versions()
if not versions:
    st.info(tr("There is no trained model yet; train one on the **Train** page first."))
    st.page_link("app_pages/train.py", label=tr("Go to Train"), icon=":material/model_training:")
    st.stop()

refs = [v.ref for v in versions]
by_ref = {v.ref: v for v in versions}
run_id = st.session_state.get(Keys.RUN_ID)
default = next((i for i, v in enumerate(versions) if v.run_id == run_id), 0)
# The version picked here, while the session's run stays the one it was picked under.
picked = st.session_state.get(_State.PICKED)
keep = picked is not None and picked[0] == run_id and picked[1] in refs
# A fixed key: an unkeyed picker's id changes with its options (every new version), and
# Streamlit keeps every id's metadata, with this page's whole namespace, for the session.
st.session_state[_State.VERSION] = picked[1] if keep else refs[default]
ref = st.selectbox(
    tr("Model version"),
    refs,
    key=_State.VERSION,
    format_func=lambda r: (
        tr("{ref} · published · {created}") if by_ref[r].published else "{ref} · {created}"
    ).format(ref=r, created=when(by_ref[r].created)),
    on_change=lambda: st.session_state.update(
        {_State.PICKED: (run_id, st.session_state[_State.VERSION])}
    ),
)
version = by_ref[ref]
reports = run_reports(version.run_id)
metric_row(reports.headline())
links = guard(ShareLinks, ws)
base = urlparse(st.context.url or "http://localhost:8501")


def _link_url(token: str) -> str:
    return f"{base.scheme}://{base.netloc}/demo?{urlencode({'token': token})}"


#: The expiry choices of links and keys (``lepton_core`` names them), as the reader reads them.
_EXPIRY_LABELS = {
    "1 day": tr("1 day"),
    "7 days": tr("7 days"),
    "30 days": tr("30 days"),
    "90 days": tr("90 days"),
    "365 days": tr("365 days"),
    "Public, no expiry": tr("Public, no expiry"),
    "Never": tr("Never"),
}


def _expiry_label(choice: str) -> str:
    return _EXPIRY_LABELS.get(choice, choice)


def _create_link() -> None:
    seconds = EXPIRY_CHOICES[expiry]
    links.create(
        version.name,
        version.version,
        expires_in=seconds,
        public=seconds is None,
        created_by=actor(),
    )


# ------------------------------------------------------------------ share links
st.subheader(tr("Share link"))
expiry = st.radio(
    tr("Link expires after"),
    list(EXPIRY_CHOICES),
    format_func=_expiry_label,
    horizontal=True,
    key=_State.EXPIRY,
    help=tr("A public link works until you revoke it or withdraw the version."),
)
if version.published:
    mine = [link for link in links.list(version.name, version.version) if link.active]
    if mine:
        st.success(
            tr("This version is published; anyone with an active link can use its demo page.")
        )
        st.code(_link_url(mine[0].token), language=None)
        st.link_button(
            tr("Open the demo page"), _link_url(mine[0].token), icon=":material/open_in_new:"
        )
    else:
        st.warning(tr("This version is published but has no active link; create one."))
    left, right = st.columns(2)
    if left.button(tr("Create another link"), icon=":material/add_link:"):
        _create_link()
        st.rerun()
    if right.button(tr("Withdraw"), help=tr("Every link to this version stops working.")):
        guard(publish, ws, version.name, version.version, False, actor=actor())
        store_written()
        st.rerun()
else:
    st.write(tr("This version is not published; publishing it creates a signed demo link."))
    if st.button(tr("Publish"), type="primary", icon=":material/rocket_launch:"):
        guard(publish, ws, version.name, version.version, True, actor=actor())
        store_written()
        _create_link()
        st.rerun()

# The demo's title: what the model predicts, unless the owner says it better.
demo_card = guard(cached_model_card, ws, version.name, version.version)
automatic_title = say(
    prediction_title(
        demo_card.dataset.get("target") or "",
        reports.evaluation.task,
        reports.evaluation.classes,
    )
)
owner_title, owner_description = guard(ws.demo_text, version.name, version.version)
with st.form("demo-text", border=False):
    demo_title = st.text_input(
        tr("Demo page title"),
        value=owner_title or automatic_title,
        max_chars=ws.DEMO_TITLE_MAX,
        help=tr(
            "What visitors see at the top of the demo page, as plain text. Leave the "
            "suggestion, or clear it, to keep the automatic title."
        ),
    )
    demo_description = st.text_input(
        tr("One-line description (optional)"),
        value=owner_description,
        max_chars=ws.DEMO_DESCRIPTION_MAX,
        placeholder=tr("e.g. For our loan officers: a second opinion, never the decision."),
    )
    if st.form_submit_button(tr("Save title and description")):
        # The suggestion stays automatic, so a visitor reads it in their own language.
        title = "" if demo_title.strip() == automatic_title else demo_title
        guard(
            ws.set_demo_text,
            version.name,
            version.version,
            title=title,
            description=demo_description,
        )
        st.rerun()

all_links = links.list(version.name, version.version)
if all_links:
    with st.expander(tr("Links to this version ({n})").format(n=len(all_links)), expanded=False):
        for link in all_links:
            cols = st.columns([3, 2, 2, 1])
            cols[0].write(tr("`{id}` · created {when}").format(id=link.id, when=when(link.created)))
            cols[1].write(
                tr("never expires")
                if link.expires is None
                else tr("expires {when}").format(when=when(link.expires))
            )
            if link.revoked:
                state = tr("revoked")
            elif not link.active:
                state = tr("expired")
            else:
                state = tr("active") if version.published else tr("off while withdrawn")
            cols[2].write(state)
            if link.revoked is None and cols[3].button(tr("Revoke"), key=f"revoke-link-{link.id}"):
                links.revoke(link.id, by=actor())
                st.rerun()

# ---------------------------------------------------------------------- REST API
st.subheader("REST API")
bundle = guard(load_bundle, ws, version.name, version.version)
warm_explainer(bundle.model)  # before "Try it"
record = bundle.input_schema.defaults()
reads_images = getattr(bundle.model, "reads", "") == "image"
if reads_images:  # the picture itself travels, as base64 text
    from app_pages._images import api_note, api_record, try_record

    record = api_record(bundle.model)
endpoint = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
st.write(
    tr(
        "Start the API with `python -m lepton_core serve` (it listens on `{endpoint}`); every "
        "call but `/health` needs an API key. Interactive docs are at `{endpoint}/docs`; "
        "Open Inference Protocol v2 clients use `/v2/models/{name}/infer`."
    ).format(endpoint=endpoint, name=version.name)
)
examples = api_examples(endpoint, version.name, version.version, record)
curl_tab, python_tab = st.tabs(["curl", "Python"])
curl_tab.code(examples["curl"], language="bash")
python_tab.code(examples["python"], language="python")
if reads_images:
    api_note()
elif getattr(bundle.model, "reads", "") == "ner":  # the answer: names as character spans
    from app_pages._ner import api_answer

    api_answer(bundle, record)
if st.button(tr("Try it"), icon=":material/play_arrow:", help=tr("Calls the API in this process.")):
    tried = try_record(bundle) if reads_images else record
    result = try_predict(ws, version.name, version.version, [tried])
    st.caption(
        tr("HTTP {status} in {ms:.1f} ms").format(status=result.status, ms=result.latency_ms)
    )
    st.json(result.body)
if getattr(bundle.model, "reads", "table") == "table":  # the tabular families
    what_if = tr("What if: change this record and watch the answer")
    with st.expander(what_if, icon=":material/tune:"):
        whatif_section(reports.run, record, output=1)

st.markdown(tr("**API keys**"))
store = ApiKeyStore(ws)
new_key = st.session_state.pop(_State.NEW_KEY, None)
if new_key:
    st.warning(tr("Copy this key now: it is shown once and stored only as a hash."))
    st.code(new_key, language=None)
KEY_ROLE_LABELS = {
    "predict": tr("Published versions only"),
    "full": tr("Every version, published or not"),
}
with st.form("new-key", clear_on_submit=True, border=False):
    left, role_col, middle = st.columns([3, 2, 2], vertical_alignment="bottom")
    key_name = left.text_input(tr("Key name"), placeholder=tr("e.g. billing-service"))
    key_role = role_col.selectbox(
        tr("Key may call"),
        list(KEY_ROLE_LABELS),
        format_func=KEY_ROLE_LABELS.get,
        help=tr(
            "A key for a service outside the team calls published versions only (and lists "
            "only those); the team's own scripts may need every version."
        ),
    )
    key_expiry = middle.selectbox(
        tr("Key expires after"),
        list(KEY_EXPIRY_CHOICES),
        index=1,
        format_func=_expiry_label,
        help=tr("An expired key gets 401; create a new one before it runs out."),
    )
    # On a line of its own: beside three fields it had room for "Crea…" only.
    if st.form_submit_button(tr("Create key"), icon=":material/key:"):
        _, token = store.create(
            key_name,
            expires_in=KEY_EXPIRY_CHOICES[key_expiry],
            created_by=actor(),
            role=key_role,
        )
        st.session_state[_State.NEW_KEY] = token
        st.rerun()


def _key_state(key: ApiKey) -> str:
    if key.revoked:
        return tr("revoked")
    if key.expired:
        return tr("expired")
    if key.last_used:
        return tr("last used {when}").format(when=when(key.last_used))
    return tr("never used")


# With sign-in, an editor sees the keys they made; an admin sees every key.
for key in [k for k in store.list() if may(Role.ADMIN) or k.created_by == actor()]:
    cols = st.columns([3, 2, 2, 2, 1])
    cols[0].write(f"**{key.name}** `{key.hint}`")
    cols[0].caption(
        KEY_ROLE_LABELS.get(key.role, key.role)
        + (" · " + key.created_by if key.created_by and may(Role.ADMIN) else "")
    )
    cols[1].write(tr("created {when}").format(when=when(key.created)))
    cols[2].write(
        tr("never expires")
        if key.expires is None
        else tr("expires {when}").format(when=when(key.expires))
    )
    cols[3].write(_key_state(key))
    if key.active and cols[4].button(tr("Revoke"), key=f"revoke-key-{key.id}"):
        store.revoke(key.id, by=actor())
        st.rerun()

# ----------------------------------------------------------------- batch scoring
st.subheader(tr("Batch scoring"))
st.write(
    tr(
        "Upload a table with the model's columns; it comes back with the prediction, its "
        "probability and the three features that weighed most on each row."
    )
)
upload = st.file_uploader(tr("Table to score"), type=["csv", "tsv", "parquet", "jsonl", "json"])
if upload is not None and st.button(tr("Score the file"), icon=":material/batch_prediction:"):
    table = guard(load_table, upload.getvalue(), filename=upload.name)
    bar = st.progress(0.0, text=tr("Scoring…"))
    scored = guard(
        score_table,
        bundle,
        table,
        progress=lambda done, total: bar.progress(
            done / total, text=tr("{done:,} / {total:,} rows").format(done=done, total=total)
        ),
        log=prediction_log(ws),  # scored files are traffic the Monitor page shows
        caller=actor(),
    )
    st.session_state[_State.SCORED] = (upload.name, scored)
if _State.SCORED in st.session_state:
    name, scored = st.session_state[_State.SCORED]
    st.caption(tr("{n:,} rows scored; the first 50:").format(n=len(scored)))
    st.dataframe(scored.head(50), hide_index=True)
    st.download_button(
        tr("Download the scored table"),
        to_csv(scored),  # formula-like cells escaped for spreadsheets
        file_name=f"{name.rsplit('.', 1)[0]}-scored.csv",
        mime="text/csv",
        icon=":material/download:",
    )

# -------------------------------------------------------------------- model card
st.subheader(tr("Model card"))
card = guard(cached_model_card, ws, version.name, version.version)
with st.form("intended-use", border=False):
    use = st.text_area(
        tr("Intended use"),
        value="" if card.intended_use.startswith("Not stated") else card.intended_use,
        placeholder=tr("What the model is for, who uses it, and what it must not be used for."),
    )
    if st.form_submit_button(tr("Save intended use")):
        guard(set_intended_use, ws, version.name, version.version, use)
        st.rerun()
markdown = card.to_markdown(language=language())
with st.expander(tr("Model card"), icon=":material/description:"):
    st.markdown(markdown)
st.download_button(
    tr("Download the model card"),
    markdown,
    file_name=f"{version.name}-v{version.version}-model-card.md",
    mime="text/markdown",
    icon=":material/download:",
)

# ------------------------------------------------------- exports and compression
st.subheader(tr("Export and compress"))
st.write(
    tr(
        "Download the MLflow model folder, or an ONNX graph checked against the original on "
        "the test rows. int8 compression shows what it saves and what it costs, fairness "
        "included."
    )
)
left, right = st.columns(2)
if left.button(tr("Export MLflow folder (zip)"), icon=":material/folder_zip:"):
    with tempfile.TemporaryDirectory() as tmp:
        path = guard(export_mlflow_zip, ws, version.name, version.version, tmp)
        st.session_state[_State.ZIP] = (version.ref, path.name, path.read_bytes())
if right.button(tr("Export ONNX"), icon=":material/conversion_path:"):
    with tempfile.TemporaryDirectory() as tmp, st.spinner(tr("Converting and checking…")):
        result = guard(export_onnx, ws, version.name, version.version, tmp)
        st.session_state[_State.ONNX] = (version.ref, result, Path(result.path).read_bytes())
zipped = st.session_state.get(_State.ZIP)
if zipped and zipped[0] == version.ref:
    left.download_button(
        tr("Download the zip"), zipped[2], file_name=zipped[1], icon=":material/download:"
    )
exported = st.session_state.get(_State.ONNX)
if exported and exported[0] == version.ref:
    result = exported[1]
    right.caption(
        tr(
            "{family} → ONNX, {kib:,.0f} KiB; same label on {agreement:.2%} of {rows:,} "
            "test rows, largest difference {diff:.1e}."
        ).format(
            family=result.family,
            kib=result.size_bytes / 1024,
            agreement=result.label_agreement,
            rows=result.n_rows,
            diff=result.max_abs_diff,
        )
    )
    right.download_button(
        tr("Download the ONNX file"),
        exported[2],
        file_name=Path(result.path).name,
        icon=":material/download:",
    )
methods = compression_methods(guard(ws.get_run, version.run_id).family)
if not methods:
    st.caption(
        tr(
            "This kind of model has no int8 compression; it is already small and fast. "
            "Compression is offered for neural networks, text and image models."
        )
    )
    method = None
else:
    method = st.radio(
        tr("Compression"),
        list(methods),
        format_func=methods.get,
        horizontal=True,
        key="deploy_method",
    )
if method and st.button(tr("Compress into a new version"), icon=":material/compress:"):
    with st.spinner(tr("Quantising, then scoring, checking and explaining the new version…")):
        st.session_state[_State.COMPRESSED] = (
            version.ref,
            guard(compress, ws, version.name, version.version, method=method),
        )
compressed = st.session_state.get(_State.COMPRESSED)
if compressed and compressed[0] == version.ref:
    report = compressed[1]
    rows = {}
    for variant in (report.before, report.after):
        row = {tr("size (KiB)"): variant.size_bytes / 1024, tr("latency (ms)"): variant.latency_ms}
        row[tr("energy per 1,000 predictions (Wh)")] = variant.energy_wh_per_1000
        row.update({k: v for k, v in variant.metrics.items() if k in ("accuracy", "roc_auc", "r2")})
        for attribute, gaps in variant.fairness.items():
            for key, label in (
                ("demographic_parity_difference", "DPD"),
                ("equalized_odds_difference", "EOD"),
            ):
                row[tr("{gap} by {attribute}").format(gap=label, attribute=attribute)] = gaps[key]
        rows[variant.name] = row
    st.success(
        tr(
            "Registered as **{model}:{version}**; pick it above to publish, serve or export "
            "it like any version."
        ).format(model=report.model, version=report.new_version)
    )
    st.dataframe(
        pd.DataFrame(rows),
        column_config={c: st.column_config.NumberColumn(format="%.4f") for c in rows},
    )
    st.caption(
        tr(
            "Accuracy and fairness on the same {rows:,} test rows; the compressed version "
            "gives the same label on {agreement:.2%} of them. Latency: scoring "
            "{latency_rows:,} rows in one call (median of 3)."
        ).format(
            rows=report.n_rows,
            agreement=report.label_agreement,
            latency_rows=report.latency_rows,
        )
    )
    st.caption(
        tr(
            "Energy: measured offline with CodeCarbon while the latency was timed; an estimate "
            "where the processor has no readable energy counter."
        )
    )

with st.expander(tr("All versions")):
    st.dataframe(
        pd.DataFrame(
            {
                tr("model"): [v.ref for v in versions],
                tr("published"): [v.published for v in versions],
                tr("created"): [when(v.created) for v in versions],
                tr("run"): [v.run_id for v in versions],
            }
        ),
        hide_index=True,
    )

python_cell(
    f"""
from lepton_core.runs import score_table
from lepton_core.data import load_table
from lepton_core.runs import compress
from lepton_core.runs import export_mlflow_zip, export_onnx
from lepton_core.runs import cached_model_card, set_intended_use
from lepton_core.runs import load_bundle, publish
from lepton_core.workspace import ShareLinks
from lepton_core.workspace import Workspace
ws = Workspace()
publish(ws, {version.name!r}, {version.version})
ws.set_demo_text(
    {version.name!r}, {version.version}, title={owner_title!r}, description={owner_description!r}
)
link = ShareLinks(ws).create({version.name!r}, {version.version}, expires_in=7 * 86400)
bundle = load_bundle(ws, {version.name!r}, {version.version})
scored = score_table(bundle, load_table("my_file.csv"))
# MLP and text models: compress(ws, {version.name!r}, {version.version}, method="torch-int8")
# image models: the same with method="onnx-int8"
# REST API: python -m lepton_core serve   (a key: ApiKeyStore(ws).create(expires_in=90 * 86400))
"""
)
