#!/usr/bin/env bash
# xling.sh: the generic stage script of every xling1 recipe (egs2/<corpus>/xling1/run.sh only
# sets options and calls it), in the shape of ESPnet's egs2/TEMPLATE/asr1/asr.sh.
#
# Stages (run those with stage <= N <= stop_stage):
#   1  data preparation: local/data.sh, then every data dir is validated
#   2  token lists per language (char or sentencepiece BPE)
#   3  self-supervised pre-training of each --pretrain_configs model on each of its nested amounts
#      of ${datadir}/${pretrain_set} (ESPnet trainer: resumable, --ngpu, DDP)
#   4  export of every pre-trained model as an s3prl upstream: ${expdir}/upstreams/<name>.{pt,yaml};
#      these upstreams join --upstreams in stages 5-10
#   5  feature cache: every frozen s3prl upstream runs once over every set (kaldiio ark/scp)
#   6  downstream ASR per (upstream x language): ESPnet asr_train collect-stats + training
#   7  decoding of every test set (clean and each --degrade_config condition), ESPnet asr_inference
#   8  scoring with jiwer: WER and CER per test set, per-utterance errors and alignments
#   9  linear phone-separability probe of every upstream, per layer, on --probe_languages; phone
#      recognition on real speech (a linear CTC head, PER) on every evaluation language
#  10  report: ${expdir}/results/RESULTS.md (tables with bootstrap CIs, significance of upstream
#      pairs), CSV/JSON of every number and PNG plots (python -m espnet_ext.bin.make_report)
# With --seeds "1 2 3", stages 3-8 run once per training seed (the probe of stage 9 uses the first seed's
# models); stage 10 reports mean and spread over the seeds. An upstream is a name in conf/upstream/ (fbank =
# ESPnet's default frontend; any s3prl upstream with a local checkpoint) or one pre-trained by stages 3-4
# (xling_<config>_<hours>h). The downstream config is the same for all of them: only the input changes.
#
# Every stage logs "Stage N: what: src -> dst", is idempotent (a finished step leaves a .done marker, written
# last, and is skipped on rerun; --force true redoes it) and resumes after a kill (ESPnet training resumes from
# its last checkpoint). Jobs go through ${train_cmd}, ${cuda_cmd} and ${decode_cmd} from cmd.sh (run.pl
# locally, slurm.pl on a cluster); multi-GPU and multi-node training is ESPnet's own launcher (--ngpu,
# --num_nodes). Dir names, lists of runs, argument lists and the bookkeeping between jobs come from the run
# plan (espnet_ext/recipe/, python -m espnet_ext.bin.recipe_plan). Unquoted options are word-split on purpose.
# shellcheck disable=SC2086
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"; }
# fail_point NAME: the shell twin of espnet_ext/faults.py (crash tests only): with XLING_FAIL_AT=<stage>:NAME,
# the whole recipe dies here as under kill -9.
fail_point() { [ "${XLING_FAIL_AT:-}" = "${XLING_STAGE:-}:${1}" ] || return 0
    echo "xling: injected failure at ${XLING_FAIL_AT} (pid $$)" >&2; kill -9 0; }

# General
stage=1
stop_stage=10000
force=false             # redo steps whose .done marker exists
ngpu=0                  # GPUs per node for training (0: CPU)
num_nodes=1             # nodes for distributed training (ESPnet launcher)
nj=2                    # parallel jobs for data processing
inference_nj=2          # parallel decoding jobs
train_jobs=1            # jobs at once in stages 3-7; on CPU each gets nproc/train_jobs threads (2
                        # jobs of 1 thread beat 1 job of 2 threads)
gpu_inference=false
python=python3
seed=1                  # seed of data selection, noise, probes and bootstrap, and the main
                        # training seed (exp dir names without a _seed suffix)
seeds=""                # training seeds, e.g. "1 2 3": pre-training and downstream ASR (then
                        # decoding and scoring) once per seed, dirs of seeds other than --seed
                        # suffixed _seed<S>; the report gives mean, spread over seeds and
                        # intervals over seeds and utterances together. "" = --seed only
