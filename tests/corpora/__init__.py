"""Real-world corpora of event schemas with example payloads (issue 14): vendored by vendor.py, converted to
Kastor specs by convert.py, measured by tests/corpus_support.py and held to the issue's targets by
tests/test_corpora.py. Each corpus folder has a SOURCE.md saying where its files come from."""
