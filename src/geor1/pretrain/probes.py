"""The probes and auxiliary losses of pretraining, and the per-token targets they learn.

Every probe is discarded after pretraining: the saved checkpoint is a plain model of its family.
Why each one exists (measured in docs/pretraining.md):

- :class:`PositionProbe` regresses each image token's (row, column) from a language layer, which
  writes absolute position into the tokens' content (Qwen2.5-VL's tower has none of its own);
- :class:`DenseProbe` (and the vision phase's linear probe) names the categories covering each
  token's cell, finds object centres and regresses their boxes: 64 targets an image instead of one;
- :class:`GroundingHead` makes one attention head look, from the tokens that write the box, at the
  target's image tokens: the circuit the answer needs, taught directly;
- :class:`BoxProbe` regresses the target box at the token before the first coordinate: an ordinal
  signal ("further right") that cross-entropy on digits does not give.

Boxes here are in original-image pixels unless a docstring says otherwise; cells are the merged
image tokens, row-major, as the model lays them out.
"""

from __future__ import annotations

import torch


def family_of_model(model):
    from geor1.models.families import family_of_config

    return family_of_config(model.config)


def grid_targets(image_grid_thw: torch.Tensor, merge: int = 2) -> torch.Tensor:
    """(row, col) of every merged image token, scaled to [-1, 1], in the order the model lays them out."""
    out = []
    for t, h, w in image_grid_thw.tolist():
        gh, gw = h // merge, w // merge
        r = torch.arange(gh).repeat_interleave(gw).float() / max(gh - 1, 1)
        c = torch.arange(gw).repeat(gh).float() / max(gw - 1, 1)
        out.append(torch.stack([r, c], -1).repeat(t, 1) * 2 - 1)
    return torch.cat(out)


def _cell_edges(width: int, height: int, grid) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    _, h, w = grid
    gh, gw = h // 2, w // 2
    return torch.linspace(0, width, gw + 1), torch.linspace(0, height, gh + 1), gh, gw


def _cell_index(x: float, y: float, width: int, height: int, gh: int, gw: int) -> int:
    """Row-major index of the cell (of a gh x gw grid over the image) that holds the point (x, y)."""
    return min(int(x / width * gw), gw - 1) + gw * min(int(y / height * gh), gh - 1)


