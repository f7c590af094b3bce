"""Power-loss simulation tests, and the broken migrators only a power cut reveals."""
