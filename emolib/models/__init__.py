"""The networks and their training schedules.

- ``archs``     the backbones by name (ViT sizes and small CNNs), without torch
- ``vit``       timm Vision Transformers (and small timm ResNets) on log-mels: creation, safetensors export that
  loads into plain timm, official MoCo v3 checkpoint import, utterance embeddings over windows
- ``cnn``       the report's Conv1D classifier (581,063 parameters), its training loop and budgets
- ``schedule``  the warm-up + cosine learning-rate schedule shared by pretraining and fine-tuning

May import: ``core``, ``data``.
"""
