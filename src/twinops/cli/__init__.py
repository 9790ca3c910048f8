"""The command line: ``twinops serve|demo|models|twins|query``."""
