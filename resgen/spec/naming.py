"""The model class a spec's `name` gives when it sets no `class_name`."""

from __future__ import annotations

_WORDS = {"resnet": "ResNet", "resnext": "ResNeXt", "wide": "Wide", "seresnet": "SEResNet",
          "seresnext": "SEResNeXt", "ecaresnet": "ECAResNet", "preact": "PreAct", "wrn": "WRN",
          "plain": "Plain"}  # fmt: skip


def class_name_for(name: str) -> str:
    """Derive a class name: resnet50 -> ResNet50, wide_resnet50_2 -> WideResNet50_2."""
    parts = []
    for i, part in enumerate(name.split("_")):
        head = part.rstrip("0123456789")
        word = _WORDS.get(head.lower())
        if word is not None:
            part = word + part[len(head) :]
        elif part[:1].isalpha():
            part = part[0].upper() + part[1:]
        parts.append(part)
        if i > 0 and parts[-1][:1].isdigit():
            parts[-1] = "_" + parts[-1]
    name = "".join(parts)
    return name if name[:1].isalpha() else "Model" + name