arm_seeds=""            # seeds per arm (the results' arm column), e.g. "twin=1,2,3 joint=1,2,3":
                        # those systems train once per seed, every other arm with --seeds
# Data
languages="nl cs es fr it ru"   # evaluation languages: ${datadir}/{train,dev,test}_<lang>
local_data_opts=""              # passed to local/data.sh
lang_data=""                    # more evaluation languages from local data, "CODE=KIND:PATH ...":
                                # KIND kaldi (PATH/{train,dev,test} are Kaldi data dirs),
                                # common_voice, fleurs or mls (PATH = that corpus's language
                                # folder); each CODE joins --languages (README: "A new language")
train_max_hours=""              # cap each training set (ML-SUPERB style): seeded random subset
degrade_config=""               # conf/degrade/*.yaml: degraded copies of every test set (noise at
                                # SNRs, speed, telephone band), test_<lang>_<condition>; "" = clean only
datadir=data
expdir=exp
dumpdir=dump            # feature caches: ${dumpdir}/feats/<upstream>/

# Self-supervised pre-training (stages 3-4)
pretrain_configs=""     # conf/pretrain/*.yaml to train; CONFIG:H1,H2 gives a config its own amounts,
                        # e.g. "conf/pretrain/apc_tiny.yaml conf/pretrain/mpc_tiny.yaml:0,2"
pretrain_hours="0.5 1 2"  # nested amounts of the pool (h) for configs without their own; "all" =
                        # whole pool; 0 = the random-init control (the model before its first
                        # update, with the run's seed: no training, exported as xling_<config>_0h)
pretrain_set=pretrain_nl  # the pool: ${datadir}/${pretrain_set} (audio only)
pretrain_valid_set=dev_nl # validation loss of pre-training
pretrain_args=""        # extra arguments for pretrain_train
pretrain_arms=twin      # besides a text config's joint model (xling_<config>_<h>h), also train:
                        # twin = every text weight 0, the audio-only model (_twin_); paired =
                        # unpaired-text weight 0, transcripts only (_paired_); "" = neither.
                        # A text config: model joint, or one that sets text_weight/paired_weight
pretrain_lang=nl        # language of the pre-training audio and text
pretrain_text=pretrain_text_nl/sentences.txt  # text corpus (in ${datadir}) of the joint model
phone_mode=ipa          # joint model text units: ipa (espeak-ng) or grapheme

# Phone probes (stage 9)
probe_languages=""      # frame probe languages (espeak-ng reads sentences of
                        # ${datadir}/test_<lang>/text with exact phone timings); "" skips it
pr_updates=600          # phone recognition on real speech of every evaluation language: updates of
                        # a linear CTC head on each upstream's frozen layers (espeak-ng phones of
                        # the training transcripts, PER on the test set); 0 skips it
probe_num_utts=60       # sentences per language (70/30 utterance split)
probe_variants="f2 m3"  # espeak-ng voice variants reading them besides the plain voice (one
                        # voice makes the probe too easy: every phone sounds the same)

# Report (stage 10)
report_compare=""       # extra upstream pairs to test, "A:B ..." (joint vs twin and each
                        # upstream vs fbank are always compared)
bootstrap_resamples=1000

# Tokens
token_type=char         # char or bpe
nbpe=100

# Downstream ASR
upstreams="fbank"       # conf/upstream names; fbank = ESPnet's default frontend
feats_dtype=float32     # float32 or float16 feature caches (half the disk)
asr_config=conf/asr/train_asr_conformer.yaml
asr_configs=""          # several downstream heads ("" = --asr_config), each trained and decoded as its
                        # own run; the first is the main head (exp dirs as with --asr_config), the
                        # others add _<config name> to the dir; column "head" of the results
asr_args=""             # extra arguments for asr_train
asr_tag=""              # suffix of the exp dir name
feats_normalize=global_mvn  # global_mvn (stats from collect-stats), utterance_mvn or none
encoder_frame_ms=40     # every upstream reaches the encoder at this frame rate ("" = the ASR config's
                        # input_layer for all) through, per encoder_input, frames stacked to half that
