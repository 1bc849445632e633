"""Signal families that look past single phrases: each module is one family, pure, no I/O.

* ``normalize``: undoes cheap evasions (zero-width characters, homoglyphs, full-width forms,
  spacing games) and bounds how much of a prompt is read, before any content signal looks at it.
* ``sketch``: a bounded, irreversible sketch of each account's prompts and the two-sample
  statistics read from it (how focused the account is, and whether consecutive prompts are
  related as in a conversation or independent draws as from a dataset).
* ``sequential``: evidence that accumulates over an account's lifetime (a decayed CUSUM), for
  campaigns that never look odd inside one window.
* ``subaccounts``: the (account, end user) pairs a router or reseller passes on.
"""
