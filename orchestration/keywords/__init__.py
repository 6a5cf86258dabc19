"""Keyphrases of a paper from its own title and abstract.

`extract` holds the rule (pure functions), `vocabulary` the word lists and the
reference document frequencies it scores with, and `store` the step that runs
it over newly loaded listings into `features.listing_keywords`.
"""
