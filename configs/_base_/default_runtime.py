# Test-only runtime: nothing is trained, so there is no optimizer, schedule or checkpoint.
default_scope = 'mmseg'
custom_imports = dict(imports=['mmseg_clipseg'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    visualization=dict(type='SegVisualizationHook'),
)
custom_hooks = [dict(type='ClassNamesCheckHook')]
# The model is frozen: a distributed test wraps it in TestOnlyModelWrapper, not DDP (which
# refuses a model without trainable parameters and would allocate gradient buckets).
# Scoped: MMEngine's Runner looks the type up in its root registry, which finds mmseg's
# registry only by name.
model_wrapper_cfg = dict(type='mmseg.TestOnlyModelWrapper')
test_cfg = dict(type='TestLoop')
