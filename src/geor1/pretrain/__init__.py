"""Pretraining the tiny base models on GeoSynth: phases as recipes (:mod:`.config`), the corpus
and its rules (:mod:`.corpus`), encoded data and pools (:mod:`.data`), probes and auxiliary losses
(:mod:`.probes`), and one loop for CPU and CUDA (:mod:`.loop`). ``geor1 pretrain RECIPE`` runs a
phase; docs/pretraining.md records what was tried and measured."""
