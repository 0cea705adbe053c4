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
    when,
    workspace,
)


class _State:
    """This page's session-state keys."""

    NEW_KEY = "deploy_new_key"  # a key just created: shown once, then dropped
    EXPIRY = "deploy_expiry"
    SCORED = "deploy_scored"
    ZIP = "deploy_zip"
    ONNX = "deploy_onnx"
    COMPRESSED = "deploy_compressed"


header(
    "5 · Deploy",
    "Share a model version as a demo link, call it from your own service through the REST "
    "API, or score a whole file.",
)

# Imported after the heading is on screen: a first visit imports the engine's heavy parts.
from lepton_core.data import load_table  # noqa: E402
from lepton_core.runs import (  # noqa: E402
    cached_model_card,
    compress,
    export_mlflow_zip,
    export_onnx,
    load_bundle,
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
    ShareLinks,
)

ws = workspace()
versions = model_versions()
if not versions:
    st.info("There is no trained model yet; train one on the **Train** page first.")
    st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

refs = [v.ref for v in versions]
by_ref = {v.ref: v for v in versions}
run_id = st.session_state.get(Keys.RUN_ID)
default = next((i for i, v in enumerate(versions) if v.run_id == run_id), 0)
ref = st.selectbox(
    "Model version",
    refs,
    index=default,
    format_func=lambda r: (
        f"{r}{' · published' if by_ref[r].published else ''} · {when(by_ref[r].created)}"
    ),
)
version = by_ref[ref]
reports = run_reports(version.run_id)
metric_row(reports.headline())
links = guard(ShareLinks, ws)
base = urlparse(st.context.url or "http://localhost:8501")


def _link_url(token: str) -> str:
    return f"{base.scheme}://{base.netloc}/demo?{urlencode({'token': token})}"


def _create_link() -> None:
    seconds = EXPIRY_CHOICES[expiry]
    links.create(version.name, version.version, expires_in=seconds, public=seconds is None)


# ------------------------------------------------------------------ share links
st.subheader("Share link")
expiry = st.radio(
    "Link expires after",
    list(EXPIRY_CHOICES),
    horizontal=True,
    key=_State.EXPIRY,
    help="A public link works until you revoke it or withdraw the version.",
)
if version.published:
    mine = [link for link in links.list(version.name, version.version) if link.active]
    if mine:
        st.success("This version is published; anyone with an active link can use its demo page.")
        st.code(_link_url(mine[0].token), language=None)
        st.link_button(
            "Open the demo page", _link_url(mine[0].token), icon=":material/open_in_new:"
        )
    else:
        st.warning("This version is published but has no active link; create one.")
    left, right = st.columns(2)
    if left.button("Create another link", icon=":material/add_link:"):
        _create_link()
        st.rerun()
    if right.button("Withdraw", help="Every link to this version stops working."):
        guard(ws.set_published, version.name, version.version, False)
        st.rerun()
else:
    st.write("This version is not published; publishing it creates a signed demo link.")
    if st.button("Publish", type="primary", icon=":material/rocket_launch:"):
        guard(ws.set_published, version.name, version.version, True)
        _create_link()
        st.rerun()

all_links = links.list(version.name, version.version)
if all_links:
    with st.expander(f"Links to this version ({len(all_links)})", expanded=False):
        for link in all_links:
            cols = st.columns([3, 2, 2, 1])
            cols[0].write(f"`{link.id}` · created {when(link.created)}")
            cols[1].write(
                "never expires" if link.expires is None else f"expires {when(link.expires)}"
            )
            if link.revoked:
                state = "revoked"
            elif not link.active:
                state = "expired"
            else:
                state = "active" if version.published else "off while withdrawn"
            cols[2].write(state)
            if link.revoked is None and cols[3].button("Revoke", key=f"revoke-link-{link.id}"):
                links.revoke(link.id)
                st.rerun()

