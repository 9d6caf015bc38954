"""Dosi (도시): a smart-city data hub speaking ETSI NGSI-LD."""

__version__ = "0.1.0"
