"""Signal families that look past single phrases: each module is one family, pure, no I/O.

* ``normalize``: undoes cheap evasions (zero-width characters, homoglyphs, full-width forms,
  spacing games) and bounds how much of a prompt is read, before any content signal looks at it.
* ``sketch``: a bounded, irreversible sketch of each account's prompts and the two-sample
  statistics read from it (how focused the account is, and whether consecutive prompts are
  related as in a conversation or independent draws as from a dataset).
* ``form``: how an account's prompts are written (data or requests), tested against the
  population's with a null calibrated on ordinary accounts: query sets, pure or mixed in.
* ``novelty``: the share of an account's calls that could buy a new answer (repeats at
  deterministic sampling buy none).
* ``sequential``: evidence that accumulates over an account's lifetime (a decayed CUSUM), for
  campaigns that never look odd inside one window.
* ``subaccounts``: the (account, end user) pairs a router or reseller passes on.
"""
