"""(account, end user) pairs: the users inside a shared account, scored as accounts of their own.

A router, reseller or product serves many people through one paying account. A distiller among
them is a small share of the account's traffic, and the account as a whole looks like what it
is: a busy, mixed customer. Where the gateway passes the account's own end-user id (OpenAI's
``user`` / ``safety_identifier``; ``end_user_id`` in the v1 contract), each pair gets its own
state under a composite key in the account's partition (same key, same partition, same
changelog), is scored like any account, and its alerts name the account and the end user.
"""

from __future__ import annotations

# A control character, so composite keys do not look like ordinary ids; the parent is recovered
# from the length of the end-user id kept beside the key, never by splitting on it.
SEPARATOR = "\x1f"


def sub_key(account_id: str, end_user_id: str) -> str:
    """The state key of one end user inside one account."""
    return f"{account_id}{SEPARATOR}{end_user_id}"


def parent_account(key: str, end_user_id: str | None) -> str:
    """The paying account of a state key (the key itself for an account)."""
    return key if end_user_id is None else key[: len(key) - len(end_user_id) - len(SEPARATOR)]
