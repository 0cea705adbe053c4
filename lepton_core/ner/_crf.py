"""The ``ner_crf`` family: a linear-chain CRF (sklearn-crfsuite) on features that work in
any language.

Each token is described by itself (lower-cased), its first and last characters, its
shape (``Xxxx``, ``dd``), whether it is a Chinese or Japanese character, and the same
for its neighbours two either side, plus the bigrams it forms with them (for Chinese,
character bigrams stand in for words). No word lists or models, so it trains in seconds
on a few thousand sentences in any script. The model is saved in crfsuite's own file
format (``model.crfsuite``), never pickled.
"""

from __future__ import annotations

import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from lepton_core.core import Message, Task
from lepton_core.models import ProgressFn, Setting
from lepton_core.ner._model import NerModel
from lepton_core.ner._tags import Sentence, is_cjk

__all__ = ["CRF_FILE", "NerCrfModel", "token_features"]

CRF_FILE = "model.crfsuite"
#: What a hidden word (``None``) is described as: a word and shape no training text has,
#: so crfsuite, which ignores unseen features, reads it as an unknown word.
_HIDDEN = "<hidden>"
# A tagger holds one sentence at a time (``set``, then ``tag`` or ``marginal``), and the
# pages share one loaded model between threads.
_TAGGER = threading.Lock()


def _shape(token: str) -> str:
    """``Xxxx`` → ``Xx``, ``2024`` → ``d``: the token's character classes, runs collapsed."""
    shape = re.sub(r"[A-Z]", "X", token)
    shape = re.sub(r"[a-z]", "x", shape)
    shape = re.sub(r"\d", "d", shape)
    shape = "".join("c" if is_cjk(ch) else ch for ch in shape)
    return re.sub(r"(.)\1+", r"\1", shape)[:6]


def _describe(token: str | None) -> dict[str, Any]:
    if token is None:
        return {"w": _HIDDEN, "shape": _HIDDEN}
    low = token.lower()
    return {
        "w": low,
        "shape": _shape(token),
        "title": token.istitle(),
        "upper": token.isupper(),
        "digit": token.isdigit(),
        "cjk": is_cjk(token),
        "p2": low[:2],
        "s2": low[-2:],
        "s3": low[-3:],
        "len": min(len(token), 8),
    }


def token_features(tokens: list[str | None]) -> list[dict[str, Any]]:
    """crfsuite's feature dicts for each token of a sentence (``None``: a hidden word)."""
    own = [_describe(t) for t in tokens]
    low = ["<s>", "<s>", *(_HIDDEN if t is None else t.lower() for t in tokens), "</s>", "</s>"]
    out = []
    for i, base in enumerate(own):
        f: dict[str, Any] = {"bias": 1.0, **base}
        for d in (-2, -1, 1, 2):
            j = i + d
            if 0 <= j < len(own):
                f[f"{d}:w"] = own[j]["w"]
                f[f"{d}:shape"] = own[j]["shape"]
            else:
                f[f"{d}:w"] = "<s>" if j < 0 else "</s>"
        f["-1|0"] = f"{low[i + 1]}|{low[i + 2]}"
        f["0|1"] = f"{low[i + 2]}|{low[i + 3]}"
        f["-1|1"] = f"{low[i + 1]}|{low[i + 3]}"
        out.append(f)
    return out


class NerCrfModel(NerModel):
    """Named entities by a CRF on words (or characters in Chinese and Japanese).

    Parameters
    ----------
    task : str
        Kept for the model contract; NER has its own kind of target.
    seed : int
    c1, c2 : float
        L1 and L2 regularisation strengths (L-BFGS).
    max_iterations : int
        L-BFGS iterations at most.

    Attributes
    ----------
    final_estimator_ : pycrfsuite.Tagger
        The tagger, opened on :attr:`model_bytes_`.
    model_bytes_ : bytes
        The model in crfsuite's file format.
    history_ : list of dict
        ``{"step", "train_loss"}`` per L-BFGS iteration.
    """

    family = "ner_crf"
    title = Message("family.ner_crf")
    requirements = ("sklearn-crfsuite", "python-crfsuite", "seqeval")
    settings = (
        Setting("c1", Message("ner.setting_c1"), 0.05, 0.0, 10.0, 0.01, format="%.2f"),
        Setting("c2", Message("ner.setting_c2"), 0.05, 0.0, 10.0, 0.01, format="%.2f"),
        Setting("max_iterations", Message("ner.setting_iterations"), 150, 10, 1000, 10),
    )

    def __init__(
        self,
        task: Task = "multiclass",
        seed: int = 0,
        c1: float = 0.05,
        c2: float = 0.05,
        max_iterations: int = 150,
    ) -> None:
        self.task = task
        self.seed = seed
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations

    def _fit_tags(self, train, valid, progress: ProgressFn | None) -> None:
        import pycrfsuite
        import sklearn_crfsuite

        history, total = self.history_, int(self.max_iterations)

        class _Progress(pycrfsuite.Trainer):
            # crfsuite reports iterations only to a verbose trainer; its log is parsed here
            # instead of printed. It cannot be stopped between iterations: a stop request
            # is ignored.
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **{**kwargs, "verbose": True})

            def message(self, message: str) -> None:
                if self.logparser.feed(message) != "iteration":
                    return
                info = self.logparser.last_iteration
                logs = {"train_loss": float(info.get("loss", 0.0))}
                history.append({"step": float(info.get("num", len(history) + 1)), **logs})
                if progress is not None:
                    progress(len(history), total, logs)

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / CRF_FILE
            crf = sklearn_crfsuite.CRF(
                algorithm="lbfgs",
                c1=float(self.c1),
                c2=float(self.c2),
                max_iterations=total,
                all_possible_transitions=True,
                model_filename=str(path),
                trainer_cls=_Progress,
            )
            crf.fit(
                [token_features(s.tokens) for s in train],
                [s.tags for s in train],
            )
            self._open(path.read_bytes())
        self.best_iteration_ = len(history) or None

    def _open(self, data: bytes) -> None:
        import pycrfsuite

        tagger = pycrfsuite.Tagger()
        tagger.open_inmemory(data)
        self.model_bytes_, self.final_estimator_ = data, tagger

    def _tag(self, sentences: list[Sentence]) -> list[list[str]]:
        tagger = self.final_estimator_
        with _TAGGER:
            return [list(tagger.tag(token_features(s.tokens))) for s in sentences]

    def _probabilities(self, sentences: list[list[str | None]]) -> list[np.ndarray]:
        # crfsuite's marginals: each tag's chance at each position, over all tag paths.
        tagger = self.final_estimator_
        known = set(tagger.labels())
        out = []
        with _TAGGER:
            for tokens in sentences:
                tagger.set(token_features(tokens))
                out.append(
                    np.array(
                        [
                            [tagger.marginal(t, i) if t in known else 0.0 for t in self.labels_]
                            for i in range(len(tokens))
                        ],
                        dtype=float,
                    )
                )
        return out

    def _save_estimator(self, folder: Path) -> list[str]:
        (folder / CRF_FILE).write_bytes(self.model_bytes_)
        return [CRF_FILE]

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        self._open((folder / CRF_FILE).read_bytes())

    def __getstate__(self) -> dict[str, Any]:
        # The tagger is a C object; copies reopen it from the model's bytes.
        state = dict(self.__dict__)
        state.pop("final_estimator_", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "model_bytes_" in state:
            self._open(state["model_bytes_"])
