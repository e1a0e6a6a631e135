"""Small pieces shared by every layer: user-facing errors, atomic file writes and the
mmcv-lite compatibility shim."""
