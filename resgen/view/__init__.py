"""Spec -> one offline HTML page to explore the network (`resgen view`)."""
