"""trainguard: keep, and prove, the promise that customer content never trains AI models.

The library core; the CLI (``trainguard``) and the HTTP service are thin
adapters over these names.
"""

from .batch import DECISION_SCHEMA, decide_batch
from .canonical import canonical_json
from .consent import ConsentEvent, Ledger
from .decide import (
    REASON_CODES,
    Decision,
    DecisionContext,
    PolicySet,
    Record,
    decide,
    explain_decision,
    inherit_categories,
)
from .errors import (
    ConflictError,
    ConsentError,
    InputError,
    IntegrityError,
    NotFoundError,
    PolicyFileError,
    TaxonomyError,
    TrainguardError,
)
from .policy import ConsentRequirement, PolicyVersion, Rule, load_policy_file, parse_policy
from .store import Store
from .taxonomy import DEFAULT_TAXONOMY, Taxonomy

__version__ = "0.2.0"

__all__ = [
    "DECISION_SCHEMA",
    "DEFAULT_TAXONOMY",
    "REASON_CODES",
    "ConflictError",
    "ConsentError",
    "ConsentEvent",
    "ConsentRequirement",
    "Decision",
    "DecisionContext",
    "InputError",
    "IntegrityError",
    "Ledger",
    "NotFoundError",
    "PolicyFileError",
    "PolicySet",
    "PolicyVersion",
    "Record",
    "Rule",
    "Store",
    "Taxonomy",
    "TaxonomyError",
    "TrainguardError",
    "__version__",
    "canonical_json",
    "decide",
    "decide_batch",
    "explain_decision",
    "inherit_categories",
    "load_policy_file",
    "parse_policy",
]
