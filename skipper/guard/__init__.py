"""The guard: nothing reaches an engine unless it is one read-only query over catalog tables."""
