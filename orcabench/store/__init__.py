"""Run directories: the typed schema, the append-only writer, the reader."""
