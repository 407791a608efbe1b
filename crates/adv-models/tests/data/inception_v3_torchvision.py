"""torchvision's Inception-v3 as the reference for adv-models (torch 2.9.0, torchvision 0.24.0).

    python inception_v3_torchvision.py KEYS_FILE [REFERENCE_DIR]

KEYS_FILE gets the name and shape of every tensor of the state dict but the batch-norm
`num_batches_tracked` counters (adv-models drops those), and the parameter count.

REFERENCE_DIR (optional, too large to commit) gets what the ignored test
`inception_v3_matches_torchvision` compares against (set ADV_INCEPTION_REFERENCE to it):
the state dict of a randomly initialised `inception_v3(weights=None, aux_logits=True,
init_weights=True)` with non-trivial batch-norm statistics, as `inception_v3.safetensors` and
`inception_v3.pth`; 4 images in [0, 1] (`images.f32`, raw little-endian [4, 3, 299, 299]); and the
eval-mode logits (raw [4, 1000]) of `transform_input=True` on the ImageNet-normalized images
(`logits_transform_input.f32`) and of `transform_input=False` on the raw images
(`logits_plain.f32`).
"""

import sys
from pathlib import Path

import torch
import torchvision
from safetensors.torch import save_file

torch.manual_seed(0)
model = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True)
state = model.state_dict()

keys_file = Path(sys.argv[1])
with keys_file.open("w") as out:
    out.write(
        f"# torchvision {torchvision.__version__.split('+')[0]} inception_v3(aux_logits=True) state dict,\n"
        "# without num_batches_tracked: name, then shape\n"
    )
    out.write(f"# parameters: {sum(p.numel() for p in model.parameters())}\n")
    for name, tensor in state.items():
        if not name.endswith("num_batches_tracked"):
            out.write(f"{name} {','.join(map(str, tensor.shape))}\n")

if len(sys.argv) < 3:
    sys.exit()
reference = Path(sys.argv[2])
reference.mkdir(parents=True, exist_ok=True)
images = torch.rand(4, 3, 299, 299)

# Running statistics measured on the images, then perturbed, so that every batch norm matters
# and activations keep a sane scale through the 94 convolutions.
batch_norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
for bn in batch_norms:
    bn.reset_running_stats()
    bn.momentum = None
model.train()
with torch.no_grad():
    model(images)
    for bn in batch_norms:
        std = bn.running_var.sqrt()
        bn.running_mean += 0.2 * std * torch.randn_like(std)
        bn.running_var *= torch.empty_like(std).uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_(0.0, 0.1)
model.eval()

state = {name: t.contiguous() for name, t in model.state_dict().items()}
save_file(state, reference / "inception_v3.safetensors")
torch.save(model.state_dict(), reference / "inception_v3.pth")
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
with torch.no_grad():
    model.transform_input = True
    transformed = model((images - mean) / std)
    model.transform_input = False
    plain = model(images)
images.numpy().tofile(reference / "images.f32")
transformed.numpy().tofile(reference / "logits_transform_input.f32")
plain.numpy().tofile(reference / "logits_plain.f32")
print("logit std", plain.std().item(), "max |logit|", plain.abs().max().item())
