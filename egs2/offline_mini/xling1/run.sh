#!/usr/bin/env bash
# Default xling1 recipe: built offline from Debian packages (see local/data.sh and README.md).
#   ./run.sh                       # full default run
#   ./run.sh --fast true           # same stages on a few utterances with a tiny model (minutes)
#   ./run.sh --stage 6 --stop_stage 8 --languages "es cs"
# Any other --option is passed to xling.sh (see the variables at its top).
set -euo pipefail

fast=false
args=()
while [ $# -gt 0 ]; do
    if [ "$1" = --fast ]; then fast=$2; shift 2; else args+=("$1"); shift; fi
done

languages="nl cs es fr it ru"   # Dutch (the pre-training language) + non-Germanic test languages
if [ "${fast}" = true ]; then
    datadir=data_fast
    expdir=exp_fast
    asr_config=conf/asr/train_asr_fast.yaml
    inference_config=conf/decode/decode_fast.yaml
    max_utts_per_lang=40
else
    datadir=data
    expdir=exp
    asr_config=conf/asr/train_asr_conformer.yaml
    inference_config=conf/decode/decode_ctc0.5.yaml
    max_utts_per_lang=0
fi

./xling.sh \
    --languages "${languages}" \
    --datadir "${datadir}" \
    --expdir "${expdir}" \
    --local_data_opts "--datadir ${datadir} --max_utts_per_lang ${max_utts_per_lang}" \
    --token_type char \
    --upstreams fbank \
    --asr_config "${asr_config}" \
    --inference_config "${inference_config}" \
    "${args[@]}"