encoder_input=conv1d    # rate + 1-D convs (conv1d), ESPnet's conv input layer of the subsampling (conv:
                        # conv2d, conv2d2) or frames stacked into a linear one (stack); docs/upstreams.md

# Decoding
inference_config=conf/decode/decode_ctc0.5.yaml
inference_model=""      # default: valid.<first best_model_criterion>.ave.pth of each head's config
                        # (valid.acc.ave.pth for the CTC/attention Conformer)
inference_args=""
inference_tag=""        # default: the decode config's name
score_normalize=default # text normalisation before scoring: default (per-language rules of
                        # espnet_ext.text.normalize), lower (case only) or none

help_message="Usage: $0 [--stage N] [--stop_stage M] [--languages \"nl es\"] [--force true] ...
See the variables at the top of $0 for every option."

log "$0 $*"
. ./utils/parse_options.sh
. ./path.sh
. ./cmd.sh

# plan WHAT [ARG...]: rows of the run plan, or a step of a stage, from the options it reads (python -m
# espnet_ext.bin.recipe_plan --help); plan_rows ARRAY WHAT [ARG...]: the rows into ARRAY (a failed plan stops).
_plan=()
for _o in stage stop_stage force datadir expdir dumpdir nj seed seeds arm_seeds languages lang_data train_max_hours \
    degrade_config pretrain_configs pretrain_hours pretrain_set pretrain_valid_set pretrain_arms pretrain_lang \
    pretrain_text phone_mode probe_languages probe_num_utts probe_variants pr_updates token_type nbpe upstreams \
    feats_dtype feats_normalize asr_config asr_configs asr_tag encoder_frame_ms encoder_input inference_config \
    inference_model inference_tag inference_nj gpu_inference score_normalize; do _plan+=("--${_o}=${!_o}"); done
plan() { ${python} -m espnet_ext.bin.recipe_plan "$1" "${_plan[@]}" "${@:2}"; }
plan_rows() { local _out; _out=$(plan "${@:2}") || exit; mapfile -t "$1" < <([ -z "${_out}" ] || echo "${_out}"); }
# One Python start checks seeds, --lang_data, configs, (stages 5-10) upstreams, conditions and arms; then sets
# what the stages read (languages with --lang_data's, local_languages, conditions, inference_tag, ...).
plan_rows _settings check
for _row in "${_settings[@]}"; do printf -v "${_row%% *}" '%s' "${_row#* }"; done
_plan+=("--conditions=${conditions}")
plan_rows _pretrain_runs pretrain_runs  # "CONFIG HOURS ARM SEED TEXT DURATIONS EXP TRAIN_DIR UPSTREAM"
plan_rows _asr_runs asr_runs  # "UPSTREAM SEED ASR_CONFIG LANG EXP TRAIN_DIR DEV_DIR ..." (plan.AsrRun)
done_already() { [ "${force}" = false ] && [ -f "$1" ]; }  # the step of this marker is done, no --force
_force=(); [ "${force}" = true ] && _force=(--force)  # for the python steps that take --force

if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
    export XLING_STAGE=1
    log "Stage 1: data preparation (${local_languages}): local/data.sh ${local_data_opts} -> ${datadir}"
    # local/data.sh is idempotent itself (its preparers keep .done markers); then --lang_data, checks, caps, noise.
    local/data.sh --datadir "${datadir}" --languages "${local_languages}" ${local_data_opts}
    plan prepare_data
fi

if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ]; then
    export XLING_STAGE=2
    # Each language's token list not built yet; the phones, phone list and durations of the text runs.
    log "Stage 2: ${token_type} token lists: ${datadir}/train_<lang>/text -> ${datadir}/token_list"
    plan tokens
fi

