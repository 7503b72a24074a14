"""The built-in tiny models: configs small enough to train on 2 CPU cores, one per model family,
sharing a tokenizer geor1 builds itself.

==================  =============  ==============================================================
name                family         vision input
==================  =============  ==============================================================
``tiny``            qwen2.5-vl     224×224 px, 14-px patches, 2×2 merge: 64 image tokens
``tiny-qwen2-vl``   qwen2-vl       224×224 px as above, full attention in every vision block
``tiny-qwen3-vl``   qwen3-vl       256×256 px, 16-px patches, 2×2 merge: 64 tokens; a learned
                                   16×16 position table and DeepStack from vision layers 1 and 2
``tiny-qwen3.5``    qwen3.5        256×256 px as above; text layers 3 linear-attention + 1 full
==================  =============  ==============================================================

``build_tiny(out_dir, name)`` writes every file of ``geor1/models/<folder>/`` deterministically (run
``geor1 model build-tiny`` to rebuild all; a test checks the shipped files are exactly what it makes):

- ``tokenizer.json`` — byte-level BPE trained on a fixed corpus of geor1's task language, with
  Qwen2's pre-tokenizer (digits split one by one, as Qwen tokenizes numbers) and Qwen2.5-VL's
  special tokens, plus ``<think>``/``</think>``/``<answer>``/``</answer>`` as single tokens;
- ``tokenizer_config.json`` and ``chat_template.jinja`` — a Qwen-style chat template with image
  placeholders ``<|vision_start|><|image_pad|><|vision_end|>``;
- ``config.json`` — the family's config (M-RoPE sections sized for the small head dimension);
- ``preprocessor_config.json`` — the image processor at the input size above (so the tiny
  Qwen2.5-VL answers in 0–224 pixels, the Qwen3 families in 0–1000).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TINY_DIR = Path(__file__).parent / "tiny"

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]
TAG_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]
VOCAB_SIZE = 2048
IMAGE_PIXELS = 224 * 224

# Qwen2's pre-tokenizer split: letters in runs, every digit alone, punctuation runs, whitespace.
QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
              r"\s*[\r\n]+|\s+(?!\S)|\s+")

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' or 'image' in c or 'image_url' in c %}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

TEXT_CONFIG = dict(hidden_size=256, intermediate_size=768, num_hidden_layers=4, num_attention_heads=4,
                   num_key_value_heads=2, max_position_embeddings=2048, rms_norm_eps=1e-6,
                   rope_theta=10000.0, tie_word_embeddings=True)
# head_dim 64 -> 32 rotary frequencies, split temporal/height/width like Qwen's [16, 24, 24] of 64.
MROPE_SECTION = [8, 12, 12]
VISION_CONFIG = dict(depth=4, hidden_size=128, intermediate_size=256, num_heads=4, patch_size=14,
                     spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                     fullatt_block_indexes=[1, 3], out_hidden_size=256)
# Qwen3-VL / Qwen3.5 towers: 16-px patches; a learned position table of 16x16 (the real one is 48x48,
# bilinearly interpolated to each image's grid, as here for other sizes).
QWEN3_IMAGE_PIXELS = 256 * 256
QWEN3_VISION = dict(depth=4, hidden_size=128, intermediate_size=256, num_heads=4, patch_size=16,
                    spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=256, num_position_embeddings=256)
# Qwen3-VL's interleaved M-RoPE: [24, 20, 20] of 64 frequencies in the real model; 32 here.
QWEN3_VL_ROPE = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [12, 10, 10],
                 "mrope_interleaved": True}
# Qwen3.5 rotates a quarter of each head in the real model; half of 64 here (16 frequencies).
QWEN3_5_ROPE = {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
                "mrope_section": [6, 5, 5], "mrope_interleaved": True}
QWEN3_5_LINEAR = dict(linear_key_head_dim=32, linear_value_head_dim=32, linear_num_key_heads=4,
                      linear_num_value_heads=4, full_attention_interval=4)


def _corpus() -> list[str]:
    """A fixed corpus of the language geor1's tasks speak (categories, attributes, relations,
    prompts, JSON answers, rationales, places). Order and content are fixed: same merges each build."""
    categories = [
        "airplane", "airport", "ship", "harbor", "storage tank", "vehicle", "car", "truck", "bus",
        "building", "house", "tennis court", "basketball court", "baseball diamond", "baseball field",
        "ground track field", "soccer field", "swimming pool", "bridge", "dam", "wind turbine",
        "windmill", "roundabout", "helicopter", "chimney", "stadium", "golf field", "overpass",
        "train station", "expressway service area", "expressway toll station", "parking lot",
        "container", "crane", "tree", "road", "river", "lake", "forest", "field", "farmland",
        "solar panel", "greenhouse", "silo", "tower", "pier", "boat", "runway", "terminal",
    ]
    colours = ["red", "green", "blue", "yellow", "white", "black", "gray", "grey", "orange", "brown",
               "dark", "light", "bright", "silver", "beige", "tan", "teal", "purple", "pink"]
    sizes = ["small", "large", "big", "tiny", "huge", "medium", "long", "short", "wide", "narrow",
             "largest", "smallest", "biggest", "longest", "tallest", "round", "square", "rectangular"]
    places = ["top", "bottom", "left", "right", "upper", "lower", "center", "middle", "corner",
              "top left", "top right", "bottom left", "bottom right", "upper left", "lower right",
              "north", "south", "east", "west", "northern", "southern", "eastern", "western"]
    relations = ["left of", "right of", "above", "below", "next to", "nearest to", "closest to",
                 "farthest from", "between", "near", "beside", "adjacent to", "along", "across"]
    ordinals = ["first", "second", "third", "fourth", "fifth", "last", "from the left", "from the right",
                "from the top", "from the bottom"]
    words = ("the a an of in on at to with and or is are there which that it its this one two three four "
             "five six seven eight nine ten no none all each every other only image picture photo scene "
             "object objects target targets category located position find locate detect segment count "
             "output answer thinking process final format JSON tags box boxes mask masks point keypoint "
             "ground aerial satellite view street panorama candidate candidates option options match "
             "matches matching latitude longitude degrees city country continent region climate biome "
             "desert tundra tropical temperate arid polar savanna grassland snow sand water soil grass "
             "urban rural coastal mountain hill shadow shadows sun sunlight morning noon evening season "
             "summer winter spring autumn height tall low roof roofs layout grid street streets buildings "
             "trees vegetation orientation facing pointing rotated horizontal vertical diagonal because so "
             "therefore first then next finally step I see look compare consider check chosen choose "
             "Asia Europe Africa America Oceania Antarctica North South East West lat lon km").split()
    lines = []
    for c, col, s in itertools.product(categories, colours[:8], sizes[:6]):
        lines.append(f"the {s} {col} {c}")
    for c, p, r in itertools.product(categories, places, relations[:6]):
        lines.append(f"the {c} in the {p} {r} the {categories[(len(c) + len(p)) % len(categories)]}")
    for c, o in itertools.product(categories, ordinals):
        lines.append(f"the {o} {c} {o}")
    lines += [" ".join(words[i:i + 12]) for i in range(0, len(words), 3)]
    lines += [
        "First output the thinking process in <think> </think> tags and then output the final answer in "
        "<answer> </answer> tags. Output the final answer in JSON format.",
        "Please provide the bounding box coordinates of the region this sentence describes: ",
        "Locate every object of this category and output their bounding boxes as a JSON list:",
        "Segment the objects this sentence refers to. Output boxes and two keypoints per object, or None.",
        "Which aerial image shows where this ground photo was taken? Answer with the letter.",
        "Where on Earth was this photo taken? Answer with latitude and longitude in decimal degrees.",
        "You are a helpful assistant.", "None", "null", "no target", "There are The This It Its I In On",
        "The target is the one. The candidates are. The answer is. Step one. Therefore the answer is.",
    ]
    for i in range(600):  # answers in every JSON shape the tasks use, digits 0-9 in all places
        a, b, c, d = (i * 37) % 224, (i * 53) % 224, (i * 71) % 224, (i * 97) % 224
        lab = categories[i % len(categories)]
        lines.append(f'{{"bbox_2d": [{a}, {b}, {c}, {d}], "label": "{lab}"}}')
        lines.append(f'[{{"bbox_2d": [{a}, {b}, {c}, {d}], "keypoint1": [{a}, {b}], "keypoint2": [{c}, {d}]}}]')
        lines.append(f'<think>The {lab} is in the {places[i % len(places)]}.</think>\n<answer>{chr(65 + i % 4)}</answer>')
        lines.append(f'{{"lat": {a - 90}.{b}, "lon": {c - 112}.{d}, "city": "City {i}", "country": "Land"}}')
    return lines


def build_tokenizer():
    """The tiny model's tokenizer (a ``PreTrainedTokenizerFast``), built deterministically."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE - len(TAG_TOKENS), special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   chat_template=CHAT_TEMPLATE, padding_side="left", model_max_length=2048)
    fast.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[1:]})
    fast.add_tokens(TAG_TOKENS)
    return fast


