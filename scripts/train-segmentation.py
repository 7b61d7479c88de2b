#!/usr/bin/env python3
"""The test network of segmentation (issue 11): a small 2D U-Net trained briefly on the real CT.

Reads data/ct/cranium.raw (int16 HU, 108x256x256, z,y,x; made by scripts/testdata.sh), makes
targets air / soft tissue / bone from HU thresholds plus morphology, trains a 2D U-Net on the
axial slices on the CPU (seeded, a fixed number of steps) and writes to OUT (default data/models):

  ct-unet.onnx          the network: input "image" [N, 1, H, W] float32 (H, W multiples of 8),
                        output "logits" [N, 3, H, W]; opset 13 (onnxruntime-node 1.30 reads it)
  ct-unet.json          its description, as `remotevis client model` and sendModel take it
  ct-targets.raw        the training targets (uint8 0/1/2, the CT's shape, C order): the tests'
                        ground truth for Dice
  ct-threshold3d.onnx   a 3D model (NCDHW, one 1x1x1 convolution with hand-set weights) whose
                        argmax is exactly the HU thresholds: tests the 3D patch path
  ct-threshold3d.json
  wrong-input.onnx      a 2D model that wants 3 input channels (the "wrong input shape" test)
  ct-targets.json       shape, classes and the thresholds used

Run through scripts/train-segmentation.sh, which installs python3-torch on demand and caches
the result (a stamp with the hash of this file).
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "data", "models")
CT = os.path.join(ROOT, "data", "ct", "cranium.raw")
SHAPE = (108, 256, 256)
WINDOW = (-1024.0, 1024.0)  # input normalization: (hu - lo) / (hi - lo), clipped to [0, 1]
AIR_BELOW = -400.0  # HU below: air (before morphology)
BONE_FROM = 226.0  # HU from: bone (InVesalius' bone threshold, as in mask_0.dat)
NAMES = ["air", "soft tissue", "bone"]
COLORS = [[0.0, 0.0, 0.0, 0.0], [0.9, 0.45, 0.35, 0.25], [1.0, 0.95, 0.6, 1.0]]
SEED = 1234
STEPS = int(os.environ.get("RV_TRAIN_STEPS", "300"))

torch.manual_seed(SEED)
np.random.seed(SEED)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))


def rank3(mask: torch.Tensor, at_least: int) -> torch.Tensor:
    """Pixels with at least `at_least` of the 9 in their 3x3 neighbourhood set (2D, per slice)."""
    m = mask.float().unsqueeze(1)
    n = F.avg_pool2d(F.pad(m, (1, 1, 1, 1), mode="replicate"), 3, stride=1) * 9
    return (n.squeeze(1) >= at_least - 0.5)


def targets(hu: torch.Tensor) -> torch.Tensor:
    """0 air, 1 soft tissue, 2 bone: thresholds, then morphology (3x3 rank filters = opening /
    closing-like cleanup of isolated pixels and one-pixel gaps)."""
    body = rank3(hu >= AIR_BELOW, 5)  # majority: smooths the skin line, drops noise in the air
    bone = rank3(hu >= BONE_FROM, 4)  # drops isolated bright pixels, fills one-pixel cracks
    bone = bone & body
    lab = torch.zeros(hu.shape, dtype=torch.uint8)
    lab[body] = 1
    lab[bone] = 2
    return lab


class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))))


class UNet(nn.Module):
    """Three levels (8, 16, 32 channels), max-pool down, nearest-upsample + conv up."""

    def __init__(self, classes=3, w=8):
        super().__init__()
        self.e1, self.e2, self.e3 = Block(1, w), Block(w, 2 * w), Block(2 * w, 4 * w)
        self.d2, self.d1 = Block(4 * w + 2 * w, 2 * w), Block(2 * w + w, w)
        self.head = nn.Conv2d(w, classes, 1)

    def forward(self, x):
        a = self.e1(x)
        b = self.e2(F.max_pool2d(a, 2))
        c = self.e3(F.max_pool2d(b, 2))
        u = self.d2(torch.cat([F.interpolate(c, scale_factor=2.0, mode="nearest"), b], 1))
        u = self.d1(torch.cat([F.interpolate(u, scale_factor=2.0, mode="nearest"), a], 1))
        return self.head(u)


def dice(pred: torch.Tensor, ref: torch.Tensor, k: int) -> float:
    p, r = pred == k, ref == k
    return float(2 * (p & r).sum()) / max(1, int(p.sum() + r.sum()))


def export(model: nn.Module, example: torch.Tensor, path: str, dynamic: dict):
    model.eval()
    torch.onnx.export(model, example, path, input_names=["image"], output_names=["logits"], opset_version=13,
                      dynamic_axes=dynamic, do_constant_folding=True)


def main():
    os.makedirs(OUT, exist_ok=True)
    t0 = time.time()
    hu = torch.from_numpy(np.fromfile(CT, dtype="<i2").astype(np.float32).reshape(SHAPE))
    lab = targets(hu)
    x = ((hu - WINDOW[0]) / (WINDOW[1] - WINDOW[0])).clamp(0, 1).unsqueeze(1)  # [Z, 1, H, W]
    y = lab.long()
    counts = torch.bincount(y.flatten(), minlength=3).float()
    print(f"targets: air {int(counts[0])}, soft tissue {int(counts[1])}, bone {int(counts[2])} voxels", flush=True)

    model = UNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS, eta_min=2e-4)
    g = torch.Generator().manual_seed(SEED)
    crop, batch = 96, 8
    model.train()
    for step in range(STEPS):
        zi = torch.randint(0, SHAPE[0], (batch,), generator=g)
        oy = int(torch.randint(0, SHAPE[1] - crop + 1, (1,), generator=g))
        ox = int(torch.randint(0, SHAPE[2] - crop + 1, (1,), generator=g))
        xb = x[zi, :, oy:oy + crop, ox:ox + crop]
        yb = y[zi, oy:oy + crop, ox:ox + crop]
        logits = model(xb)
        # Cross-entropy plus a soft Dice term per class: Dice is what the tests ask for, and
        # it keeps the thin bone from being traded for the large classes.
        prob = logits.softmax(1)
        onehot = F.one_hot(yb, 3).permute(0, 3, 1, 2).float()
        inter = (prob * onehot).sum((0, 2, 3))
        soft_dice = (2 * inter + 1) / (prob.sum((0, 2, 3)) + onehot.sum((0, 2, 3)) + 1)
        loss = F.cross_entropy(logits, yb) + (1 - soft_dice).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == STEPS - 1:
            print(f"step {step:4d}  loss {loss.item():.4f}  {time.time() - t0:.0f} s", flush=True)

    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 12]).argmax(1) for i in range(0, SHAPE[0], 12)]).to(torch.uint8)
    d = [dice(pred, lab, k) for k in range(3)]
    print("dice on the CT: " + ", ".join(f"{n} {v:.4f}" for n, v in zip(NAMES, d)), flush=True)

    export(model, x[:2], os.path.join(OUT, "ct-unet.onnx"), {"image": {0: "n", 2: "h", 3: "w"}, "logits": {0: "n", 2: "h", 3: "w"}})
    desc = {
        "name": "ct-unet",
        "inputLayout": "NCHW",
        "classes": 3,
        "names": NAMES,
        "colors": COLORS,
        "axis": 0,
        "multiple": 8,
        "normalize": {"window": list(WINDOW)},
        "trainedOn": "data/ct/cranium.raw (all 108 axial slices)",
        "dice": dict(zip(NAMES, d)),
        "seed": SEED,
        "steps": STEPS,
    }
    json.dump(desc, open(os.path.join(OUT, "ct-unet.json"), "w"), indent=2)
    lab.numpy().astype(np.uint8).tofile(os.path.join(OUT, "ct-targets.raw"))
    json.dump({"shape": list(SHAPE), "dtype": "uint8", "order": "C", "classes": NAMES,
               "thresholds": {"airBelow": AIR_BELOW, "boneFrom": BONE_FROM}, "morphology": "3x3 rank filters (body >= 5/9, bone >= 4/9)"},
              open(os.path.join(OUT, "ct-targets.json"), "w"), indent=2)

    # A 3D "network" whose argmax is exactly the thresholds (before morphology): logits
    # l0 = -k (v - a), l1 = 0, l2 = k (v - b) on the normalized value v (a < b).
    a = (AIR_BELOW - WINDOW[0]) / (WINDOW[1] - WINDOW[0])
    b = (BONE_FROM - WINDOW[0]) / (WINDOW[1] - WINDOW[0])
    k = 1000.0
    conv = nn.Conv3d(1, 3, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([-k, 0.0, k]).reshape(3, 1, 1, 1, 1))
        conv.bias.copy_(torch.tensor([k * a, 0.0, -k * b]))
    export(conv, torch.zeros(1, 1, 16, 32, 32), os.path.join(OUT, "ct-threshold3d.onnx"),
           {"image": {0: "n", 2: "d", 3: "h", 4: "w"}, "logits": {0: "n", 2: "d", 3: "h", 4: "w"}})
    json.dump({"name": "ct-threshold3d", "inputLayout": "NCDHW", "classes": 3, "names": NAMES, "colors": COLORS,
               "patch": [32, 64, 64], "overlap": 8, "normalize": {"window": list(WINDOW)},
               "thresholds": {"airBelow": AIR_BELOW, "boneFrom": BONE_FROM}},
              open(os.path.join(OUT, "ct-threshold3d.json"), "w"), indent=2)

    # Wrong input shape: 3 channels where the description says 1.
    export(nn.Conv2d(3, 3, 3, padding=1), torch.zeros(1, 3, 32, 32), os.path.join(OUT, "wrong-input.onnx"),
           {"image": {0: "n", 2: "h", 3: "w"}, "logits": {0: "n", 2: "h", 3: "w"}})
    print(f"wrote {OUT} in {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