# run_collect_stats STATS_DIR TRAIN_DIR VALID_DIR CMD...: ESPnet collect-stats (CMD: a training entry point and
# its options) over jobs the plan splits the sets into, merged into STATS_DIR/{train,valid}.
run_collect_stats() {
    local _logdir=$1/logdir _nj
    _nj=$(plan collect_stats_split "$2" "$3" "${_logdir}") || exit
    OMP_NUM_THREADS=1 ${train_cmd} JOB=1:"${_nj}" "${_logdir}/stats.JOB.log" "${@:4}" --collect_stats true \
        --train_shape_file "${_logdir}/train.JOB.scp" --valid_shape_file "${_logdir}/valid.JOB.scp" \
        --output_dir "${_logdir}/stats.JOB" \
        || { log "Error: collect stats failed; see ${_logdir}/stats.*.log"; exit 1; }
    ${python} -m espnet2.bin.aggregate_stats_dirs --output_dir "$1" \
        $(printf -- "--input_dir ${_logdir}/stats.%d " $(seq "${_nj}"))
}

# The job pool of stages 3-7: pool_each CMD ROW... runs CMD ROW for each row, ${train_jobs} at a time (CPU:
# nproc/train_jobs threads each), then fails if any failed (after the others finished: no finished work is lost).
_pool_pids=()
pooled() {
    if [ "${train_jobs}" -le 1 ]; then "$@"; return; fi
    local _pid _running=${train_jobs}
    while [ "${_running}" -ge "${train_jobs}" ]; do
        _running=0
        for _pid in "${_pool_pids[@]}"; do kill -0 "${_pid}" 2>/dev/null && _running=$((_running + 1)); done
        [ "${_running}" -lt "${train_jobs}" ] || sleep 2
    done
    _threads=$(( $(nproc) / train_jobs )); [ "${_threads}" -ge 1 ] || _threads=1
    ( [ "${ngpu}" -gt 0 ] || export OMP_NUM_THREADS=${_threads} MKL_NUM_THREADS=${_threads}; "$@" ) &
    _pool_pids+=($!)
}
pool_wait() {
    local _pid _failed=0
    for _pid in "${_pool_pids[@]}"; do wait "${_pid}" || _failed=$((_failed + 1)); done
    _pool_pids=()
    [ "${_failed}" -eq 0 ] || { log "Error: ${_failed} training job(s) failed (their errors are above)"; exit 1; }
}
pool_each() { local _row; for _row in "${@:2}"; do pooled $1 "${_row}"; done; pool_wait; }

# launch_train EXP_DIR SEED CMD...: ESPnet's launcher (CPU, --ngpu, multi-node), resumable (--force retrains
# from scratch); the job is named after EXP_DIR, which gets its .done at the end.
launch_train() {
    local _exp=$1 _seed=$2 _resume=true; shift 2; [ "${force}" = true ] && _resume=false; mkdir -p "${_exp}"
    ${python} -m espnet2.bin.launch --cmd "${cuda_cmd} --name $(basename "${_exp}")" --log "${_exp}/train.log" \
        --ngpu "${ngpu}" --num_nodes "${num_nodes}" --init_file_prefix "${_exp}/.dist_init_" \
        --multiprocessing_distributed true -- "$@" --resume "${_resume}" --seed "${_seed}" --output_dir "${_exp}" \
        || { log "Error: training failed; see ${_exp}/train.log"; exit 1; }
    touch "${_exp}/.done"
    log "Stage ${XLING_STAGE}: ${_exp} done"
}

# pretrain_one PRETRAIN_RUN: one pre-training run (stage 3), skipped when done (amount 0, the random-init
# control, has nothing to train: stage 4 builds it); the plan gives its options (--stats: of collect-stats).
pretrain_one() {
    local _cfg _h _s _exp _train _dev=${datadir}/${pretrain_valid_set} _opts
    read -r _cfg _h _ _s _ _ _exp _train _ <<< "${1}"; [ "${_h}" != 0 ] || return 0
    if done_already "${_exp}/.done"; then log "Stage 3: ${_exp} is trained, skipping"; return 0; fi
    if ! done_already "${_exp}/stats/.done"; then
        plan_rows _opts pretrain_args --run "${1}" --stats
        log "Stage 3: speech lengths: ${_train}, ${_dev} -> ${_exp}/stats"
        run_collect_stats "${_exp}/stats" "${_train}" "${_dev}" \
            ${python} -m espnet_ext.bin.pretrain_train "${_opts[@]}" ${pretrain_args}
        touch "${_exp}/stats/.done"
    fi
    plan_rows _opts pretrain_args --run "${1}"
    log "Stage 3: pre-training ${_cfg} on ${_train} -> ${_exp}"
    launch_train "${_exp}" "${_s}" ${python} -m espnet_ext.bin.pretrain_train "${_opts[@]}" ${pretrain_args}
}
if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ]; then
    export XLING_STAGE=3
    # Nested pool amounts first (one writer per subset dir), validated with the validation set once for all runs.
    plan pretrain_data
    pool_each pretrain_one "${_pretrain_runs[@]}"
