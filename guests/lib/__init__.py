"""avmm's bare-metal guest runtime (C sources) and the helpers that build guests on it."""
