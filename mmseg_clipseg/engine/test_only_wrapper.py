"""A model wrapper for distributed testing of a model that has nothing to train."""
from typing import Any

from mmseg.registry import MODEL_WRAPPERS
from torch import nn


@MODEL_WRAPPERS.register_module()
class TestOnlyModelWrapper(nn.Module):
    """Wraps a model for MMEngine's Runner in a distributed test, in place of DDP.

    DDP exists to average gradients; for a frozen model it would only allocate gradient
    buckets (about one model's size per GPU) and it refuses a model without trainable
    parameters. At test time each rank runs its own share of the data and MMEngine's
    evaluator gathers the results, so the wrapper only forwards the steps. Set it with the
    config's ``model_wrapper_cfg = dict(type='mmseg.TestOnlyModelWrapper')`` (scoped: the
    Runner looks it up from MMEngine's root registry).

    Args:
        module (nn.Module): The model, already on its device.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def test_step(self, data: Any) -> list:
        return self.module.test_step(data)

    def val_step(self, data: Any) -> list:
        return self.module.val_step(data)

    def train_step(self, *args: Any, **kwargs: Any) -> dict:
        raise RuntimeError('TestOnlyModelWrapper wraps a model for testing only; use DDP '
                           '(model_wrapper_cfg=None) to train a model.')

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)
