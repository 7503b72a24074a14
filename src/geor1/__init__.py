"""geor1: Geo-R1 reinforcement fine-tuning for geospatial vision-language models."""

__version__ = "0.1.0"
