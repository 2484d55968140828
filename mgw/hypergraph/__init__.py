"""Availability hypergraph (seed §1.1.3): model, bitmap store, XGI reference, benchmark."""
