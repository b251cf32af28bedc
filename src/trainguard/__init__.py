"""trainguard: keep, and prove, the promise that customer content never trains AI models.

The library core; the CLI (``trainguard``) and the HTTP service are thin
adapters over these names.
"""

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Names load on first use, so a tool that needs one corner of the package (the
# standalone verifier needs only the Merkle and signed-note code) does not pay
# for, or depend on, the store and the compiled loops.
_HOMES = {
    "DECISION_SCHEMA": "batch",
    "decide_batch": "batch",
    "canonical_json": "canonical",
    "ConsentEvent": "consent",
    "Ledger": "consent",
    "REASON_CODES": "decide",
    "Decision": "decide",
    "DecisionContext": "decide",
    "PolicySet": "decide",
    "Record": "decide",
    "decide": "decide",
    "explain_decision": "decide",
    "ConflictError": "errors",
    "ConsentError": "errors",
    "InputError": "errors",
    "IntegrityError": "errors",
    "NotFoundError": "errors",
    "PolicyFileError": "errors",
    "TaxonomyError": "errors",
    "TrainguardError": "errors",
    "ConsentRequirement": "policy",
    "PolicyVersion": "policy",
    "Rule": "policy",
    "load_policy_file": "policy",
    "parse_policy": "policy",
    "Store": "store",
    "DEFAULT_TAXONOMY": "taxonomy",
    "Taxonomy": "taxonomy",
}


class _Package(ModuleType):
    def __getattr__(self, name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module 'trainguard' has no attribute {name!r}")
        value = getattr(import_module(f".{home}", __name__), name)
        setattr(self, name, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        # Importing a submodule binds it on the package; where an exported name
        # is also a submodule's (``decide``), the export wins, as it did when
        # every name was imported up front.
        if isinstance(value, ModuleType) and name in _HOMES:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__version__ = "0.3.0"

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
    "load_policy_file",
    "parse_policy",
]
