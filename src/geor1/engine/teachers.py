"""Teachers: whatever writes a rationale and an answer for a prompt.

A teacher turns :class:`Request` s into :class:`Reply` s, one each, in order::

    replies = teacher.generate([request, ...])

It never raises for a single request's trouble (HTTP errors, timeouts, malformed replies): the
reply carries ``error`` instead of ``text``. ``batch_size`` says how many requests it wants per
call (a batched model wants many, an HTTP client one at a time from several threads); ``frame``
is the coordinate frame the teacher answers in when it has one of its own (a loaded model), else
``None`` and the engine's ``--frame`` applies.

- :class:`OpenAICompatTeacher` — any OpenAI-compatible ``/chat/completions`` server (vLLM,
  SGLang, hosted APIs), standard library only: images as base64 data URLs, a concurrency limit,
  timeouts, retries with exponential backoff on 429/5xx/timeouts/malformed replies and none on
  other 4xx, the API key from an environment variable.
- :class:`TransformersTeacher` — a local model loaded with :func:`geor1.models.load`, batched
  generation with left padding.
- :class:`ProgrammaticTeacher` — GeoSynth's scene graph written out step by step
  (:mod:`geor1.engine.rationales`); exact, free, and what the tiny model's cold start uses.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from geor1.coords import Frame
from geor1.data.schema import Sample

log = logging.getLogger("geor1.engine")


@dataclass(frozen=True)
class Request:
    """One question to a teacher: try ``try_index`` of ``sample``.

    ``messages`` is the task's conversational prompt (``build_messages``: ``{"type": "image"}``
    placeholders, one per entry of ``images``, in order); ``images`` are absolute paths;
    ``frame`` is the coordinate frame the answer must be in; ``seed`` is stable per sample and try.
    """

    key: str
    sample: Sample
    try_index: int
    messages: list[dict]
    images: tuple[Path, ...]
    frame: Frame
    seed: int


@dataclass
class Reply:
    """A teacher's reply: ``text`` (the whole completion) or ``error`` (why there is none).
    ``attempts`` counts the HTTP requests it took; ``completion_tokens`` is what the server reported."""

    text: str | None = None
    error: str = ""
    attempts: int = 1
    completion_tokens: int | None = None
    errors: list[str] = field(default_factory=list)  # one line per failed attempt, oldest first

    @property
    def ok(self) -> bool:
        return self.text is not None


class Teacher(Protocol):
    name: str
    batch_size: int
    frame: Frame | None

    def generate(self, requests: list[Request]) -> list[Reply]: ...


# ---------------------------------------------------------------------------------------------
# OpenAI-compatible HTTP teacher


def image_data_url(path: str | os.PathLike, frame: Frame | None = None) -> str:
    """``path`` as a ``data:<mime>;base64,...`` URL.

    For a ``resized`` frame (Qwen2.5-VL: pixels of the smart-resized input) the image is sent at
    that frame's size, so a teacher that answers in pixels of what it sees answers in the frame;
    otherwise the file's own bytes are sent unchanged.
    """
    from PIL import Image

    with Image.open(path) as im:
        size = frame.extent(im.width, im.height) if frame is not None and frame.kind == "resized" else None
        size = (int(size[0]), int(size[1])) if size else None
        mime = Image.MIME.get(im.format or "")
        if (size is None or size == im.size) and mime in ("image/png", "image/jpeg", "image/webp"):
            data = Path(path).read_bytes()
        else:
            buf = io.BytesIO()
            im = im.convert("RGB")
            (im.resize(size, Image.BICUBIC) if size and size != im.size else im).save(buf, format="PNG")
            data, mime = buf.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def openai_messages(request: Request, system_prompt: str | None = None) -> list[dict]:
    """The request's messages in the chat-completions format: each ``{"type": "image"}`` becomes an
    ``image_url`` part carrying the next image as a data URL."""
    images = iter(request.images)
    out = [{"role": "system", "content": system_prompt}] if system_prompt else []
    for message in request.messages:
        content = message["content"]
        if isinstance(content, str):
            out.append({"role": message["role"], "content": content})
            continue
        parts = []
        for part in content:
            if part.get("type") == "image":
                url = image_data_url(next(images), request.frame)
                parts.append({"type": "image_url", "image_url": {"url": url}})
            else:
                parts.append({"type": "text", "text": part["text"]})
        out.append({"role": message["role"], "content": parts})
    return out


def parse_chat_completion(payload: bytes) -> tuple[str, int | None]:
    """``(content, completion_tokens)`` of a chat-completions response body; ValueError when it is
    not one (bad JSON, no ``choices``, no text content)."""
    try:
        body = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"response is not JSON ({e})") from None
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ValueError(f"no choices[0].message.content in response {payload[:120]!r}") from None
    if isinstance(content, list):  # some servers answer with content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        # A ValueError like every other malformed reply: callers treat them all alike (retry).
        raise ValueError(f"choices[0].message.content is {type(content).__name__}, not text")  # noqa: TRY004
    usage = body.get("usage") if isinstance(body, dict) else None
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return content, tokens if isinstance(tokens, int) else None


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None,
                  jitter: float = 0.0) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...): ``base * 2**(attempt-1)``,
    stretched by up to ``jitter`` (a fraction) so clients that failed together do not retry
    together, at least a server's ``Retry-After`` and at most ``cap``."""
    delay = base * 2 ** (attempt - 1) * (1.0 + jitter)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)


