"""The image pages under AppTest: bad uploads get one sentence, a damaged picture among good
ones is listed, a good zip is confirmed; the REST API's base64 pictures are checked."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from app_pages._common import Keys

ROOT = Path(__file__).resolve().parents[1]
PNEUMONIA = Path("/work/shared/data/pneumoniamnist/pneumoniamnist_reconstructed.npz")
pytestmark = pytest.mark.skipif(not PNEUMONIA.exists(), reason="needs shared/data/pneumoniamnist")


def xray_zip(
    per_class: int = 6, *, classes: int = 2, broken: bool = False, side: int = 28
) -> bytes:
    """Chest X-rays from PneumoniaMNIST's training split (28 pixels, or ``side``), one
    folder per class."""
    with np.load(PNEUMONIA) as npz:
        images, labels = npz["train_images"], npz["train_labels"].reshape(-1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for label, name in list(enumerate(("normal", "pneumonia")))[:classes]:
            for k, i in enumerate(np.flatnonzero(labels == label)[:per_class]):
                png = io.BytesIO()
                Image.fromarray(images[i]).resize((side, side)).save(png, format="PNG")
                zf.writestr(f"xrays/{name}/{k}.png", png.getvalue())
        if broken:
            zf.writestr("xrays/normal/broken.png", b"\x89PNG this is not a picture")
    return buffer.getvalue()


def _images_page() -> AppTest:
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120)
    at.switch_page("app_pages/data.py").run()
    at.radio[0].set_value("Images").run()
    return at


def _load(at: AppTest, content: bytes) -> AppTest:
    at.file_uploader[0].upload("xrays.zip", content, "application/zip").run()
    next(b for b in at.button if b.label == "Load images").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize(
    ("content", "sentence"),
    [
        (lambda: xray_zip(classes=1), "All 6 images have the label 'normal'"),
        (lambda: b"PK\x05\x06" + b"\0" * 18, "holds no images"),  # an empty zip
        (lambda: b"not a zip at all", "could not be opened as a zip"),
    ],
    ids=["one class", "no images", "not a zip"],
)
def test_bad_image_uploads_get_one_sentence(content, sentence):
    at = _load(_images_page(), content())
    assert len(at.error) == 1 and sentence in at.error[0].value, [e.value for e in at.error]
    assert "Traceback" not in at.error[0].value


def test_a_damaged_picture_is_listed_and_the_rest_are_confirmed(workspace):
    at = _load(_images_page(), xray_zip(broken=True))
    assert [m.value for m in at.metric] == ["12", "2", "1"]
    assert "not readable images" in at.warning[0].value, at.warning
    listed = at.dataframe[0].value
    assert listed.iloc[0, 0] == "broken.png" and "damaged" in listed.iloc[0, 1]
    next(b for b in at.button if b.label == "Use these images").click().run()
    assert not at.exception and "is ready (12 images)" in at.success[0].value
    info = workspace.get_dataset(at.session_state[Keys.DATASET_ID])
    assert info.source.startswith("images:") and info.text_column == "image"
    df, _ = workspace.load_dataset(info.id)
    # The references point into the workspace's copy, not at the upload.
    assert df["image"].str.startswith(str(workspace.root / "uploads" / "images")).all()


def test_a_zip_that_would_leave_its_folder_is_kept_inside(tmp_path, monkeypatch):
    from app_pages import _images
    from lepton_core.data import InputLimits

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("../../evil.png", b"x")
        zf.writestr("ok/a.png", b"y")
    archive = tmp_path / "a.zip"
    archive.write_bytes(buffer.getvalue())
    _images._extract(archive, tmp_path / "out", InputLimits())
    assert (tmp_path / "out" / "ok" / "a.png").exists() and not (tmp_path / "evil.png").exists()


def test_api_pictures_must_be_base64_images_within_the_limit():
    from lepton_core.core import DataError
    from lepton_core.serving._images import image_records

    class Model:
        reads = "image"
        feature_names_in_ = ("image",)

    png = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(png, format="PNG")
    good = base64.b64encode(png.getvalue()).decode()
    with image_records(Model(), [{"image": f"data:image/png;base64,{good}"}]) as records:
        assert Path(records[0]["image"]).read_bytes() == png.getvalue()
    assert not Path(records[0]["image"]).exists()  # gone after the request
    for bad, said in [
        ("/etc/passwd", "is not a picture"),
        (base64.b64encode(b"hello").decode(), "cannot be read"),
    ]:
        with pytest.raises(DataError, match=said), image_records(Model(), [{"image": bad}]):
            pass


def test_the_digits_sample_loads_ten_classes_without_an_upload():
    at = _images_page()
    at.radio[1].set_value("sample").run()
    next(b for b in at.button if b.label == "Load images").click().run()
    assert not at.exception and not at.error
    assert [m.value for m in at.metric] == ["1,797", "10", "0"]


def test_a_table_of_paths_with_a_zip_keeps_a_sensitive_column(workspace):
    rows = "\n".join(
        f"xrays/{label}/{k}.png,{label},{'FM'[k % 2]}"
        for label in ("normal", "pneumonia")
        for k in range(6)
    )
    at = _images_page()
    at.radio[1].set_value("table").run()
    at.file_uploader[0].upload("labels.csv", f"file,label,sex\n{rows}\n".encode(), "text/csv")
    at.file_uploader[1].upload("xrays.zip", xray_zip(), "application/zip").run()
    next(b for b in at.button if b.label == "Load images").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.multiselect[0].set_value(["sex"])
    next(b for b in at.button if b.label == "Use these images").click().run()
    info = workspace.get_dataset(at.session_state[Keys.DATASET_ID])
    assert info.sensitive == ["sex"] and info.n_rows == 12
    # The Train page counts pictures, not rows.
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("· 12 images ·" in m.value for m in at.markdown)


def test_a_folder_upload_keeps_its_class_folders(workspace):
    """A directory upload names each file by its path inside the chosen folder."""
    from app_pages._images import store_upload
    from lepton_core.images import load_images

    class Upload:
        def __init__(self, name: str, data: bytes) -> None:
            self.name, self.data = name, data

        def getvalue(self) -> bytes:
            return self.data

    with zipfile.ZipFile(io.BytesIO(xray_zip(per_class=3))) as zf:
        files = [Upload(n, zf.read(n)) for n in zf.namelist()]
    files.append(Upload("../outside.png", b"x"))  # a name that would leave the folder
    data = load_images(store_upload("folder", files))
    assert data.class_counts() == {"normal": 3, "pneumonia": 3} and not data.skipped
    assert not (workspace.root / "uploads" / "outside.png").exists()


def test_the_prediction_log_keeps_a_fingerprint_not_the_picture():
    from lepton_core.serving._images import logged_records

    class Model:
        reads = "image"
        feature_names_in_ = ("image",)

    logged = logged_records(Model(), [{"image": "A" * 1000}])
    assert logged[0]["image"].startswith("sha256:") and len(logged[0]["image"]) == 23
