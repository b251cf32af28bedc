"""The decision core: the taxonomy of content, the terms (policies), the consent
ledger, and ``decide`` over one record or a batch. The semantics it implements
are in ``docs/semantics.md``."""
