"""Named-entity recognition: labelled sentences in, entities as character spans out.

- Data: CoNLL/BIO files (:func:`read_conll`; IOB1, BIOES and IO normalised to BIO),
  JSON lines with character spans (:func:`ner_from_jsonl`), and tables with a text
  column and an entities column (:func:`ner_from_table`); each gives an :class:`NerData`
  whose :meth:`~NerData.table` the workspace stores. Chinese and Japanese are read a
  character per token (:func:`tokenize`).
- Families (found by the model registry): ``ner_crf`` (:class:`NerCrfModel`, a CRF on
  features that work in any language, saved in crfsuite's format) and ``ner_minilm``
  (:class:`NerMiniLMModel`, the built-in MiniLM with a token-classification head,
  saved as safetensors) and ``ner_spacy`` (:class:`NerSpacyModel`, spaCy's ready-made
  English pipeline with no training: only which of its kinds stand for the data set's
  is learnt, and saved in ``model.json``).
- Evaluation (:func:`evaluate_ner`): seqeval's strict entity-level precision, recall and
  F1 per type, a confusion view of types and the worst sentences (:class:`NerReport`).
- :func:`train_ner`: fit a family on a data set and score it on a test set.
- :func:`explain_entity`: token SHAP for one entity found in a sentence, as an
  :class:`~lepton_core.explain.Explanation` of one text.

Importing the package does not import torch, transformers, crfsuite, spaCy or shap.
"""

from __future__ import annotations

from lepton_core.ner._crf import NerCrfModel, token_features
from lepton_core.ner._evaluate import NONE_TYPE, NerReport, evaluate_ner
from lepton_core.ner._explain import explain_entity
from lepton_core.ner._minilm import NerMiniLMModel
from lepton_core.ner._model import NerModel, as_sentences
from lepton_core.ner._read import (
    ENTITIES_COLUMN,
    NER_EXTENSIONS,
    TEXT_COLUMN,
    NerData,
    load_ner,
    looks_like_ner,
    ner_from_jsonl,
    ner_from_table,
    read_conll,
)
from lepton_core.ner._spacy import NerSpacyModel
from lepton_core.ner._tags import (
    Entity,
    Sentence,
    join_tokens,
    normalise_tags,
    sentence_from_spans,
    spans_from_tags,
    tokenize,
)
from lepton_core.ner._train import NerResult, train_ner

__all__ = [
    "ENTITIES_COLUMN",
    "NER_EXTENSIONS",
    "NONE_TYPE",
    "TEXT_COLUMN",
    "Entity",
    "NerCrfModel",
    "NerData",
    "NerMiniLMModel",
    "NerModel",
    "NerReport",
    "NerResult",
    "NerSpacyModel",
    "Sentence",
    "as_sentences",
    "evaluate_ner",
    "explain_entity",
    "join_tokens",
    "load_ner",
    "looks_like_ner",
    "ner_from_jsonl",
    "ner_from_table",
    "normalise_tags",
    "read_conll",
    "sentence_from_spans",
    "spans_from_tags",
    "token_features",
    "tokenize",
    "train_ner",
]