def _token_ids(tokenizer) -> dict:
    ids = tokenizer.convert_tokens_to_ids
    return dict(image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
                vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"))


def _text(tokenizer, **extra) -> dict:
    return dict(TEXT_CONFIG, vocab_size=len(tokenizer), bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id, **extra)


def build_config(tokenizer):
    """The tiny Qwen2.5-VL config."""
    from transformers import Qwen2_5_VLConfig

    text = _text(tokenizer, rope_scaling={"type": "mrope", "rope_type": "default", "mrope_section": MROPE_SECTION})
    return Qwen2_5_VLConfig(
        text_config=text, vision_config=dict(VISION_CONFIG), **_token_ids(tokenizer),
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True, architectures=["Qwen2_5_VLForConditionalGeneration"],
    )


def build_qwen2_vl_config(tokenizer):
    """The tiny Qwen2-VL config (answers in 0-1000)."""
    from transformers import Qwen2VLConfig

    text = _text(tokenizer, rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                             "mrope_section": MROPE_SECTION})
    vision = dict(depth=4, embed_dim=128, hidden_size=256, mlp_ratio=2, num_heads=4, patch_size=14,
                  spatial_merge_size=2, temporal_patch_size=2)
    return Qwen2VLConfig(text_config=text, vision_config=vision, **_token_ids(tokenizer), tie_word_embeddings=True,
                         architectures=["Qwen2VLForConditionalGeneration"])


