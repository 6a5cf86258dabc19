"""Features: the keyphrases and search documents of each listing, between ingest and the models."""
