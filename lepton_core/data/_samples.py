"""Sample data sets that work offline with zero configuration.

``adult`` and ``sst2`` ship with Lepton as Parquet files (see ``sample_files/PROVENANCE.md``);
``wine`` and ``diabetes`` come from the copies bundled with scikit-learn, imported only
when one of them is loaded because importing scikit-learn is slow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lepton_core.core import DataError, Message

__all__ = ["Sample", "list_samples", "load_sample"]

_FOLDER = Path(__file__).resolve().parent / "sample_files"


@dataclass
class Sample:
    """A ready-to-use data set.

    Attributes
    ----------
    name : str
        Short name passed to :func:`load_sample`.
    title, description : str
        What to show the user.
    train : pandas.DataFrame
        The table to train on (includes the target column).
    test : pandas.DataFrame or None
        A separate test table with the same columns, if the data set has one.
    target : str
        The column to predict.
    sensitive : list of str
        Columns to compare fairness across.
    source : str
        Citation and licence.
    text_column : str
        The free-text column a text model reads; empty for a tabular sample.
    """

    name: str
    title: Message | str
    description: Message | str
    train: pd.DataFrame
    test: pd.DataFrame | None
    target: str
    sensitive: list[str]
    source: str
    text_column: str = ""


def _adult() -> Sample:
    return Sample(
        name="adult",
        title=Message("sample.adult.title"),
        description=Message("sample.adult.description"),
        train=pd.read_parquet(_FOLDER / "adult_train.parquet"),
        test=pd.read_parquet(_FOLDER / "adult_test.parquet"),
        target="Y",
        sensitive=["sex", "race", "age"],
        source=(
            "UCI Machine Learning Repository: Adult, Becker & Kohavi (1996), "
            "https://doi.org/10.24432/C5XW20, CC BY 4.0"
        ),
    )


def _wine() -> Sample:
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame["cultivar"] = pd.Series(bunch.target_names[bunch.target], dtype="str")
    return Sample(
        name="wine",
        title=Message("sample.wine.title"),
        description=Message("sample.wine.description"),
        train=frame,
        test=None,
        target="cultivar",
        sensitive=[],
        source=(
            "UCI Machine Learning Repository: Wine, Forina et al. (PARVUS), "
            "https://doi.org/10.24432/C5PC7J, CC BY 4.0; as bundled with scikit-learn"
        ),
    )


def _diabetes() -> Sample:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame.rename(
        columns={"target": "progression"}
    )
    # The source codes sex as 1/2 without saying which is which; as labels "1"/"2"
    # it is a two-group attribute rather than a number a model could scale.
    frame["sex"] = frame["sex"].astype(int).astype("str")
    return Sample(
        name="diabetes",
        title=Message("sample.diabetes.title"),
        description=Message("sample.diabetes.description"),
        train=frame,
        test=None,
        target="progression",
        sensitive=["sex", "age"],
        source=(
            "Efron, Hastie, Johnstone & Tibshirani (2004), 'Least Angle Regression', Annals of "
            "Statistics; raw data as bundled with scikit-learn (BSD-3-Clause), no licence stated "
            "by the source"
        ),
    )


def _sst2() -> Sample:
    return Sample(
        name="sst2",
        title=Message("sample.sst2.title"),
        description=Message("sample.sst2.description"),
        train=pd.read_parquet(_FOLDER / "sst2_train.parquet"),
        test=pd.read_parquet(_FOLDER / "sst2_test.parquet"),
        target="sentiment",
        sensitive=[],
        source=(
            "Stanford Sentiment Treebank, Socher et al. (2013), as distributed in GLUE "
            "(Wang et al., 2018); a seeded sample of the training split"
        ),
        text_column="sentence",
    )


_SAMPLES: dict[str, Callable[[], Sample]] = {
    "adult": _adult,
    "sst2": _sst2,
    "wine": _wine,
    "diabetes": _diabetes,
}


def list_samples() -> list[str]:
    """Names of the sample data sets, in the order to offer them."""
    return list(_SAMPLES)


def load_sample(name: str) -> Sample:
    """Load a sample data set by name.

    Raises
    ------
    DataError
        If there is no sample called ``name``.
    """
    try:
        loader = _SAMPLES[name]
    except KeyError:
        valid = ", ".join(f"'{n}'" for n in _SAMPLES)
        raise DataError(Message("sample.unknown", name=name, names=valid)) from None
    return loader()
