"""Twins: instances, relationships, components, external ids and graph queries."""
