# fusionlab: `make train` runs the default job, `make test` the test suite; both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned here, before the project, so that no resolver swaps it for another build.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed
# pip's own exit status decides (its harmless "Location ... ignored" warnings are filtered from the output)
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
QUIET_PIP := 2>&1 | { grep -v "^WARNING: Location" || true; }

.PHONY: install train test test-learning bench bench-reference sweep robustness evidence precision-evidence precision-evidence-real clean gpu-check gpu-bundle

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip $(QUIET_PIP)
	$(BIN)/pip install -q $(TORCH_SPEC) $(QUIET_PIP)
	$(BIN)/pip install -q -e '.[dev,sweep]' $(QUIET_PIP)
	$(BIN)/python -c "import fusionlab, torch, lightning, transformers, torchcrf; print('fusionlab installed, torch', torch.__version__)"
	touch $@

# the default job at laptop size (a few minutes on 2 cores); ARGS=... runs anything else
ARGS ?= +preset=laptop
train: install
	$(BIN)/python -m fusionlab.train $(ARGS)

# TEST_JOBS pytest processes (pytest-xdist), each test file whole in one of them, one torch thread each
TEST_JOBS ?= 2
test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile

test-learning: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m learning tests/test_learning.py

# The embedded comparison: every implemented fusion x task on synthetic data x 3 seeds, then the report.
# SWEEP_JOBS runs at once (joblib), one thread each: on a 2-core laptop, 2.
SWEEP_FUSIONS ?= text_only,concat,hvpnet,muse,pmei,mase
SWEEP_DIR ?= multirun/embedded_comparison
SWEEP_JOBS ?= 2
sweep: install
	OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(BIN)/python -m fusionlab.train -m +preset=laptop fusion=$(SWEEP_FUSIONS) \
		hydra/launcher=local_parallel hydra.launcher.n_jobs=$(SWEEP_JOBS) \
		task=mner,mre,msa,joint seed=1,2,3 logger=none trainer.enable_progress_bar=false hydra.sweep.dir=$(SWEEP_DIR)
	$(BIN)/python -m fusionlab.report runs=$(SWEEP_DIR)

# Robustness curves (MultiBench) for every run below ROBUST_DIR: each corruption kind at each level, then the report.
ROBUST_DIR ?= multirun/robustness
ROBUST_KINDS ?= image_noise image_occlusion missing_images token_mask
ROBUST_LEVELS ?= [0.0,0.5,1.0]
robustness: install
	for run in $$(dirname $$(find $(ROBUST_DIR) -name results.json)); do for kind in $(ROBUST_KINDS); do \
		OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 $(BIN)/python -m fusionlab.evaluate run_dir=$$run corruption=$$kind \
			'levels=$(ROBUST_LEVELS)' || exit 1; done; done
	$(BIN)/python -m fusionlab.report runs=$(ROBUST_DIR)

# With a CUDA GPU: training at the papers' shapes (random weights, built offline), bf16, with and without
# torch.compile; otherwise the CPU benchmarks. Rewrites that machine's section of docs/benchmarks.md.
bench: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.run_all

# HVPNeT and MuSE beside their authors' code on real Twitter-2015 batches (benchmarks/against_reference.py), from
# clones of github.com/zjunlp/HVPNeT and github.com/RecklessRonan/MuSE; writes docs/benchmarks.md's reference section.
HVPNET_CLONE ?= ../HVPNeT
MUSE_CLONE ?= ../MuSE
bench-reference: install
	OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.against_reference $(HVPNET_CLONE) $(MUSE_CLONE)

# The GPU path in one run of under 8 minutes (benchmarks/gpu_check.py): every fusion x task trains in bf16 with
# and without torch.compile, then the papers' shapes (samples/s, memory, MFU); without CUDA, a small CPU rehearsal.
GPU_CHECK_OUT ?= outputs/gpu_check
gpu-check: install
	OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.gpu_check --out $(GPU_CHECK_OUT)

# What gpu-check needs on a machine without a network that has torch, lightning and transformers (docs/guide.md,
# "GPU check"): the wheels of the other packages on its import path (Python 3.12; pure-Python ones built here
# where the registry has no wheel) and the random encoders' tokenizer files.
GPU_BUNDLE ?= .gpu_bundle
GPU_BUNDLE_PACKAGES := hydra-core omegaconf antlr4-python3-runtime pytorch-crf
gpu-bundle: install
	rm -rf $(GPU_BUNDLE) && mkdir -p $(GPU_BUNDLE)/whl $(GPU_BUNDLE)/tokenizer
	for spec in $$($(BIN)/python -c "import importlib.metadata as m, sys; print(*(f'{n}=={m.version(n)}' for n in sys.argv[1:]))" $(GPU_BUNDLE_PACKAGES)); do \
		$(BIN)/pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
			--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
			-d $(GPU_BUNDLE)/whl $$spec $(QUIET_PIP) || $(BIN)/pip wheel -q --no-deps -w $(GPU_BUNDLE)/whl $$spec $(QUIET_PIP) || exit 1; done
	cd $$($(BIN)/python -c "from fusionlab.encoders.text import _minilm_path; print(_minilm_path())") && \
		cp vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json $(CURDIR)/$(GPU_BUNDLE)/tokenizer/
	du -sh $(GPU_BUNDLE) && ls $(GPU_BUNDLE)/whl

