"""Tables: load, type, clean, profile and split them; find and anonymise personal data."""

from lepton_core.data._choices import (
    MAX_CLASSES,
    MIN_LABELLED_ROWS,
    Suggestions,
    check_sensitive,
    check_target,
    infer_task,
    suggest_sensitive,
    suggest_target,
)
from lepton_core.data._clean import (
    CLEANUP_ACTIONS,
    TYPE_CHOICES,
    CleanupStep,
    NumberReading,
    add_cleanup,
    apply_cleanups,
    read_number,
    read_numbers,
    set_type,
    suggest_cleanups,
)
from lepton_core.data._excel import TABLE_EXTENSIONS
from lepton_core.data._hub import (
    hub_reachable,
    load_hub_dataset,
    parse_hub_source,
)
from lepton_core.data._inputs import (
    MAX_RECORDS,
    InputField,
    InputSchema,
)
from lepton_core.data._kanonymity import (
    KAnonymity,
    k_anonymity,
)
from lepton_core.data._limits import (
    LIMIT_SETTINGS,
    InputLimits,
)
from lepton_core.data._load import TableFormat, load_table, read_table
from lepton_core.data._names import visible_name
from lepton_core.data._pii_actions import (
    ACTION_TITLES,
    ACTIONS,
    Action,
    AnonymisationStep,
    anonymise,
    hash_value,
    load_salt,
    mask_text,
    suggested_actions,
)
from lepton_core.data._pii_detect import (
    KIND_LABELS,
    KINDS,
    ColumnFinding,
    ScanReport,
    scan_table,
)
from lepton_core.data._pii_nlp import spacy_entity_pipeline
from lepton_core.data._profile import (
    MANY_CATEGORIES,
    MOSTLY_MISSING,
    ColumnProfile,
    DataProfile,
    fingerprint,
    profile_table,
    quality_warnings,
)
from lepton_core.data._samples import (
    Sample,
    list_samples,
    load_sample,
)
from lepton_core.data._schema import (
    ColumnInfo,
    Schema,
    infer_schema,
)
from lepton_core.data._sniff import encoding_label
from lepton_core.data._split import (
    DataSplit,
    prepare_features,
    split_table,
)

__all__ = [
    "ACTIONS",
    "ACTION_TITLES",
    "CLEANUP_ACTIONS",
    "KINDS",
    "KIND_LABELS",
    "LIMIT_SETTINGS",
    "MANY_CATEGORIES",
    "MAX_CLASSES",
    "MAX_RECORDS",
    "MIN_LABELLED_ROWS",
    "MOSTLY_MISSING",
    "TABLE_EXTENSIONS",
    "TYPE_CHOICES",
    "Action",
    "AnonymisationStep",
    "CleanupStep",
    "ColumnFinding",
    "ColumnInfo",
    "ColumnProfile",
    "DataProfile",
    "DataSplit",
    "InputField",
    "InputLimits",
    "InputSchema",
    "KAnonymity",
    "NumberReading",
    "Sample",
    "ScanReport",
    "Schema",
    "Suggestions",
    "TableFormat",
    "add_cleanup",
    "anonymise",
    "apply_cleanups",
    "check_sensitive",
    "check_target",
    "encoding_label",
    "fingerprint",
    "hash_value",
    "hub_reachable",
    "infer_schema",
    "infer_task",
    "k_anonymity",
    "list_samples",
    "load_hub_dataset",
    "load_salt",
    "load_sample",
    "load_table",
    "mask_text",
    "parse_hub_source",
    "prepare_features",
    "profile_table",
    "quality_warnings",
    "read_number",
    "read_numbers",
    "read_table",
    "scan_table",
    "set_type",
    "spacy_entity_pipeline",
    "split_table",
    "suggest_cleanups",
    "suggest_sensitive",
    "suggest_target",
    "suggested_actions",
    "visible_name",
]
