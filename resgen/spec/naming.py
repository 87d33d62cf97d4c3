"""The model class a spec's `name` gives when it sets no `class_name`.

Spelt as the papers and timm spell the families: `resnet50d` -> `ResNet50d`, `ecaresnet50d` ->
`ECAResNet50d`, `resnet50_gn` -> `ResNet50GN`, `wide_resnet50_2` -> `WideResNet50_2`.
"""

from __future__ import annotations

import re

# A family's spelling, for the letters before a part's digits; and parts spelt as acronyms.
_WORDS = {"resnet": "ResNet", "resnext": "ResNeXt", "wide": "Wide", "seresnet": "SEResNet",
          "seresnext": "SEResNeXt", "ecaresnet": "ECAResNet", "preact": "PreAct", "wrn": "WRN",
          "plain": "Plain", "gn": "GN", "bn": "BN", "se": "SE", "eca": "ECA",
          "resnetaa": "ResNetAA", "seresnetaa": "SEResNetAA", "seresnextaa": "SEResNeXtAA",
          "resnetblur": "ResNetBlur", "resnetrs": "ResNetRS", "senet": "SENet",
          "ecaresnext": "ECAResNeXt"}  # fmt: skip
_PART = re.compile(r"([A-Za-z]*)(.*)")


def class_name_for(name: str) -> str:
    """Derive a class name: resnet50 -> ResNet50, resnet50d -> ResNet50d, resnet50_gn -> ..GN."""
    parts = []
    for i, part in enumerate(name.split("_")):
        match = _PART.fullmatch(part)
        assert match is not None  # every string matches
        letters, rest = match.groups()
        word = _WORDS.get(letters.lower())
        if word is not None:
            part = word + rest  # the family, then its depth and variant as written: 50d
        elif part[:1].isalpha():
            part = part[0].upper() + part[1:]
        parts.append(part)
        if i > 0 and parts[-1][:1].isdigit():
            parts[-1] = "_" + parts[-1]
    name = "".join(parts)
    return name if name[:1].isalpha() else "Model" + name
