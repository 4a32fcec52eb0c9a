"""Software-defined assets, one group per module."""