def _retry_after(headers) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: not worth parsing, the exponential delay applies
        return None


class OpenAICompatTeacher:
    """A chat-completions client for OpenAI-compatible servers (vLLM, SGLang, hosted APIs).

    ``base_url`` is the API root, e.g. ``http://127.0.0.1:8000/v1``; requests go to
    ``{base_url}/chat/completions``. The key is read from the environment variable
    ``api_key_env`` (no ``Authorization`` header when it is unset, as local servers need none).

    At most ``concurrency`` requests are open at once, whichever threads call :meth:`complete`.
    ``timeout`` (seconds) bounds each blocking socket operation (connect, waiting for the reply).
    A request is retried up to ``max_retries`` times on HTTP 429 and 5xx, timeouts, dropped
    connections and malformed replies, after ``backoff * 2**(k-1)`` seconds (jittered, at least
    the server's ``Retry-After``, at most ``max_backoff``); any other 4xx is final at once.
    Each try of a sample sends its own ``seed``, so a server that honours seeds (vLLM does)
    answers the same request the same way again (what makes a resumed run reproduce its records).
    """

    batch_size = 1
    frame = None

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8,
                 timeout: float = 120.0, max_retries: int = 4, backoff: float = 1.0, max_backoff: float = 30.0,
                 temperature: float = 0.7, max_tokens: int = 2048, system_prompt: str | None = None,
                 extra_body: dict | None = None, sleep: Callable[[float], None] = time.sleep):
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.name = f"openai:{model}"
        self.api_key = os.environ.get(api_key_env) if api_key_env else None
        self.concurrency, self.timeout = concurrency, timeout
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self.temperature, self.max_tokens = temperature, max_tokens
        self.system_prompt, self.extra_body = system_prompt, dict(extra_body or {})
        self._slots = threading.BoundedSemaphore(concurrency)
        self._sleep = sleep
        self._rng = random.Random(0)

    def request_body(self, request: Request) -> dict:
        return {"model": self.model, "messages": openai_messages(request, self.system_prompt),
                "temperature": self.temperature, "max_tokens": self.max_tokens, "seed": request.seed,
                **self.extra_body}

    def _post(self, data: bytes) -> tuple[int, bytes, object]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as e:  # a non-2xx status: read its body for the error message
            with e:
                return e.code, e.read(), e.headers

    def complete(self, request: Request) -> Reply:
        """Send one request, retrying what is worth retrying; never raises for HTTP trouble."""
        data = json.dumps(self.request_body(request)).encode("utf-8")
        errors: list[str] = []
        retry_after = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._sleep(backoff_delay(attempt, self.backoff, self.max_backoff, retry_after,
                                          jitter=self._rng.random() * 0.25))
            retry_after = None
            try:
                with self._slots:
                    status, payload, headers = self._post(data)
            except TimeoutError:
                errors.append(f"timed out after {self.timeout:g} s")
                continue
            except urllib.error.URLError as e:  # connection refused/reset, or a timeout while connecting
                reason = e.reason
                errors.append(f"timed out after {self.timeout:g} s" if isinstance(reason, TimeoutError)
                              else f"connection failed: {reason}")
                continue
            except (OSError, http.client.HTTPException) as e:  # dropped mid-reply: reset, IncompleteRead, ...
                errors.append(f"connection failed: {e.__class__.__name__}: {e}")
                continue
            snippet = payload[:200].decode("utf-8", "replace").strip()
            if status == 200:
                try:
                    text, tokens = parse_chat_completion(payload)
                except ValueError as e:
                    errors.append(f"malformed reply: {e}")
                    continue
                return Reply(text=text, attempts=attempt + 1, completion_tokens=tokens, errors=errors)
            if status == 429 or 500 <= status < 600:
                errors.append(f"HTTP {status}: {snippet}")
                retry_after = _retry_after(headers)
                continue
            errors.append(f"HTTP {status}: {snippet}")
            return Reply(error=f"HTTP {status} (not retried): {snippet}", attempts=attempt + 1, errors=errors)
        return Reply(error=f"gave up after {self.max_retries + 1} attempts; last: {errors[-1]}",
                     attempts=self.max_retries + 1, errors=errors)

    def generate(self, requests: list[Request]) -> list[Reply]:
        return [self.complete(r) for r in requests]


