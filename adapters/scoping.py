"""Row scoping, shared by the configurable adapters (``sql`` and ``rest``).

A record type with an owner (``owner_column`` in ``sql``, ``owner_field`` in ``rest``) is
scoped: a user sees only the rows they own unless they hold one of the adapter's
``see_all_roles``. By default that list is empty, so nobody sees every row until the
configuration names the roles that may (fail closed).
"""

from __future__ import annotations

DEFAULT_SEE_ALL_ROLES: tuple[str, ...] = ()
"""Roles that see every row when the configuration names none: none at all."""