# ---------------------------------------------------------------------- REST API
st.subheader("REST API")
bundle = guard(load_bundle, ws, version.name, version.version)
record = bundle.input_schema.defaults()
endpoint = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
st.write(
    f"Start the API with `python -m lepton_core serve` (it listens on `{endpoint}`); every "
    "call but `/health` needs an API key. Interactive docs are at "
    f"`{endpoint}/docs`; Open Inference Protocol v2 clients use `/v2/models/{version.name}/infer`."
)
examples = api_examples(endpoint, version.name, version.version, record)
curl_tab, python_tab = st.tabs(["curl", "Python"])
curl_tab.code(examples["curl"], language="bash")
python_tab.code(examples["python"], language="python")
if st.button("Try it", icon=":material/play_arrow:", help="Calls the API in this process."):
    result = try_predict(ws, version.name, version.version, [record])
    st.caption(f"HTTP {result.status} in {result.latency_ms:.1f} ms")
    st.json(result.body)

st.markdown("**API keys**")
store = ApiKeyStore(ws)
new_key = st.session_state.pop(_State.NEW_KEY, None)
if new_key:
    st.warning("Copy this key now: it is shown once and stored only as a hash.")
    st.code(new_key, language=None)
with st.form("new-key", clear_on_submit=True, border=False):
    left, middle, right = st.columns([3, 2, 1], vertical_alignment="bottom")
    key_name = left.text_input("Key name", placeholder="e.g. billing-service")
    key_expiry = middle.selectbox(
        "Key expires after",
        list(KEY_EXPIRY_CHOICES),
        index=1,
        help="An expired key gets 401; create a new one before it runs out.",
    )
    if right.form_submit_button("Create key", icon=":material/key:"):
        _, token = store.create(key_name, expires_in=KEY_EXPIRY_CHOICES[key_expiry])
        st.session_state[_State.NEW_KEY] = token
        st.rerun()


def _key_state(key: ApiKey) -> str:
    if key.revoked:
        return "revoked"
    if key.expired:
        return "expired"
    return f"last used {when(key.last_used)}" if key.last_used else "never used"


for key in store.list():
    cols = st.columns([3, 2, 2, 2, 1])
    cols[0].write(f"**{key.name}** `{key.hint}`")
    cols[1].write(f"created {when(key.created)}")
    cols[2].write("never expires" if key.expires is None else f"expires {when(key.expires)}")
    cols[3].write(_key_state(key))
    if key.active and cols[4].button("Revoke", key=f"revoke-key-{key.id}"):
        store.revoke(key.id)
        st.rerun()

# ----------------------------------------------------------------- batch scoring
st.subheader("Batch scoring")
st.write(
    "Upload a table with the model's columns; it comes back with the prediction, its "
    "probability and the three features that weighed most on each row."
)
upload = st.file_uploader("Table to score", type=["csv", "tsv", "parquet", "jsonl", "json"])
if upload is not None and st.button("Score the file", icon=":material/batch_prediction:"):
    table = guard(load_table, upload.getvalue(), filename=upload.name)
    bar = st.progress(0.0, text="Scoring…")
    scored = guard(
        score_table,
        bundle,
        table,
        progress=lambda done, total: bar.progress(done / total, text=f"{done:,} / {total:,} rows"),
    )
    st.session_state[_State.SCORED] = (upload.name, scored)
if _State.SCORED in st.session_state:
    name, scored = st.session_state[_State.SCORED]
    st.caption(f"{len(scored):,} rows scored; the first 50:")
    st.dataframe(scored.head(50), hide_index=True)
    st.download_button(
        "Download the scored table",
        to_csv(scored),  # formula-like cells escaped for spreadsheets
        file_name=f"{name.rsplit('.', 1)[0]}-scored.csv",
        mime="text/csv",
        icon=":material/download:",
    )

# -------------------------------------------------------------------- model card
st.subheader("Model card")
card = guard(cached_model_card, ws, version.name, version.version)
with st.form("intended-use", border=False):
    use = st.text_area(
        "Intended use",
        value="" if card.intended_use.startswith("Not stated") else card.intended_use,
        placeholder="What the model is for, who uses it, and what it must not be used for.",
    )
    if st.form_submit_button("Save intended use"):
        guard(set_intended_use, ws, version.name, version.version, use)
        st.rerun()
markdown = card.to_markdown()
with st.expander("Model card", icon=":material/description:"):
    st.markdown(markdown)
st.download_button(
    "Download the model card",
    markdown,
    file_name=f"{version.name}-v{version.version}-model-card.md",
    mime="text/markdown",
    icon=":material/download:",
)