def build_qwen3_vl_config(tokenizer):
    """The tiny Qwen3-VL config: DeepStack adds vision layers 1 and 2 to language layers 0 and 1."""
    from transformers import Qwen3VLConfig

    text = _text(tokenizer, head_dim=64, rope_parameters=dict(QWEN3_VL_ROPE))
    return Qwen3VLConfig(text_config=text, vision_config=dict(QWEN3_VISION, deepstack_visual_indexes=[1, 2]),
                         **_token_ids(tokenizer), tie_word_embeddings=True,
                         architectures=["Qwen3VLForConditionalGeneration"])


def build_qwen3_5_config(tokenizer):
    """The tiny Qwen3.5 config: gated-delta linear attention in 3 of 4 layers, full attention in the last."""
    from transformers import Qwen3_5Config

    text = _text(tokenizer, head_dim=64, rope_parameters=dict(QWEN3_5_ROPE), **QWEN3_5_LINEAR)
    return Qwen3_5Config(text_config=text, vision_config=dict(QWEN3_VISION), **_token_ids(tokenizer),
                         tie_word_embeddings=True, architectures=["Qwen3_5ForConditionalGeneration"])


@dataclass(frozen=True)
class TinyBuild:
    """One built-in tiny model: its package folder, config builder and input size."""

    folder: Path
    config: Callable
    pixels: int
    patch_size: int


TINY_BUILDS = {
    "tiny": TinyBuild(TINY_DIR, build_config, IMAGE_PIXELS, 14),
    "tiny-qwen2-vl": TinyBuild(Path(__file__).parent / "tiny_qwen2_vl", build_qwen2_vl_config, IMAGE_PIXELS, 14),
    "tiny-qwen3-vl": TinyBuild(Path(__file__).parent / "tiny_qwen3_vl", build_qwen3_vl_config, QWEN3_IMAGE_PIXELS, 16),
    "tiny-qwen3.5": TinyBuild(Path(__file__).parent / "tiny_qwen3_5", build_qwen3_5_config, QWEN3_IMAGE_PIXELS, 16),
}


def build_tiny(out_dir: str | os.PathLike | None = None, name: str = "tiny") -> Path:
    """Write the tiny model ``name``'s config, tokenizer and preprocessor files into ``out_dir``
    (default: its folder in the package)."""
    from transformers import Qwen2VLImageProcessorPil

    build = TINY_BUILDS[name]
    out = Path(out_dir) if out_dir is not None else build.folder
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    tokenizer.save_pretrained(out)
    build.config(tokenizer).save_pretrained(out)
    Qwen2VLImageProcessorPil(min_pixels=build.pixels, max_pixels=build.pixels, patch_size=build.patch_size,
                             merge_size=2).save_pretrained(out)
    # Normalise JSON layout so rebuilding gives byte-identical files.
    for p in sorted(out.glob("*.json")):
        data = json.loads(p.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            data.pop("transformers_version", None)
        p.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return out
