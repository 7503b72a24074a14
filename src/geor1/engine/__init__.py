"""The geospatial chain-of-thought data engine (Geo-SFT cold-start data).

A teacher (an OpenAI-compatible server, a local transformers model, or GeoSynth's programmatic
rationale writer) answers each sample with ``<think>…</think><answer>…</answer>``; the task's
verifiable reward decides what is kept (rejection sampling); the kept replies become SFT records
in TRL's messages format and LLaMA-Factory's ShareGPT format. Runs are resumable after any kill.
See ``docs/engine.md``.
"""

from geor1.engine.run import (
    Engine,
    EngineConfig,
    EngineError,
    Verdict,
    Verifier,
    default_thresholds,
    run_engine,
)
from geor1.engine.teachers import (
    OpenAICompatTeacher,
    ProgrammaticTeacher,
    Reply,
    Request,
    Teacher,
    TransformersTeacher,
)

__all__ = ["Engine", "EngineConfig", "EngineError", "OpenAICompatTeacher",
           "ProgrammaticTeacher", "Reply", "Request", "Teacher", "TransformersTeacher", "Verdict", "Verifier",
           "default_thresholds", "run_engine"]