# ------------------------------------------------------- exports and compression
st.subheader("Export and compress")
st.write(
    "Download the MLflow model folder, or an ONNX graph checked against the original on the "
    "test rows. int8 compression shows what it saves and what it costs, fairness included."
)
left, right = st.columns(2)
if left.button("Export MLflow folder (zip)", icon=":material/folder_zip:"):
    with tempfile.TemporaryDirectory() as tmp:
        path = guard(export_mlflow_zip, ws, version.name, version.version, tmp)
        st.session_state[_State.ZIP] = (version.ref, path.name, path.read_bytes())
if right.button("Export ONNX", icon=":material/conversion_path:"):
    with tempfile.TemporaryDirectory() as tmp, st.spinner("Converting and checking…"):
        result = guard(export_onnx, ws, version.name, version.version, tmp)
        st.session_state[_State.ONNX] = (version.ref, result, Path(result.path).read_bytes())
zipped = st.session_state.get(_State.ZIP)
if zipped and zipped[0] == version.ref:
    left.download_button(
        "Download the zip", zipped[2], file_name=zipped[1], icon=":material/download:"
    )
exported = st.session_state.get(_State.ONNX)
if exported and exported[0] == version.ref:
    result = exported[1]
    right.caption(
        f"{result.family} → ONNX, {result.size_bytes / 1024:,.0f} KiB; same label on "
        f"{result.label_agreement:.2%} of {result.n_rows:,} test rows, largest difference "
        f"{result.max_abs_diff:.1e}."
    )
    right.download_button(
        "Download the ONNX file",
        exported[2],
        file_name=Path(result.path).name,
        icon=":material/download:",
    )
methods = compression_methods(guard(ws.get_run, version.run_id).family)
if not methods:
    st.caption(
        "This kind of model has no int8 compression; it is already small and fast. "
        "Compression is offered for neural networks and text models."
    )
    method = None
else:
    method = st.radio(
        "Compression",
        list(methods),
        format_func=methods.get,
        horizontal=True,
        key="deploy_method",
    )
if method and st.button("Compress into a new version", icon=":material/compress:"):
    with st.spinner("Quantising, then scoring, checking and explaining the new version…"):
        st.session_state[_State.COMPRESSED] = (
            version.ref,
            guard(compress, ws, version.name, version.version, method=method),
        )
compressed = st.session_state.get(_State.COMPRESSED)
if compressed and compressed[0] == version.ref:
    report = compressed[1]
    rows = {}
    for variant in (report.before, report.after):
        row = {"size (KiB)": variant.size_bytes / 1024, "latency (ms)": variant.latency_ms}
        row.update({k: v for k, v in variant.metrics.items() if k in ("accuracy", "roc_auc", "r2")})
        for attribute, gaps in variant.fairness.items():
            for key, label in (
                ("demographic_parity_difference", "DPD"),
                ("equalized_odds_difference", "EOD"),
            ):
                row[f"{label} by {attribute}"] = gaps[key]
        rows[variant.name] = row
    st.success(
        f"Registered as **{report.model}:{report.new_version}**; pick it above to publish, "
        "serve or export it like any version."
    )
    st.dataframe(
        pd.DataFrame(rows),
        column_config={c: st.column_config.NumberColumn(format="%.4f") for c in rows},
    )
    st.caption(
        f"Accuracy and fairness on the same {report.n_rows:,} test rows; the compressed "
        f"version gives the same label on {report.label_agreement:.2%} of them. Latency: "
        f"scoring {report.latency_rows:,} rows in one call (median of 3)."
    )

with st.expander("All versions"):
    st.dataframe(
        pd.DataFrame(
            {
                "model": [v.ref for v in versions],
                "published": [v.published for v in versions],
                "created": [when(v.created) for v in versions],
                "run": [v.run_id for v in versions],
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
from lepton_core.runs import load_bundle
from lepton_core.workspace import ShareLinks
from lepton_core.workspace import Workspace
ws = Workspace()
ws.set_published({version.name!r}, {version.version})
link = ShareLinks(ws).create({version.name!r}, {version.version}, expires_in=7 * 86400)
bundle = load_bundle(ws, {version.name!r}, {version.version})
scored = score_table(bundle, load_table("my_file.csv"))
# MLP and text models: compress(ws, {version.name!r}, {version.version}, method="torch-int8")
# REST API: python -m lepton_core serve   (a key: ApiKeyStore(ws).create(expires_in=90 * 86400))
"""
)
