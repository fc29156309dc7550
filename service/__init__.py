"""bnlab's service layer: router, data, HTTP API and the `bnlab` command line."""
