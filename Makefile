# Two entry points for a fresh machine (see README):
#   make test   set up .venv and run the whole test suite
#   make demo   set up .venv and run the offline main job (no download)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: env test demo clean

# TORCH_INDEX: a package index to take torch and torchvision from first, e.g. PyTorch's CPU
# builds on a machine without a GPU (see README, "Installation"); empty: the package index.
TORCH_INDEX ?=

# Not --quiet: pip shows each download with its progress bar (in a log that is not a terminal,
# a few lines per package, no live updates, so CI output stays readable).
$(STAMP): requirements.txt setup.py
	$(PYTHON) -m venv $(VENV)
	@echo "Installing torch, open_clip and mmsegmentation into $(VENV) (minutes on a fresh machine)"
	$(if $(TORCH_INDEX),$(BIN)/python -m pip install --index-url $(TORCH_INDEX) torch torchvision)
	$(BIN)/python -m pip install -r requirements.txt pytest
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)
	@echo "Done. Activate the environment in each new shell: source $(VENV)/bin/activate"

env: $(STAMP)

test: env
	$(BIN)/python -m pytest -q

# The offline main job: the tiny CLIP trained in this repository (weights shipped in the
# package) on 200 held-out synthetic scenes, clipseg beside the baselines.
demo: env
	$(BIN)/python tools/make_synthetic_scenes.py data/synthetic_scenes --num-images 200 --seed 1
	$(BIN)/python tools/compare_dense_modes.py configs/clipseg_tiny_synthetic.py \
		--data-root data/synthetic_scenes --modes clipseg maskclip clearclip vanilla
	$(BIN)/python tools/demo.py data/synthetic_scenes/img_dir/val/000000.png \
		--config configs/clipseg_tiny_synthetic.py --classes mmseg_clipseg/class_names/synthetic.txt \
		--out work_dirs/demo_overlay.png --overwrite

clean:
	rm -rf $(VENV) work_dirs data/synthetic_scenes
