"""The client's local cache."""