# The real-text evidence of docs/results.md (issue 18) on the text in DATA: PMEI against pmei_mtl on WebNLG*
# and text_only on MNRE, 3 seeds each; about 13 hours on one CPU thread. Interrupt it at will: the same command continues
# every run from its last checkpoint and skips the finished ones. Then each sweep's report is published.
DATA ?= ../shared/data
evidence: install
	OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(BIN)/python -m fusionlab.train -m experiment=pmei_webnlg_star_cpu \
		data_root=$(DATA) seed=1,2,3 fusion=pmei,pmei_mtl hydra.sweep.dir=multirun/real_webnlg_star_pmei
	OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(BIN)/python -m fusionlab.train -m fusion=text_only task=mre dataset=mnre \
		dataset.layout=flat data_root=$(DATA) seed=1,2,3 hydra.sweep.dir=multirun/real_mnre_text_only
	$(BIN)/python -m fusionlab.report runs=multirun/real_webnlg_star_pmei publish=docs/results.md baseline=pmei_mtl \
		'title="PMEI against its MTL ablation on WebNLG* (MiniLM on CPU, 3 seeds)"'
	$(BIN)/python -m fusionlab.report runs=multirun/real_mnre_text_only publish=docs/results.md \
		'title="Real text: text_only on MNRE (MiniLM, 3 seeds)"'

# bf16-mixed against fp32 on CPU (docs/results.md): HVPNeT and MuSE on the embedded mner at laptop size, 3 seeds each,
# each bf16 row tested against the same fusion in fp32. bf16 pays on CPUs with AMX or AVX-512 bf16 units, at the
# papers' shapes (docs/benchmarks.md); here it shows whether F1 moves. About 30 minutes on 2 cores.
PRECISION_DIR ?= multirun/cpu_bf16
precision-evidence: install
	OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(BIN)/python -m fusionlab.train -m +preset=laptop fusion=hvpnet,muse task=mner \
		seed=1,2,3 trainer.precision=32-true,bf16-mixed hydra/launcher=local_parallel hydra.launcher.n_jobs=2 \
		logger=none trainer.enable_progress_bar=false hydra.sweep.dir=$(PRECISION_DIR)
	$(BIN)/python -m fusionlab.report runs=$(PRECISION_DIR) publish=docs/results.md \
		'baseline="trainer.precision=32-true"' 'title="bf16-mixed against fp32 on CPU (synthetic mner, laptop size, 3 seeds)"'

# The same on real Twitter-2015 text (DATA, as for evidence) with the offline MiniLM, 3 seeds per precision, two runs
# at once: HVPNeT for 3 epochs, MuSE for 2 (an epoch of MuSE is about 9 minutes on one thread). The release's images
# are not in DATA, so these runs see text only (the report says so). About 2 hours on 2 cores.
REAL_PRECISION_DIR ?= multirun/real_bf16
REAL_PRECISION_RUN := OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(BIN)/python -m fusionlab.train -m dataset=twitter2015 \
	dataset.layout=flat data_root=$(DATA) seed=1,2,3 trainer.precision=32-true,bf16-mixed hydra/launcher=local_parallel \
	hydra.launcher.n_jobs=2 logger=none trainer.enable_progress_bar=false
precision-evidence-real: install
	$(REAL_PRECISION_RUN) fusion=hvpnet trainer.max_epochs=3 hydra.sweep.dir=$(REAL_PRECISION_DIR)/hvpnet
	$(REAL_PRECISION_RUN) fusion=muse trainer.max_epochs=2 hydra.sweep.dir=$(REAL_PRECISION_DIR)/muse
	$(BIN)/python -m fusionlab.report runs=$(REAL_PRECISION_DIR) publish=docs/results.md \
		'baseline="trainer.precision=32-true"' \
		'title="bf16-mixed against fp32 on CPU (real Twitter-2015 text, MiniLM; HVPNeT 3 epochs, MuSE 2; 3 seeds)"'

clean:
	rm -rf $(VENV) outputs multirun .cache
