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
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

env: $(STAMP)

test: env
	$(BIN)/python -m pytest -q

demo: env
	$(BIN)/python tools/make_synthetic_voc.py data/synthetic_voc --num-images 4
	$(BIN)/python tools/test.py configs/clipseg_vitb_voc20.py --data-root data/synthetic_voc \
		--work-dir work_dirs/demo --cfg-options model.clip.pretrained=None

clean:
	rm -rf $(VENV) work_dirs data/synthetic_voc
