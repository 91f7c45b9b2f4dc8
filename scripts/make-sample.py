#!/usr/bin/python3
"""scripts/make-sample.py - write samples/sample.pt, the checkpoint the
README's quick start converts: a small CNN's state dict saved by real
PyTorch (torch.save's zip format), as a Hugging Face pytorch_model.bin is.

    /usr/bin/python3 scripts/make-sample.py
"""
import os

import torch

torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
    torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
    torch.nn.Linear(16, 10))
top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
torch.save(model.state_dict(), os.path.join(top, "samples", "sample.pt"))