def _cell_areas(box, xe: torch.Tensor, ye: torch.Tensor) -> torch.Tensor:
    """Area of ``box`` inside each cell of the grid with edges ``xe``/``ye`` (row-major, flat)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    ox = (torch.minimum(xe[1:], torch.tensor(x2)) - torch.maximum(xe[:-1], torch.tensor(x1))).clamp(min=0)
    oy = (torch.minimum(ye[1:], torch.tensor(y2)) - torch.maximum(ye[:-1], torch.tensor(y1))).clamp(min=0)
    return (oy[:, None] * ox[None, :]).flatten()


def cell_overlap(box, width: int, height: int, grid) -> torch.Tensor:
    """Share of ``box``'s area in each merged image token's cell (row-major, as the model lays them out)."""
    xe, ye, gh, gw = _cell_edges(width, height, grid)
    area = _cell_areas(box, xe, ye)
    if area.sum() <= 0:  # a degenerate box: the cell holding its corner
        area[_cell_index(float(box[0]), float(box[1]), width, height, gh, gw)] = 1.0
    return area / area.sum()


def grounding_target(box, width: int, height: int, grid) -> torch.Tensor:
    """Where the grounding head should look: half on the cell holding the box's centre (the token the
    dense probe makes carry the whole box), half over the box's cells in proportion to its area there."""
    _, _, gh, gw = _cell_edges(width, height, grid)
    centre = torch.zeros(gh * gw)
    centre[_cell_index((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, width, height, gh, gw)] = 1.0
    return 0.5 * centre + 0.5 * cell_overlap(box, width, height, grid)


def object_targets(sample, grid, relative: bool = False, allowed=None) -> torch.Tensor:
    """Per merged image token: which categories cover its cell (multi-hot over ``CATEGORIES``), whether
    an object's centre lies in it, and that object's box (the largest such): normalised to [-1, 1] over
    the image, or with ``relative`` in cell widths from the cell's centre (what a vision tower with
    only relative positions can know).
    Objects come from the scene graph GeoSynth stores in ``meta``, else from the sample's boxes;
    only categories in ``allowed`` (default: all) are targets. ``sample`` None: all zeros."""
    from geor1.synth.scene import CATEGORIES

    k = len(CATEGORIES)
    if sample is None:
        _, h, w = grid
        return torch.zeros((h // 2) * (w // 2), k + 5)
    xe, ye, gh, gw = _cell_edges(sample.width, sample.height, grid)
    out = torch.zeros(gh * gw, k + 5)
    scene = (sample.meta or {}).get("scene") or {}
    objects = [(o["category"], o["bbox"]) for o in scene.get("objects", [])]
    objects = objects or list(zip(sample.labels or [sample.category] * len(sample.boxes), sample.boxes))
    cell_area = float((xe[1] - xe[0]) * (ye[1] - ye[0]))
    best = torch.zeros(gh * gw)
    for category, box in objects:
        if category not in CATEGORIES or (allowed is not None and category not in allowed):
            continue
        x1, y1, x2, y2 = (float(v) for v in box)
        share = _cell_areas(box, xe, ye) / cell_area
        col = CATEGORIES.index(category)
        out[:, col] = torch.maximum(out[:, col], (share > 0.1).float())
        c = _cell_index((x1 + x2) / 2, (y1 + y2) / 2, sample.width, sample.height, gh, gw)
        size = (x2 - x1) * (y2 - y1)
        out[c, col] = 1.0
        if size > best[c]:
            best[c] = size
            out[c, k] = 1.0
            if relative:
                cw, ch = float(xe[1] - xe[0]), float(ye[1] - ye[0])
                mx, my = float(xe[c % gw] + cw / 2), float(ye[c // gw] + ch / 2)
                out[c, k + 1:] = torch.tensor([(x1 - mx) / cw, (y1 - my) / ch, (x2 - mx) / cw, (y2 - my) / ch])
            else:
                out[c, k + 1:] = torch.tensor([x1 / sample.width, y1 / sample.height, x2 / sample.width,
                                               y2 / sample.height]) * 2 - 1
    return out


def dense_loss(pred: torch.Tensor, cells: torch.Tensor, k: int, regression=torch.nn.functional.mse_loss):
    """Loss of per-token predictions against :func:`object_targets`: binary cross-entropy on the k
    category columns and the centre flag, plus ``regression`` on the boxes of the centre tokens."""
    cells = cells.to(pred.dtype)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(pred[:, :k + 1], cells[:, :k + 1])
    centre = cells[:, k] > 0
    if centre.any():
        loss = loss + regression(pred[centre, k + 1:], cells[centre, k + 1:])
    return loss


class DenseProbe(torch.nn.Module):
    """A linear probe on the image tokens (the position probe's layer) that names the categories
    covering each token's cell, finds object centres and regresses their boxes: dense supervision,
    64 targets per image instead of one box, so the vision tower learns to see objects early."""

    def __init__(self, model, position_probe: PositionProbe):
        super().__init__()
        from geor1.synth.scene import CATEGORIES

        self.k = len(CATEGORIES)
        self.linear = torch.nn.Linear(model.config.text_config.hidden_size, self.k + 5)
        self.source = (position_probe,)  # a tuple: not a submodule, its parameters are trained once

    def loss(self, input_ids, image_token_id, cells, mask=None):
        """``mask`` (per image token): which tokens have targets (those of box kinds); None: all."""
        hidden = self.source[0].hidden[input_ids == image_token_id]
        if mask is not None and not bool(mask.all()):
            if not bool(mask.any()):
                return hidden.sum() * 0.0
            hidden, cells = hidden[mask], cells[mask]
        return dense_loss(self.linear(hidden), cells, self.k)


class GroundingHead:
    """Makes head 0 of one language layer attend, from the tokens that write the target's box, to the
    target's image tokens (in proportion to the box's area in each token's cell). The answer then
    reads the target's content — which the position probe has made carry where it is. Needs eager
    attention (the weights themselves)."""

    def __init__(self, model, layer: int):
        self.weights = None
        family_of_model(model).language_model(model).layers[layer].self_attn.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output):
        self.weights = output[1]

    def loss(self, input_ids, image_token_id, ground, spans):
        if self.weights is None:
            raise RuntimeError("the grounding loss needs attention weights: load the model with eager attention")
        losses = []
        for i, (target, (a, b)) in enumerate(zip(ground, spans)):
            if a < 0 or b <= a:
                continue
            cols = torch.nonzero(input_ids[i] == image_token_id).squeeze(-1)
            att = self.weights[i, 0, a:b][:, cols]
            losses.append(-(target.to(att.dtype) * torch.log(att + 1e-9)).sum(-1).mean())
        if not losses:
            return self.weights.sum() * 0.0
        return torch.stack(losses).mean()


class PositionProbe(torch.nn.Module):
    """Reads the image tokens' hidden states after one language layer and regresses their grid position."""

    def __init__(self, model, layer: int):
        super().__init__()
        self.linear = torch.nn.Linear(model.config.text_config.hidden_size, 2)
        self.hidden = None
        family_of_model(model).language_model(model).layers[layer].register_forward_hook(self._keep)

    def _keep(self, module, inputs, output):
        self.hidden = output[0] if isinstance(output, tuple) else output

    def loss(self, input_ids, image_token_id, image_grid_thw):
        h = self.hidden[input_ids == image_token_id]
        return torch.nn.functional.mse_loss(self.linear(h), grid_targets(image_grid_thw).to(h.dtype))


class BoxProbe(torch.nn.Module):
    """Regresses the target box (normalised to [-1, 1]) from the last layer's hidden state at the
    token that predicts the first coordinate. Cross-entropy on digit tokens says only "wrong digit";
    this squared error says "further right", an ordinal signal that reaches the same representation
    the digits are read from."""

    def __init__(self, model):
        super().__init__()
        self.linear = torch.nn.Linear(model.config.text_config.hidden_size, 4)
        self.hidden = None
        family_of_model(model).language_model(model).norm.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output):
        self.hidden = output

    def loss(self, box_pos, box):
        rows = torch.nonzero(box_pos >= 0).squeeze(-1)
        if len(rows) == 0:
            return self.hidden.sum() * 0.0
        h = self.hidden[rows, box_pos[rows]]
        return torch.nn.functional.mse_loss(self.linear(h), box[rows].to(h.dtype))
