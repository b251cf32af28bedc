"""trainguard: keep, and prove, the promise that customer content never trains AI models.

The library core; the CLI (``trainguard``) and the HTTP service are thin
adapters over these names.
"""

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .canonical import canonical_json
    from .decision.batch import DECISION_SCHEMA, decide_batch
    from .decision.consent import ConsentEvent, Ledger
    from .decision.decide import (
        REASON_CODES,
        Decision,
        DecisionContext,
        PolicySet,
        Record,
        decide,
        explain_decision,
    )
    from .decision.policy import (
        ConsentRequirement,
        PolicyVersion,
        Rule,
        load_policy_file,
        parse_policy,
    )
    from .decision.taxonomy import DEFAULT_TAXONOMY, Taxonomy
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
    from .store import Store

# Names load on first use, so a tool that needs one corner of the package (the
# standalone verifier needs only the Merkle and signed-note code) does not pay
# for, or depend on, the store and the compiled loops.
_HOMES = {
    "DECISION_SCHEMA": "decision.batch",
    "decide_batch": "decision.batch",
    "canonical_json": "canonical",
    "ConsentEvent": "decision.consent",
    "Ledger": "decision.consent",
    "REASON_CODES": "decision.decide",
    "Decision": "decision.decide",
    "DecisionContext": "decision.decide",
    "PolicySet": "decision.decide",
    "Record": "decision.decide",
    "decide": "decision.decide",
    "explain_decision": "decision.decide",
    "ConflictError": "errors",
    "ConsentError": "errors",
    "InputError": "errors",
    "IntegrityError": "errors",
    "NotFoundError": "errors",
    "PolicyFileError": "errors",
    "TaxonomyError": "errors",
    "TrainguardError": "errors",
    "ConsentRequirement": "decision.policy",
    "PolicyVersion": "decision.policy",
    "Rule": "decision.policy",
    "load_policy_file": "decision.policy",
    "parse_policy": "decision.policy",
    "Store": "store",
    "DEFAULT_TAXONOMY": "decision.taxonomy",
    "Taxonomy": "decision.taxonomy",
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