fi

if [ ${stage} -le 4 ] && [ ${stop_stage} -ge 4 ]; then
    export XLING_STAGE=4
    # Each run's upstream, unless newer than the training (amount 0: than the config; the untrained model is built).
    log "Stage 4: s3prl upstreams of the pre-training runs: ${expdir}/pretrain_* -> ${expdir}/upstreams"
    pool_each "plan export --run" "${_pretrain_runs[@]}"
fi

# extract_one "UPSTREAM CACHE_ROOT": its feature caches on every set (stage 5); upstreams without one (fbank,
# fine-tuned) are skipped by the step, complete caches whose key (config + checkpoint + data) matches are reused.
extract_one() {
    local upstream _root; read -r upstream _root <<< "${1}"
    log "Stage 5: feature cache (${upstream}): ${languages} -> ${_root}"
    ${_extract_cmd} "${_root}/extract.log" ${python} -m espnet_ext.bin.extract_features --upstream "${upstream}" \
        "${_sets[@]}" --out_root "${_root}" --dtype "${feats_dtype}" --device "${_extract_device}" "${_force[@]}" \
        || { log "Error: feature extraction failed; see ${_root}/extract.log"; exit 1; }
}
if [ ${stage} -le 5 ] && [ ${stop_stage} -ge 5 ]; then
    export XLING_STAGE=5
    # Frozen upstreams run on a GPU when the recipe has one (else stage 5 is the slowest CPU step of a real run).
    _extract_device=cpu; _extract_cmd=${train_cmd}
    [ "${ngpu}" -eq 0 ] || { _extract_device=cuda; _extract_cmd="${cuda_cmd} --gpu 1"; }
    plan_rows _sets data_dirs --option=--data_dir train dev test  # "--data_dir", DIR per set
    plan_rows _rows upstreams  # "UPSTREAM CACHE_ROOT", given and pre-trained
    pool_each extract_one "${_rows[@]}"
fi

# asr_train_one ASR_RUN: collect stats and train one downstream ASR (stage 6), skipped when done (options: plan).
asr_train_one() {
    local upstream _s lang _exp _train _dev _opts _d
    read -r upstream _s _ lang _exp _train _dev _ <<< "${1}"
    if done_already "${_exp}/.done"; then log "Stage 6: ${_exp} is trained, skipping"; return 0; fi
    if ! done_already "${_exp}/stats/.done"; then
        plan_rows _opts asr_train_args --run "${1}" --stats
        log "Stage 6: collect stats: ${_train}, ${_dev} -> ${_exp}/stats"
        run_collect_stats "${_exp}/stats" "${_train}" "${_dev}" \
            ${python} -m espnet_ext.bin.asr_train "${_opts[@]}" ${asr_args}
        # ESPnet names text shape files by token type (asr.sh does the same rename).
        for _d in "${_exp}"/stats/{train,valid}; do mv "${_d}/text_shape" "${_d}/text_shape.${token_type}"; done
        fail_point collect_stats; touch "${_exp}/stats/.done"
    fi
    plan_rows _opts asr_train_args --run "${1}"
    log "Stage 6: ASR training (${upstream}, ${lang}): ${_train} -> ${_exp}"
    launch_train "${_exp}" "${_s}" ${python} -m espnet_ext.bin.asr_train "${_opts[@]}" ${asr_args}
}
if [ ${stage} -le 6 ] && [ ${stop_stage} -ge 6 ]; then
    export XLING_STAGE=6
    plan validate train dev  # every language's (capped) training set and dev set
    pool_each asr_train_one "${_asr_runs[@]}"
