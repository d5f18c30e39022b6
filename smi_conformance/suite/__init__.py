"""The SMI conformance suite: the tests, their registry, the statistics and the oracle they judge by."""
