# Two commands a newcomer needs: `make test` and `make demo`. Both set up the project-local
# virtualenv (.venv) first, are idempotent, and assume nothing was run before.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.stamp-install

.PHONY: setup engines test test-slow demo clean

$(STAMP): setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel "setuptools<81"
	# DS_BUILD_OPS=0: DeepSpeed JIT-builds what it needs; no CUDA toolchain is needed to install it.
	DS_BUILD_OPS=0 $(PY) -m pip install -q -e ".[eval,dev]"
	@touch $(STAMP)

# The Debian speech engines the embedded corpus is synthesised with (no-op when present).
engines: $(STAMP)
	$(VENV)/bin/holitok-data engines --install

setup: $(STAMP) engines

test: setup
	OMP_NUM_THREADS=2 $(PY) -m pytest -q

test-slow: setup
	OMP_NUM_THREADS=2 $(PY) -m pytest -q -m slow

# The demo runs the shipped models (models/tiny); without them (e.g. MODELS pointing elsewhere) it
# runs the corpus smoke, which needs the speech engines, so it depends on the full set-up.
# make demo [TEXT="..."] [PROMPT=voice.wav PROMPT_TEXT="its transcript"]
# The values travel through the environment unexpanded ($(value ...)), so "$", quotes and spaces in a
# sentence arrive as typed; a variable given empty (TEXT=) reaches demo.sh, which refuses it clearly.
demo: export DEMO_TEXT := $(value TEXT)
demo: export DEMO_PROMPT := $(value PROMPT)
demo: export DEMO_PROMPT_TEXT := $(value PROMPT_TEXT)
demo: setup
	bash recipes/demo.sh $(if $(filter undefined,$(origin TEXT)),,--text "$$DEMO_TEXT") \
	  $(if $(filter undefined,$(origin PROMPT)),,--prompt "$$DEMO_PROMPT") \
	  $(if $(filter undefined,$(origin PROMPT_TEXT)),,--prompt-text "$$DEMO_PROMPT_TEXT")

clean:
	rm -rf $(VENV) build *.egg-info demo-output
