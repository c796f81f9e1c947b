"""The evidence: what the runs say about the sources' claims. Statistics over seeds
(:mod:`.stats`), the learning gate, the claims as data (:mod:`.claims`), the one place a
verdict is decided (:mod:`.ledger`), the rules that compute the arms of a claim that is not a
comparison of two experiments (:mod:`.rules`), which runs the ledger reads (:mod:`.plan`), the
committed results (:mod:`.results`), the confirmation stage, budgets, and the numbers glued
into the text (:mod:`.prose`) and its tables. Reads runs through :mod:`bngan.runs`; imports
nothing of the book."""
