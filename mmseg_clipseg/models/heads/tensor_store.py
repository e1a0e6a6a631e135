"""Tensors by key as non-persistent buffers: a cache that moves with its module."""
from typing import Any, Dict, Optional

from torch import Tensor, nn


class TensorStore(nn.Module):
    """Tensors by hashable key, held as non-persistent buffers so that they follow the
    module's device and dtype; the oldest entries go beyond ``capacity``."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self._names: Dict[Any, str] = {}
        self._count = 0

    def get(self, key: Any) -> Optional[Tensor]:
        name = self._names.get(key)
        return None if name is None else getattr(self, name)

    def put(self, key: Any, tensor: Tensor) -> Tensor:
        if len(self._names) >= self.capacity:
            oldest = next(iter(self._names))
            delattr(self, self._names.pop(oldest))
        name = f'entry_{self._count}'
        self._count += 1
        self.register_buffer(name, tensor, persistent=False)
        self._names[key] = name
        return tensor
