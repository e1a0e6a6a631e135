# Two entry points for a fresh machine (see README):
#   make test   set up .venv and run the whole test suite
#   make demo   set up .venv and run the offline main job (no download)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: env test demo clean

$(STAMP): requirements.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt pytest
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

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