fi

# decode_lang ASR_RUN: decode its language's test sets (clean, each condition) not decoded yet (stage 7); the plan
# splits them into jobs, each one asr_inference for its sets (ESPnet's import costs more than a small set's decoding).
decode_lang() {
    local upstream lang _exp _dir _nj _model _todo
    read -r upstream _ _ lang _exp _ <<< "${1}"; _dir=${_exp}/${inference_tag}
    _todo=$(plan decode_prepare --run "${1}") || exit  # "NJ MODEL TEST_SET...", NJ 0: all decoded
    read -r _nj _model _todo <<< "${_todo}"; [ "${_nj}" -gt 0 ] || return 0
    log "Stage 7: decoding (${upstream}, ${lang}): ${_todo} with ${_exp}/${_model} -> ${_dir}"
    OMP_NUM_THREADS=1 ${decode_cmd} --gpu "${ngpu_inference}" JOB=1:"${_nj}" "${_dir}/logdir/asr_inference.JOB.log" \
        ${python} -m espnet_ext.bin.asr_inference --batch_size 1 --ngpu "${ngpu_inference}" --seed "${seed}" \
            --sets_file "${_dir}/logdir/sets.JOB" --asr_train_config "${_exp}/config.yaml" \
            --asr_model_file "${_exp}/${_model}" --config "${inference_config}" ${inference_args} \
        || { log "Error: decoding failed; see ${_dir}/logdir/asr_inference.*.log"; exit 1; }
    fail_point decoded
    plan decode_merge --run "${1}" --jobs "${_nj}" ${_todo}
}
if [ ${stage} -le 7 ] && [ ${stop_stage} -ge 7 ]; then
    export XLING_STAGE=7
    plan validate test  # every language's test sets
    # Decoding jobs share the --train_jobs pool (each is ${inference_nj} single-thread processes).
    pool_each decode_lang "${_asr_runs[@]}"
fi

if [ ${stage} -le 8 ] && [ ${stop_stage} -ge 8 ]; then
    export XLING_STAGE=8
    log "Stage 8: scoring: ${expdir}/asr_*/${inference_tag}/test_*/text -> <its dir>/score"
    plan score  # one process for every decoded test set not scored yet
fi

if [ ${stage} -le 9 ] && [ ${stop_stage} -ge 9 ]; then
    export XLING_STAGE=9
    # Rows "PROGRAM LANG OUT_ROOT SRC": phone_probe per --probe_languages, phone_recognition per language; each
    # process probes every upstream in turn (imports cost more than a probe), each probe with its .done.
    plan_rows _rows probes
    for _row in "${_rows[@]}"; do
        read -r _what lang _out _src <<< "${_row}"; plan_rows _args probe_args --what "${_what}" --lang "${lang}"
        log "Stage 9: ${_what//_/ } (${probe_upstreams}; ${lang}): ${_src} -> ${_out}/<upstream>/${lang}"
        ${python} -m espnet_ext.bin.${_what} "${_args[@]}" "${_force[@]}" \
            || { log "Error: ${_what//_/ } failed (${lang}; above)"; exit 1; }
    done
fi

if [ ${stage} -le 10 ] && [ ${stop_stage} -ge 10 ]; then
    export XLING_STAGE=10
    log "Stage 10: report: ${expdir}/{asr_*,probe,upstreams} -> ${expdir}/results"
    _compare=(); for _pair in ${report_compare}; do _compare+=(--compare "${_pair}"); done
    ${python} -m espnet_ext.bin.make_report --exp_dir "${expdir}" --out_dir "${expdir}/results" \
        --decode "${inference_tag}" --n_resamples "${bootstrap_resamples}" --seed "${seed}" \
        "${_compare[@]}" --title "Results: $(basename "$(cd ..; pwd)")/$(basename "$(pwd)")"
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
