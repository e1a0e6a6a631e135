# Entry points for a fresh machine (see README):
#   make test   set up .venv and run the whole test suite (the browser test needs Debian's
#               chromium and chromium-driver, which .ci/run installs)
#   make demo   set up .venv and run the offline main job (no download)
#   make app    set up .venv with the web page's extra and serve it on http://127.0.0.1:7860
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APP_STAMP := $(VENV)/.installed-app

.PHONY: env app-env test demo app clean

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

# The web page's extra (gradio) and the browser test's driver (selenium), on top of env.
$(APP_STAMP): $(STAMP) setup.py
	$(BIN)/python -m pip install -e '.[app,tests]'
	touch $(APP_STAMP)

app-env: $(APP_STAMP)

test: env app-env
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

# The web page with the tiny model shipped in the package (offline); tools/app.py --help
# for real models.
app: app-env
	$(BIN)/python tools/app.py

clean:
	rm -rf $(VENV) work_dirs data/synthetic_scenes
