"""Pieces of the peers' decision rule (METHOD.md, "Classification") that work on per-name
logits given a chunk of names at a time, so that all names never sit in memory at once.

With ``p = softmax(s)`` over all names and a class scoring the max of its names' ``p``, the
winning class is the class of the name with the highest ``s`` and its probability is
``exp(max s - logsumexp s)``: a running max and a running log-sum-exp over chunks of names
give both exactly.
"""
import math
from typing import Optional

import torch
from torch import Tensor


class RunningArgmax:
    """Highest value and the index of its first occurrence over rows fed in chunks.

    Attributes:
        value (Tensor): Highest value so far, shape (H, W); None before the first update.
        index (Tensor): Row index of ``value`` (first occurrence on ties), (H, W), int64.
    """

    def __init__(self) -> None:
        self.value: Optional[Tensor] = None
        self.index: Optional[Tensor] = None

    def update(self, values: Tensor, first_row: int) -> None:
        """Take rows ``first_row .. first_row + n - 1``, given as ``values`` (n, H, W)."""
        value, index = values.max(dim=0)
        index += first_row
        if self.value is None:
            self.value, self.index = value, index
            return
        better = value > self.value  # ties keep the earlier row, as argmax does
        self.value = torch.where(better, value, self.value)
        self.index = torch.where(better, index, self.index)


def add_logsumexp(total: Optional[Tensor], values: Tensor) -> Tensor:
    """``log(exp(total) + sum_rows exp(values))``: the running log-sum-exp of rows.

    Args:
        total (Tensor, optional): Log-sum-exp of the rows so far, (H, W); None for none.
        values (Tensor): More rows, (n, H, W).
    """
    chunk = values.logsumexp(dim=0)
    return chunk if total is None else torch.logaddexp(total, chunk)


def running_class_max(class_max: Optional[Tensor], scaled: Tensor, class_index: Tensor,
                      num_classes: int) -> Tensor:
    """Per-class max of scaled logits (K, H, W), updated in place with a chunk of names'
    logits ``scaled`` (n, H, W) whose classes are ``class_index`` (n,); None starts it."""
    if class_max is None:
        class_max = scaled.new_full((num_classes, *scaled.shape[1:]), -math.inf)
    index = class_index.view(-1, 1, 1).expand_as(scaled)
    return class_max.scatter_reduce_(0, index, scaled, reduce='amax')


def area_suppressed_classes(labels: Tensor, num_classes: int, area_thd: float) -> Tensor:
    """SCLIP's ``area_thd``: the foreground classes whose predicted area is not above
    ``area_thd`` times the predicted foreground (all pixels of classes 1..K-1).

    Classes that are not predicted at all count as suppressed (SCLIP zeroes their
    probabilities as well), so no pixel can move to them. Class 0 is never suppressed.

    Args:
        labels (Tensor): Predicted classes, any shape, int64.

    Returns:
        Tensor: (K,) bool, True for a suppressed class.
    """
    areas = torch.bincount(labels.flatten(), minlength=num_classes)
    # An integer count is <= t exactly when it is <= floor(t); t in float64 on the host, as
    # some devices (Apple's MPS) have no float64.
    limit = math.floor(area_thd * int(areas[1:].sum()))
    suppressed = torch.zeros_like(areas, dtype=torch.bool)
    suppressed[1:] = areas[1:] <= limit
    return suppressed
