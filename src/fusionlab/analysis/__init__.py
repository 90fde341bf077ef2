"""Comparing finished runs: it reads run folders' JSON records (never the code that wrote them) and writes
the report's tables, figures and significance tests."""
