"""The names of the store's tables, as plain strings.

The audit schema (audit/schema.py) and the store's (store/schema.py) define the
tables under these names; the SQLite path of a single decision (store/lite.py)
reads and writes them by name without loading SQLAlchemy, which defining a
table would load.
"""

from __future__ import annotations

AUDIT_ENTRIES = "tg_audit_entries"
AUDIT_CHECKPOINTS = "tg_audit_checkpoints"
AUDIT_HEAD = "tg_audit_head"

SETTINGS = "tg_settings"
POLICY_VERSIONS = "tg_policy_versions"
TENANT_FAMILIES = "tg_tenant_families"
TAXONOMY_KEYS = "tg_taxonomy_keys"
CONSENT_EVENTS = "tg_consent_events"
MODELS = "tg_models"
MODEL_MANIFESTS = "tg_model_manifests"
NOTICES = "tg_notices"
NOTICE_EVENTS = "tg_notice_events"
API_KEYS = "tg_api_keys"
