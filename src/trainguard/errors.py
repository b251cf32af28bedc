"""Exceptions raised by trainguard.

The tree::

    TrainguardError                 every error trainguard raises on purpose
    ├── InputError                  the caller gave something invalid (exit 2)
    │   ├── PolicyFileError         a policy file failed validation
    │   ├── TaxonomyError           an unknown or malformed category/use key
    │   ├── ConsentError            a consent event failed validation
    │   └── NotFoundError           a named object is not in the store
    ├── ConflictError               the store already holds something different (exit 2)
    └── IntegrityError              stored data fails verification (exit 1)

Every message is one line that names the input and the problem, so the CLI
can print it as it is.
"""

from __future__ import annotations


class TrainguardError(Exception):
    """Base of every error trainguard raises on purpose."""

    exit_code = 2


class InputError(TrainguardError):
    """Something the caller supplied is invalid."""


class PolicyFileError(InputError):
    """A policy file is not valid."""


class TaxonomyError(InputError):
    """A category or use key is unknown or malformed."""


class ConsentError(InputError):
    """A consent event is not valid."""


class NotFoundError(InputError):
    """A named object (policy version, model, audit entry…) does not exist."""


class ConflictError(TrainguardError):
    """The store already holds something that contradicts the request."""


class IntegrityError(TrainguardError):
    """Stored data does not verify: tampering, truncation or corruption."""

    exit_code = 1
