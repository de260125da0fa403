#!/usr/bin/env bash
# Default xling1 recipe: built offline from Debian packages (see local/data.sh and docs/recipe.md).
#   ./run.sh                       # full default run
#   ./run.sh --fast true           # same stages on a few utterances with tiny models (minutes)
#   ./run.sh --stage 6 --stop_stage 8 --languages "es cs"
# Any other --option is passed to xling.sh (see the variables at its top).
set -euo pipefail

fast=false
args=()
while [ $# -gt 0 ]; do
    if [ "$1" = --fast ]; then fast=$2; shift 2; else args+=("$1"); shift; fi
done

if [ "${fast}" = true ]; then
    datadir=data_fast
    expdir=exp_fast
    asr_config=conf/asr/train_asr_fast.yaml
    inference_config=conf/decode/decode_ctc_greedy.yaml
    degrade_config=conf/degrade/quick.yaml
    probe_languages="nl es"
    probe_num_utts=10
    pr_updates=100
    local_data_opts="--max_utts_per_lang 40 --pretrain_hours 0.05"
    train_max_hours=""
    # APC at one amount (the amount sweep: --pretrain_configs conf/pretrain/apc_fast.yaml)
    pretrain_configs="conf/pretrain/apc_fast.yaml:0.02 conf/pretrain/mpc_fast.yaml:0,0.04"
    pretrain_hours="0.02 0.04"
    languages="cs es"   # any of nl cs es fr it ru: --languages
    train_jobs=2
    pretrain_arms=twin
    arm_seeds=""
else
    datadir=data
    expdir=exp
    # The research question in miniature. Dutch pre-training (2 h pool): APC; masked prediction
    # on log-mel (mpc_tiny) as the joint text-audio model, its paired-only arm (transcripts),
    # its audio-only twin (text weights 0) and its random-init control (0 h); the twin and the
    # joint model with three seeds, the other systems once. Downstream, the same for all: the
    # ML-SUPERB CTC head on every (system x language), five non-Germanic languages (Slavic cs,
    # ru; Romance es, fr, it), training sets capped at 15 min (ML-SUPERB style), clean test
    # sets and three degraded conditions, CTC best path; the frame probe on nl, cs and es and
    # phone recognition on every language. Decision rule: README. The CTC/attention
    # Conformer as a second head on every system:
    #   ./run.sh --asr_configs "conf/asr/train_asr_ctc_head.yaml conf/asr/train_asr_conformer.yaml"
    # APC's amount sweep: --pretrain_configs "conf/pretrain/apc_tiny.yaml conf/pretrain/mpc_tiny.yaml:0,2"
    asr_config=conf/asr/train_asr_ctc_head.yaml
    inference_config=conf/decode/decode_ctc_greedy.yaml
    degrade_config=conf/degrade/quick.yaml
    probe_languages="nl cs es"
    probe_num_utts=60
    pr_updates=600
    local_data_opts="--pretrain_hours 2"
    languages="cs es fr it ru"
    train_max_hours=0.25
    train_jobs=2
    pretrain_configs="conf/pretrain/apc_tiny.yaml:2 conf/pretrain/mpc_tiny.yaml:0,2"
    pretrain_hours="2"
    pretrain_arms="twin paired"
    arm_seeds="twin=1,2,3 joint=1,2,3"
fi

./xling.sh \
    --languages "${languages}" \
    --datadir "${datadir}" \
    --expdir "${expdir}" \
    --local_data_opts "${local_data_opts}" \
    --train_max_hours "${train_max_hours}" \
    --train_jobs "${train_jobs}" \
    --token_type char \
    --upstreams fbank \
    --pretrain_configs "${pretrain_configs}" \
    --pretrain_hours "${pretrain_hours}" \
    --pretrain_arms "${pretrain_arms}" \
    --arm_seeds "${arm_seeds}" \
    --asr_config "${asr_config}" \
    --inference_config "${inference_config}" \
    --inference_nj 1 \
    --degrade_config "${degrade_config}" \
    --probe_languages "${probe_languages}" \
    --probe_num_utts "${probe_num_utts}" \
    --pr_updates "${pr_updates}" \
    "${args[@]}"
