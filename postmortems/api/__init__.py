"""Post-mortems and action items over the REST API (see docs/api.md)."""
