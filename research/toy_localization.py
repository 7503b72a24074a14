"""Research harness behind the first two rows of docs/pretraining.md: can the tiny Qwen2.5-VL learn to
localize coloured shapes, with and without the image-position probe?

    python research/toy_localization.py NAME SECONDS AUX_WEIGHT [text_first|image_first] [LR]
"""
import json, math, random, re, sys, time
import numpy as np, torch
from PIL import Image, ImageDraw
from geor1.models import load
torch.set_num_threads(1); torch.manual_seed(0)
name, secs, aux_w = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
order = sys.argv[4] if len(sys.argv) > 4 else "text_first"
lr = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-3
S = 224
COLORS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (50, 80, 220), "yellow": (230, 210, 40), "white": (240, 240, 240)}
SHAPES = ["square", "circle"]
def scene(rng):
    img = Image.new("RGB", (S, S), (rng.randint(60, 110),) * 3); d = ImageDraw.Draw(img)
    objs = []; n = rng.randint(1, 3)
    for _ in range(n):
        for _t in range(30):
            w = rng.randint(30, 70); x = rng.randint(0, S - w - 1); y = rng.randint(0, S - w - 1); b = (x, y, x + w, y + w)
            if all(b[2] < o[0][0] or b[0] > o[0][2] or b[3] < o[0][1] or b[1] > o[0][3] for o in objs): break
        else: continue
        c = rng.choice([k for k in COLORS if all(o[1] != k for o in objs)] or list(COLORS)); s = rng.choice(SHAPES)
        (d.rectangle if s == "square" else d.ellipse)(b, fill=COLORS[c]); objs.append((b, c, s))
    t = rng.choice(objs)
    return img, f"the {t[1]} {t[2]}", t[0]
model, proc = load("tiny")
tok = proc.tokenizer
img_id = model.config.image_token_id
def prompt(q):
    content = [{"type": "text", "text": f"Locate {q}."}, {"type": "image"}] if order == "text_first" else [{"type": "image"}, {"type": "text", "text": f"Locate {q}."}]
    return proc.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False)
def batch(rng, B):
    texts, imgs, plens = [], [], []
    for _ in range(B):
        img, q, b = scene(rng); p = prompt(q)
        texts.append(p + f"[{b[0]}, {b[1]}, {b[2]}, {b[3]}]<|im_end|>"); imgs.append(img)
        plens.append(p)
    tok.padding_side = "right"
    enc = proc(text=texts, images=imgs, return_tensors="pt", padding=True)
    lab = enc["input_ids"].clone()
    for i, p in enumerate(plens):
        n = len(tok(p.replace("<|image_pad|>", "<|image_pad|>" * 64))["input_ids"]); lab[i, :n] = -100
    lab[enc["attention_mask"] == 0] = -100
    enc["labels"] = lab; return enc
probe = torch.nn.Linear(model.config.text_config.hidden_size, 2)
feats = {}
layer = model.model.language_model.layers[1]
layer.register_forward_hook(lambda m, i, o: feats.__setitem__("h", o[0] if isinstance(o, tuple) else o))
params = list(model.parameters()) + list(probe.parameters())
opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0])); iy = max(0, min(a[3], b[3]) - max(a[1], b[1])); I = ix * iy
    U = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - I; return I / U if U > 0 else 0
def evaluate(n=64):
    rng = random.Random(123); model.eval(); hits = 0; fmt = 0
    tok.padding_side = "left"
    items = [scene(rng) for _ in range(n)]
    for i in range(0, n, 16):
        chunk = items[i:i + 16]
        enc = proc(text=[prompt(q) for _, q, _ in chunk], images=[im for im, _, _ in chunk], return_tensors="pt", padding=True)
        with torch.no_grad(): out = model.generate(**enc, max_new_tokens=24, do_sample=False)
        for (im, q, b), o in zip(chunk, out[:, enc["input_ids"].shape[1]:]):
            s = tok.decode(o, skip_special_tokens=True); m = re.search(r"\[(\d+), (\d+), (\d+), (\d+)\]", s)
            if m: fmt += 1
            if m and iou([int(x) for x in m.groups()], b) >= 0.5: hits += 1
    model.train(); return hits / n, fmt / n
rng = random.Random(0); t0 = time.time(); step = 0; B = 16
sched = lambda s: min(1.0, s / 100)
while time.time() - t0 < secs:
    enc = batch(rng, B)
    out = model(**enc)
    loss = out.loss
    if aux_w > 0:
        h = feats["h"]; mask = enc["input_ids"] == img_id
        g = enc["image_grid_thw"][0]; gh, gw = int(g[1]) // 2, int(g[2]) // 2
        r = torch.arange(gh).repeat_interleave(gw).float(); c = torch.arange(gw).repeat(gh).float()
        tgt = torch.stack([r / (gh - 1) * 2 - 1, c / (gw - 1) * 2 - 1], -1).repeat(B, 1)
        aux = torch.nn.functional.mse_loss(probe(h[mask]), tgt)
        loss = loss + aux_w * aux
    for gp in opt.param_groups: gp["lr"] = lr * sched(step)
    loss.backward(); torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step(); opt.zero_grad(); step += 1
    if step % 100 == 0: print(f"[{name}] step {step} t={time.time()-t0:.0f}s loss={out.loss.item():.3f}" + (f" aux={aux.item():.3f}" if aux_w > 0 else ""), flush=True)
    if step % 500 == 0: print(f"[{name}] acc@0.5, fmt", evaluate(), flush=True)
print(f"[{name}] final steps {step} acc@0.5, fmt {evaluate(128)}", flush=True)
