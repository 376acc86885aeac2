"""Rendering for handlers: service results turned into HTML messages and keyboards."""
