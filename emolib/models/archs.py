"""The backbones by name, without importing torch (the command line lists them in ``--help``)."""

#: Named sizes: (timm model name, embedding width, heads).  ``vit_small`` takes MoCo v3's 12
#: heads (timm's own ``vit_small`` has 6).
SIZES = {"vit_tiny": ("vit_tiny_patch16_224", 192, 3),
         "vit_small": ("vit_small_patch16_224", 384, 12),
         "vit_base": ("vit_base_patch16_224", 768, 12)}
#: Named CNNs: (timm model name, its arguments).  Their output is ``2 x`` the last stage's channels.
CNNS = {"resnet10t": ("resnet10t", {}),
        "resnet10t_half": ("resnet10t", {"channels": [32, 64, 128, 256], "stem_width": 16})}
ARCHS = (*SIZES, *CNNS)
