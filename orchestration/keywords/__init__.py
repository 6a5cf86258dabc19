"""Keyphrases of a paper from its own title and abstract.

`extract` holds the rule (pure functions), `vocabulary` the word lists and the
reference document frequencies it scores with, and `calibrate` the command
that rebuilds those frequencies. orchestration/features.py runs the rule over
newly loaded listings into `features.listing_keywords`.
"""
