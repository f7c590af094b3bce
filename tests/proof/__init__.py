"""The proof that the kit catches defects: its scenarios run against tests/broken and
the Node example."""
