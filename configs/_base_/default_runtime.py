# Test-only runtime: nothing is trained, so there is no optimizer, schedule or checkpoint.
# Nothing here depends on the machine: the distributed backend is the launcher's (mmengine
# uses nccl, tools/test.py gloo without CUDA), data loader workers and pinned memory are
# fitted when the loader is built (mmseg_clipseg.engine.loader_settings).
default_scope = 'mmseg'
custom_imports = dict(imports=['mmseg_clipseg'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
)
vis_backends = [dict(type='LocalVisBackend')]
# --show-dir pictures: image, ground truth and prediction side by side, in the colours
# tools/demo.py gives the same classes. Named after the run by the runner (mmengine's
# default), so that several runners in one process each build their own.
visualizer = dict(type='SideBySideVisualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # A progress line (images done, ETA) every 50 images or 10 s, whichever comes first.
    logger=dict(type='TimedLoggerHook', interval=50, interval_s=10.0,
                log_metric_by_epoch=False),
    visualization=dict(type='SegVisualizationHook'),
)
custom_hooks = [dict(type='ClassNamesCheckHook')]
# The model is frozen: a distributed test wraps it in TestOnlyModelWrapper, not DDP (which
# refuses a model without trainable parameters and would allocate gradient buckets).
# Scoped: MMEngine's Runner looks the type up in its root registry, which finds mmseg's
# registry only by name.
model_wrapper_cfg = dict(type='mmseg.TestOnlyModelWrapper')
test_cfg = dict(type='TestLoop')