# ---------------------------------------------------------------------------------------------
# Local transformers model


class TransformersTeacher:
    """A local vision-language model (:func:`geor1.models.load`: ``tiny``, a checkpoint folder, a
    hub id), generating ``batch_size`` prompts at a time with left padding.

    It answers in its own frame (:func:`geor1.models.answer_frame`), which the engine then uses
    for prompts and verification. ``temperature`` 0 means greedy decoding; otherwise sampling,
    seeded per batch from the first request's seed.
    """

    def __init__(self, name_or_path: str, *, checkpoint: str | None = None, batch_size: int = 8,
                 max_new_tokens: int = 1024, temperature: float = 0.7, dtype: str = "float32",
                 device: str | None = None, min_pixels: int | None = None, max_pixels: int | None = None):
        from geor1.models import answer_frame, family_of_model, load

        self.model, self.processor = load(name_or_path, checkpoint=checkpoint, dtype=dtype,
                                          min_pixels=min_pixels, max_pixels=max_pixels)
        self.family = family_of_model(self.model)
        # the engine asks for rationales: the think template, with what the chat template writes of it
        self.prefix = self.family.completion_prefix(self.processor, think=True)
        if device:
            self.model.to(device)
        self.model.eval()
        self.frame = answer_frame(self.model, self.processor)
        self.name = f"transformers:{checkpoint or name_or_path}"
        self.batch_size, self.max_new_tokens, self.temperature = batch_size, max_new_tokens, temperature

    def generate(self, requests: list[Request]) -> list[Reply]:
        from PIL import Image

        if not requests:
            return []
        from geor1.models.generate import Decoding, TransformersGenerator

        texts = [self.family.generation_prompt(self.processor, r.messages, think=True) for r in requests]
        images = []
        for r in requests:
            ims = []
            for p in r.images:
                with Image.open(p) as im:
                    ims.append(im.convert("RGB"))
            images.append(ims)
        decoding = Decoding.from_temperature(self.max_new_tokens, self.temperature, seed=requests[0].seed)
        gens = TransformersGenerator(self.model, self.processor, decoding)(texts, images)
        return [Reply(text=self.prefix + g.text, completion_tokens=g.num_tokens) for g in gens]


# ---------------------------------------------------------------------------------------------
# GeoSynth's programmatic teacher


class ProgrammaticTeacher:
    """Rationales written from GeoSynth's scene graph (``Sample.meta``) by
    :func:`geor1.engine.rationales.write_rationale`: exact and deterministic, for GeoSynth
    samples only (a sample without the meta its task needs gets an error reply)."""

    name = "programmatic"
    batch_size = 64
    frame = None

    def generate(self, requests: list[Request]) -> list[Reply]:
        from geor1.engine.rationales import RationaleError, write_rationale

        replies = []
        for r in requests:
            try:
                replies.append(Reply(text=write_rationale(r.sample, r.frame)))
            except RationaleError as e:
                replies.append(Reply(error=f"no rationale: {e}"))
        return replies
