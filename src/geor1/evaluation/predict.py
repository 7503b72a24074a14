"""Run a model on one image (crossview: a query and its candidates) and draw its answer.

  geor1 predict --model tiny-geosynth --image scene.png --task rec --query "the largest storage tank"
  geor1 predict --image scene.png --task ovd --query airplane --out planes.png
  geor1 predict --image scene.png --task gres --query "all ships left of the bridge"
  geor1 predict --task crossview --image ground.png --candidates a.png b.png c.png d.png
  geor1 predict --task geoloc --image street.jpg

Prints the reasoning (``<think>``), the answer (``<answer>``) and what it was read as — a box in
pixels of the original image, a list of boxes, a letter, a position — or why it could not be
read. Writes a PNG with the answer drawn in red (boxes; gres: masks and keypoints; crossview: the
chosen candidate framed; geoloc: the position on a world map).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from geor1.data.schema import Sample
from geor1.evaluation.draw import draw_sample, read_prediction
from geor1.models.generate import add_decoding_arguments
from geor1.tasks import get_task, task_names
from geor1.tasks.common import answer_text, think_text


def make_sample(
    task: str, images: list[Image.Image], query: str = "", paths: list[str] | None = None
) -> Sample:
    """The Sample one prompt asks about, as the task builds it (``request``): ``images[0]`` is the
    query image, any candidates follow; errors name the missing flag."""
    return get_task(task).request(images, query, paths)


def render_answer(
    sample: Sample, images: list[Image.Image], completion: str, frame
) -> tuple[Image.Image, dict | None, str]:
    """The picture of a completion's answer (no ground truth), what it was read as and, when it
    could not be read, why."""
    prediction, reason = read_prediction(sample, completion, frame)
    return draw_sample(sample, images, prediction, truth=False), prediction, reason


def predict(
    model_name_or_path: str,
    task: str,
    image_paths: list[str],
    query: str = "",
    *,
    checkpoint: str | None = None,
    think: bool | None = None,
    max_new_tokens: int | None = None,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    device: str | None = None,
) -> dict:
    """Generate one answer; returns ``completion``, ``reasoning``, ``answer`` (texts), ``prediction``
    (as :func:`geor1.evaluation.draw.read_prediction`; original pixels), ``reason``, ``frame`` and
    ``image`` (the drawing, a PIL image). ``think``/``max_new_tokens`` default to the checkpoint's
    own (:func:`geor1.models.usage_of`)."""
    from geor1.evaluation.evaluate import resolve_usage

    think, max_new_tokens = resolve_usage(model_name_or_path, checkpoint, [task], think, max_new_tokens)
    from geor1.evaluation.evaluate import device_and_dtype
    from geor1.models import answer_frame, family_of_model, load
    from geor1.models.generate import Decoding, TransformersGenerator

    decoding = Decoding(max_new_tokens, do_sample=do_sample, temperature=temperature, top_p=top_p, seed=seed)

    images = []
    for p in image_paths:
        with Image.open(p) as im:
            images.append(im.convert("RGB"))
    sample = make_sample(task, images, query, [str(p) for p in image_paths])
    dev, dt = device_and_dtype(device, None)
    model, processor = load(
        model_name_or_path, checkpoint=checkpoint, dtype=dt, min_pixels=min_pixels, max_pixels=max_pixels
    )
    model.to(dev).eval()
    frame = answer_frame(model, processor)
    messages = get_task(task).build_messages(sample, frame, think=think)
    family = family_of_model(model)
    prompt = family.generation_prompt(processor, messages, think=think)
    generate = TransformersGenerator(model, processor, decoding)
    gen = generate([prompt], [images])[0]
    text = family.completion_prefix(processor, think=think) + gen.text
    picture, prediction, reason = render_answer(sample, images, text, frame)
    return {
        "completion": text,
        "reasoning": think_text(text),
        "answer": answer_text(text),
        "prediction": prediction,
        "reason": reason,
        "frame": frame,
        "image": picture,
        "num_tokens": gen.num_tokens,
        "finish_reason": gen.finish_reason,
    }


def describe(prediction, task: str) -> str:
    """One line saying what the answer was read as (pixels of the original image)."""
    return "unreadable" if prediction is None else get_task(task).describe_answer(prediction)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default="tiny", help="tiny, tiny-geosynth, a checkpoint folder or a hub id"
    )
    parser.add_argument("--checkpoint", help="trained weights for --model (a folder)")
    parser.add_argument("--task", required=True, choices=task_names())
    parser.add_argument("--image", required=True, help="the image (crossview: the query image)")
    parser.add_argument(
        "--candidates", nargs="+", default=[], help="crossview: candidate images, labelled A, B, …"
    )
    parser.add_argument(
        "--query", default="", help="the expression (rec, gres), the category (ovd), or a question"
    )
    parser.add_argument("--out", help="PNG to write (default: <image>_<task>_pred.png in the current folder)")
    add_decoding_arguments(parser, max_new_tokens_help="default: the checkpoint's own")
    parser.add_argument("--think", dest="think", action="store_true", default=None,
                        help="ask for <think>…</think><answer>…</answer> (default: as the checkpoint was trained)")
    parser.add_argument("--no-think", dest="think", action="store_false", help="ask for the answer alone")
    parser.add_argument("--min-pixels", type=int)
    parser.add_argument("--max-pixels", type=int)
    parser.add_argument("--device")


def run(args: argparse.Namespace) -> int:
    paths = [args.image, *args.candidates]
    for p in paths:
        if not Path(p).is_file():
            raise FileNotFoundError(f"--image/--candidates: no image at {p}")
    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        raise ValueError(f"--max-new-tokens must be at least 1, got {args.max_new_tokens}")
    result = predict(
        args.model,
        args.task,
        paths,
        args.query,
        checkpoint=args.checkpoint,
        think=args.think,
        max_new_tokens=args.max_new_tokens,
        do_sample=args.do_sample,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
        min_pixels=args.min_pixels,
        max_pixels=args.max_pixels,
        device=args.device,
    )
    out = Path(args.out or f"{Path(args.image).stem}_{args.task}_pred.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    result["image"].save(out)
    print(f"reasoning: {result['reasoning'] or '(none)'}")
    print(f"answer: {result['answer']}")
    line = describe(result["prediction"], args.task)
    print(f"read as: {line}" + (f" ({result['reason']})" if result["reason"] else ""))
    print(f"tokens: {result['num_tokens']} ({result['finish_reason']}); frame {result['frame'].name}")
    print(f"wrote {out}")
    return 0
