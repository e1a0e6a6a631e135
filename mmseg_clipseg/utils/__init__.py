"""Small pieces shared by every layer: user-facing errors, atomic file writes, environment
variables set for a block only, and the mmcv-lite compatibility shim."""
