"""Training on TRL: SFT (cold start, few-shot baseline) and GRPO/DAPO/Dr.GRPO from YAML recipes,
and the tiny model's pretraining on GeoSynth."""
