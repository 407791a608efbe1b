"""One epoch of PGD adversarial training of adv's small CNN in PyTorch eager: the peer of
`adv-bench train --objective pgd-at` in `cargo xtask train-speed`.

The same network as `adv_models::SmallCnn` (conv3x3-ReLU-maxpool2 twice with 16 and 32
channels, dense 128, dense to the classes), the same data order-independent work (every batch
of `--batch-size`, the last one short), the same inner maximization as the `pgd-at` objective's
defaults at `--eps` (10 steps of eps/4 from a uniform start in the Linf ball, clipped to [0, 1],
the model in eval mode while crafting) and Adam with learning rate 1e-3, on `--threads` threads.
Prints one JSON line: the seconds of the epoch loop (data loading and `import torch` excluded),
the images, and the final training loss.
"""
import argparse
import gzip
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return torch.frombuffer(bytearray(data[4 + 4 * dims :]), dtype=torch.uint8).reshape(shape)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    raise SystemExit(f"no {stem}[.gz] in {folder}")


class SmallCnn(nn.Module):
    def __init__(self, channels, height, width, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * (height // 4) * (width // 4), 128)
        self.fc2 = nn.Linear(128, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def pgd(model, x, y, eps, steps, step_size):
    delta = (torch.rand_like(x) * 2 - 1) * eps
    adv = (x + delta).clamp(0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(model(adv), y)
        (grad,) = torch.autograd.grad(loss, [adv])
        adv = adv.detach() + step_size * grad.sign()
        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1)
    return adv.detach()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--split", default="t10k", help="IDX stem: train or t10k")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images = read_idx(find(args.folder, f"{args.split}-images-idx3-ubyte"))
    labels = read_idx(find(args.folder, f"{args.split}-labels-idx1-ubyte"))
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    x_all = (images.float() / 255.0).unsqueeze(1)
    y_all = labels.long()
    n, c, h, w = x_all.shape
    model = SmallCnn(c, h, w, 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(n)

    start = time.perf_counter()
    total = 0.0
    for first in range(0, n, args.batch_size):
        index = order[first : first + args.batch_size]
        x, y = x_all[index], y_all[index]
        model.eval()
        adv = pgd(model, x, y, args.eps, args.steps, args.eps / 4)
        model.train()
        optimizer.zero_grad()
        loss = F.cross_entropy(model(adv), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(index)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "images": n, "loss": total / n, "torch": torch.__version__,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
