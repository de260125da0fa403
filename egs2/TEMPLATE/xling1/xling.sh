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
#   7  decoding of every test set (clean and each --degrade_config condition) with ESPnet
#      asr_inference
#   8  scoring with jiwer: WER and CER per test set, per-utterance errors and alignments
#   9  linear phone-separability probe of every upstream, per layer, on --probe_languages; phone
#      recognition on real speech (a linear CTC head, PER) on every evaluation language
#  10  report: ${expdir}/results/RESULTS.md (tables with bootstrap CIs, significance of upstream
#      pairs), CSV/JSON of every number and PNG plots (python -m espnet_ext.bin.make_report)
# With --seeds "1 2 3", stages 3-8 run once per training seed (the probe of stage 9 uses the
# first seed's models); stage 10 reports mean and spread over the seeds.
# An upstream is a name in conf/upstream/ (fbank = ESPnet's default frontend; any s3prl
# upstream with a local checkpoint) or one pre-trained by stages 3-4 (xling_<config>_<hours>h).
# The downstream config is the same for all of them: only the input changes
# (python -m espnet_ext.bin.upstream_asr_args prints those arguments).
#
# Every stage logs "Stage N: what: src -> dst", is idempotent (a finished step leaves a .done
# marker, written last, and is skipped on rerun; --force true redoes it) and resumes after a
# kill (ESPnet training resumes from its last checkpoint). Jobs go through ${train_cmd},
# ${cuda_cmd} and ${decode_cmd} from cmd.sh (run.pl locally, slurm.pl on a cluster); multi-GPU
# and multi-node training is ESPnet's own launcher (--ngpu, --num_nodes).
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}
min() { echo $(( $1 < $2 ? $1 : $2 )); }
# fail_point NAME: the shell twin of espnet_ext/faults.py (crash tests only): with
# XLING_FAIL_AT=<stage>:NAME, the whole recipe dies here as under kill -9.
fail_point() {
    [ "${XLING_FAIL_AT:-}" = "${XLING_STAGE:-}:${1}" ] || return 0
    echo "xling: injected failure at ${XLING_FAIL_AT} (pid $$)" >&2
    kill -9 0
}

# General
stage=1
stop_stage=10000
force=false             # redo steps whose .done marker exists
ngpu=0                  # GPUs per node for training (0: CPU)
num_nodes=1             # nodes for distributed training (ESPnet launcher)
nj=2                    # parallel jobs for data processing
inference_nj=2          # parallel decoding jobs
train_jobs=1            # jobs at once in stages 3-7 (pre-training, export, feature caches, ASR
                        # training, decoding); on CPU each gets nproc/train_jobs threads (2 jobs
                        # of 1 thread beat 1 job of 2 threads)
gpu_inference=false
python=python3
seed=1                  # seed of data selection, noise, probes and bootstrap, and the main
                        # training seed (exp dir names without a _seed suffix)
seeds=""                # training seeds, e.g. "1 2 3": pre-training and downstream ASR (then
                        # decoding and scoring) once per seed, dirs of seeds other than --seed
                        # suffixed _seed<S>; the report gives mean, spread over seeds and
                        # intervals over seeds and utterances together. "" = --seed only

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
asr_configs=""          # several downstream heads, e.g. "conf/asr/train_asr_conformer.yaml
                        # conf/asr/train_asr_ctc_head.yaml": each trains and decodes as its own run;
                        # the first is the main head (exp dirs as with --asr_config), the others add
                        # _<config name> to the dir; column "head" of the results; "" = --asr_config
asr_args=""             # extra arguments for asr_train
asr_tag=""              # suffix of the exp dir name
feats_normalize=global_mvn  # global_mvn (stats from collect-stats), utterance_mvn or none
encoder_frame_ms=40     # every upstream reaches the encoder at this frame rate: the encoder's
                        # input_layer is chosen from the upstream's frame shift (conv2d for 10 ms,
                        # conv2d2 for 20 ms); "" keeps the ASR config's input_layer for all

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

# Fail fast: options that would otherwise fail only after minutes of work.
[ "${stage}" -ge 1 ] && [ "${stage}" -le 10 ] || { log "Error: --stage ${stage}: the stages are 1-10"; exit 2; }
[ "${stage}" -le "${stop_stage}" ] || { log "Error: --stage ${stage} is after --stop_stage ${stop_stage}: nothing to run"; exit 2; }
[ -n "${inference_tag}" ] || inference_tag=$(basename "${inference_config}" .yaml)
[ -n "${seeds}" ] || seeds=${seed}
for _s in ${seed} ${seeds}; do
    [[ "${_s}" =~ ^[0-9]+$ ]] || { log "Error: --seed/--seeds value '${_s}' is not a non-negative integer"; exit 2; }
done
first_seed=${seeds%% *}
# Dir-name suffix of a training seed: none for --seed (a single-seed run names nothing).
seed_suffix() { [ "${1}" = "${seed}" ] || echo "_seed${1}"; }
# The languages local/data.sh builds: the evaluation and probe languages that --lang_data does not
# give, and the pre-training language (its pool, validation set and text).
_lang_data_codes=" "
for _entry in ${lang_data}; do _lang_data_codes+="${_entry%%=*} "; done
local_languages=""
for lang in ${pretrain_lang} ${languages} ${probe_languages}; do
    [[ "${_lang_data_codes}" == *" ${lang} "* || " ${local_languages} " == *" ${lang} "* ]] \
        || local_languages+="${local_languages:+ }${lang}"
done
for _entry in ${lang_data}; do
    [[ "${_entry}" =~ ^[a-z][a-z0-9_-]*=[a-z_]+:.+$ ]] || {
        log "Error: --lang_data entry '${_entry}' is not CODE=KIND:PATH (e.g. sw=fleurs:/data/fleurs/sw_ke)"; exit 2; }
    [[ " ${languages} " == *" ${_entry%%=*} "* ]] || languages+=" ${_entry%%=*}"
    # Only stage 1 reads PATH, and only after local/data.sh's corpora are built.
    if [ "${stage}" -le 1 ] && [ ! -e "${_entry#*:}" ]; then
        log "Error: --lang_data entry '${_entry}': ${_entry#*:} does not exist"; exit 2
    fi
done
[ -n "${asr_configs}" ] || asr_configs=${asr_config}
# Every config file exists and is a YAML mapping, and (when stages 5-10 run) every --upstreams
# entry loads: one Python start for all of them.
_check=(--inference_config "${inference_config}")
for _cfg in ${asr_configs}; do _check+=(--asr_config "${_cfg}"); done
for _entry in ${pretrain_configs}; do _check+=(--pretrain_config "${_entry%%:*}"); done
[ -z "${degrade_config}" ] || _check+=(--degrade_config "${degrade_config}")
if [ "${stop_stage}" -ge 5 ]; then
    for _u in ${upstreams}; do _check+=(--upstream "${_u}"); done
fi
${python} -m espnet_ext.bin.check_options "${_check[@]}" || exit 2
main_head=$(basename "${asr_configs%% *}" .yaml)
# head_suffix ASR_CONFIG: none for the main head, _<config name> for the others.
head_suffix() { local _h; _h=$(basename "${1}" .yaml); [ "${_h}" = "${main_head}" ] || echo "_${_h}"; }
# inference_model_of ASR_CONFIG: --inference_model, else what the config's model selection averages.
inference_model_of() {
    [ -z "${inference_model}" ] || { echo "${inference_model}"; return; }
    ${python} -c 'import sys, yaml
c = (yaml.safe_load(open(sys.argv[1])) or {}).get("best_model_criterion") or [["valid", "acc", "max"]]
print(f"{c[0][0]}.{c[0][1]}.ave.pth")' "${1}"
}
_ngpu_inf=0; [ "${gpu_inference}" = true ] && _ngpu_inf=1
conditions=""
if [ -n "${degrade_config}" ]; then
    conditions=$(${python} -m espnet_ext.bin.make_degraded_sets --config "${degrade_config}" --list | tr '\n' ' ') \
        || { log "Error: bad --degrade_config ${degrade_config} (above)"; exit 2; }
fi
# The test sets of a language: the clean one, then one per degraded condition.
test_sets_of() {
    local _c; echo -n "test_${1}"
    for _c in ${conditions}; do echo -n " test_${1}_${_c}"; done
}

# done MARKER: true if the step behind MARKER is finished and --force is not set.
done_already() { [ "${force}" = false ] && [ -f "$1" ]; }
_force=(); [ "${force}" = true ] && _force=(--force)  # for the python steps that take --force

validate() {  # validate [--no_audio] dir...: every stage that consumes data checks it first
    ${python} -m espnet_ext.bin.validate_data_dir "$@"
}

# The training set of a language: the full one, or its capped subset.
train_set_of() { echo "${datadir}/train_${1}${train_max_hours:+_max${train_max_hours}h}"; }

# Pre-training runs: one per (config, amount, arm); each becomes the upstream
# xling_<config>[_twin|_paired]_<h>h. A text config's arms (--pretrain_arms) read the same
# config and data with some text loss weights 0, so their speech batches are identical.
pretrain_tag_of() {
    local _arm=""; [ "${3:-main}" = main ] || _arm=_${3}
    echo "$(basename "${1}" .yaml)${_arm}_${2}h$(seed_suffix "${4}")"
}
pretrain_data_of() {
    if [ "${1}" = all ]; then echo "${datadir}/${pretrain_set}"
    else echo "${datadir}/${pretrain_set}_${1}h"; fi
}
# One "CONFIG HOURS ARM SEED TEXT DURATIONS" line per pre-training run (ARM: main, twin or
# paired; amount 0, the random-init control, is main only; TEXT: it reads phones; DURATIONS: it
# needs espeak-ng's phone durations), planned from the table of pre-training families.
mapfile -t _pretrain_runs < <(${python} -m espnet_ext.bin.pretrain_runs --configs "${pretrain_configs}" \
    --hours "${pretrain_hours}" --arms "${pretrain_arms}" --seeds "${seeds}"; echo "rc=$?")
[ "${_pretrain_runs[-1]}" = rc=0 ] || exit 2
unset '_pretrain_runs[-1]'
pretrained_upstreams=""
_any_text=false
# One "UPSTREAM SEED ASR_CONFIG" line per downstream training per language (stages 6-8): every
# upstream with every seed and head, a pre-trained one with the model of its own seed.
_asr_runs=()
for _s in ${seeds}; do for upstream in ${upstreams}; do for _head in ${asr_configs}; do
    _asr_runs+=("${upstream} ${_s} ${_head}")
done; done; done
probe_upstreams=${upstreams}
for _run in "${_pretrain_runs[@]}"; do
    read -r _cfg _h _arm _s _text _ <<< "${_run}"
    _yaml=${expdir}/upstreams/xling_$(pretrain_tag_of "${_cfg}" "${_h}" "${_arm}" "${_s}").yaml
    pretrained_upstreams+=" ${_yaml}"
    for _head in ${asr_configs}; do _asr_runs+=("${_yaml} ${_s} ${_head}"); done
    [ "${_s}" = "${first_seed}" ] && probe_upstreams+=" ${_yaml}"
    [ "${_text}" = true ] && [ "${_h}" != 0 ] && _any_text=true
done
all_upstreams="${upstreams}${pretrained_upstreams}"
phone_token_list=${datadir}/token_list/${pretrain_lang}_phones_${phone_mode}/tokens.txt
phone_durations=${phone_token_list%/*}/durations.json  # espeak-ng's phone durations (mpc text arm)

if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
    export XLING_STAGE=1
    log "Stage 1: data preparation (${local_languages}): local/data.sh ${local_data_opts} -> ${datadir}"
    # local/data.sh is idempotent itself (its preparers keep .done markers with their options).
    # shellcheck disable=SC2086
    local/data.sh --datadir "${datadir}" --languages "${local_languages}" ${local_data_opts}
    for _entry in ${lang_data}; do
        _code=${_entry%%=*}; _kind=${_entry#*=}; _kind=${_kind%%:*}; _path=${_entry#*:}
        log "Stage 1: ${_kind} data of '${_code}': ${_path} -> ${datadir}/{train,dev,test}_${_code}"
        ${python} -m espnet_ext.bin.prepare_corpus --corpus "${_kind}" --root "${_path}" \
            --lang "${_code}" --out_dir "${datadir}" --nj "${nj}" "${_force[@]}"
    done
    for lang in ${languages}; do
        validate "${datadir}/train_${lang}" "${datadir}/dev_${lang}" "${datadir}/test_${lang}"
        if [ -n "${train_max_hours}" ]; then
            log "Stage 1: cap training set: ${datadir}/train_${lang} -> $(train_set_of "${lang}")"
            ${python} -m espnet_ext.bin.subset_data_dir --max_hours "${train_max_hours}" \
                --seed "${seed}" "${datadir}/train_${lang}" "$(train_set_of "${lang}")"
        fi
    done
    if [ -n "${conditions}" ]; then
        for lang in ${languages}; do
            # Babble is other-language speech: the other languages' training sets and the
            # pre-training validation set (never the test set's own language).
            _babble=()
            for _other in ${languages}; do
                [ "${_other}" = "${lang}" ] || _babble+=(--babble_source "${datadir}/train_${_other}")
            done
            [ "${pretrain_lang}" = "${lang}" ] || _babble+=(--babble_source "${datadir}/${pretrain_valid_set}")
            log "Stage 1: degraded test sets (${conditions% }): ${datadir}/test_${lang} -> ${datadir}/test_${lang}_<condition>"
            ${python} -m espnet_ext.bin.make_degraded_sets --config "${degrade_config}" \
                --data_dir "${datadir}/test_${lang}" --out_prefix "${datadir}/test_${lang}" \
                "${_babble[@]}" --seed "${seed}" --nj "${nj}" "${_force[@]}"
        done
    fi
fi

_cap=${train_max_hours:+_max${train_max_hours}h}
token_dir() { echo "${datadir}/token_list/${1}${_cap}_${token_type}"; }

if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ]; then
    export XLING_STAGE=2
    for lang in ${languages}; do
        _tdir=$(token_dir "${lang}")
        if done_already "${_tdir}/.done"; then
            log "Stage 2: ${_tdir} exists, skipping"
            continue
        fi
        _train=$(train_set_of "${lang}")
        log "Stage 2: ${token_type} token list: ${_train}/text -> ${_tdir}"
        validate --no_audio "${_train}"
        ${python} -m espnet_ext.bin.make_token_list --text "${_train}/text" \
            --out_dir "${_tdir}" --token_type "${token_type}" --nbpe "${nbpe}"
        fail_point token_list
        touch "${_tdir}/.done"
    done
    if [ "${_any_text}" = true ]; then
        # Phones of every pool/valid utterance's transcript and of unpaired corpus sentences,
        # one phone list for every text run, and espeak-ng's phone durations (idempotent: the
        # step keeps its own markers).
        log "Stage 2: ${phone_mode} phones: ${datadir}/${pretrain_set}, ${datadir}/${pretrain_valid_set} -> ${phone_token_list}, ${phone_durations}"
        ${python} -m espnet_ext.bin.prepare_phones --lang "${pretrain_lang}" --mode "${phone_mode}" \
            --data_dir "${datadir}/${pretrain_set}" --data_dir "${datadir}/${pretrain_valid_set}" \
            --corpus "${datadir}/${pretrain_text}" --token_list "${phone_token_list}" --seed "${seed}" \
            --durations "${phone_durations}"
    fi
fi

# An upstream is a conf/upstream name or a YAML path; its tag (file stem) names dirs and rows.
upstream_tag() { basename "${1}" .yaml; }
cache_root_of() { echo "${dumpdir}/feats/$(upstream_tag "${1}")"; }


# run_collect_stats STATS_DIR TRAIN_DIR VALID_DIR CMD...: ESPnet collect-stats over ${nj} jobs
# (CMD is a training entry point with its data options), merged into STATS_DIR/{train,valid}.
run_collect_stats() {
    local _stats=$1 _train=$2 _valid=$3; shift 3
    local _logdir=${_stats}/logdir _nj _inputs="" i
    mkdir -p "${_logdir}"
    # A job per 200 utterances at most: each pays ESPnet's import (~10 s), more than the
    # statistics of a small set take.
    _nj=$(min "${nj}" $(( ($(wc -l < "${_train}/wav.scp") + 199) / 200 )))
    ${python} -m espnet_ext.bin.split_keys --num_splits "${_nj}" \
        "${_train}/wav.scp" "${_logdir}/train" "${_valid}/wav.scp" "${_logdir}/valid"
    OMP_NUM_THREADS=1 ${train_cmd} JOB=1:"${_nj}" "${_logdir}/stats.JOB.log" \
        "$@" --collect_stats true \
            --train_shape_file "${_logdir}/train.JOB.scp" \
            --valid_shape_file "${_logdir}/valid.JOB.scp" \
            --output_dir "${_logdir}/stats.JOB" \
        || { log "Error: collect stats failed; see ${_logdir}/stats.*.log"; exit 1; }
    for i in $(seq "${_nj}"); do _inputs+=" --input_dir ${_logdir}/stats.${i}"; done
    # shellcheck disable=SC2086
    ${python} -m espnet2.bin.aggregate_stats_dirs ${_inputs} --output_dir "${_stats}"
}

# A small job pool for stages 3-7: pooled CMD... runs CMD in the background once fewer than
# ${train_jobs} pooled jobs run; pool_wait waits for all of them and fails if any failed (each
# job's own error is in its log; the others finish first, so no finished work is lost).
_pool_pids=()
pooled() {
    if [ "${train_jobs}" -le 1 ]; then "$@"; return; fi
    local _pid _running
    while true; do
        _running=0
        for _pid in "${_pool_pids[@]}"; do kill -0 "${_pid}" 2>/dev/null && _running=$((_running + 1)); done
        [ "${_running}" -lt "${train_jobs}" ] && break
        sleep 2
    done
    ( if [ "${ngpu}" -eq 0 ]; then
          _threads=$(( $(nproc) / train_jobs )); [ "${_threads}" -ge 1 ] || _threads=1
          export OMP_NUM_THREADS=${_threads} MKL_NUM_THREADS=${_threads}
      fi
      "$@" ) &
    _pool_pids+=($!)
}
pool_wait() {
    local _pid _failed=0
    for _pid in "${_pool_pids[@]}"; do wait "${_pid}" || _failed=$((_failed + 1)); done
    _pool_pids=()
    [ "${_failed}" -eq 0 ] || { log "Error: ${_failed} training job(s) failed (their errors are above)"; exit 1; }
}

# launch_train EXP_DIR JOB_NAME SEED CMD...: ESPnet's launcher (CPU, --ngpu, multi-node), resumable.
launch_train() {
    local _exp=$1 _name=$2 _seed=$3; shift 3
    local _resume=true
    [ "${force}" = true ] && _resume=false  # --force retrains from scratch
    mkdir -p "${_exp}"
    ${python} -m espnet2.bin.launch \
        --cmd "${cuda_cmd} --name ${_name}" \
        --log "${_exp}/train.log" \
        --ngpu "${ngpu}" \
        --num_nodes "${num_nodes}" \
        --init_file_prefix "${_exp}/.dist_init_" \
        --multiprocessing_distributed true -- \
        "$@" --resume "${_resume}" --seed "${_seed}" --output_dir "${_exp}" \
        || { log "Error: training failed; see ${_exp}/train.log"; exit 1; }
}

# pretrain_one "CONFIG HOURS ARM SEED TEXT DURATIONS": one pre-training run (stage 3), skipped when done.
pretrain_one() {
    local _cfg _h _arm _s _text _durations _tag _pt_exp _train _dev _stats _split _d
    read -r _cfg _h _arm _s _text _durations <<< "${1}"
    [ "${_h}" = 0 ] && return 0  # the random-init control: nothing to train (stage 4 builds it)
    _tag=$(pretrain_tag_of "${_cfg}" "${_h}" "${_arm}" "${_s}")
    _pt_exp=${expdir}/pretrain_${_tag}
    _train=$(pretrain_data_of "${_h}")
    _dev=${datadir}/${pretrain_valid_set}
    if done_already "${_pt_exp}/.done"; then
        log "Stage 3: ${_pt_exp} is trained, skipping"
        return 0
    fi
    local _data_opts=(
        --train_data_path_and_name_and_type "${_train}/wav.scp,speech,sound"
        --valid_data_path_and_name_and_type "${_dev}/wav.scp,speech,sound"
    )
    if [ "${_text}" = true ]; then
        [ -f "${_train}/phones" ] || { log "Error: ${_train}/phones missing: run stage 2"; exit 2; }
        # Every arm reads the same data (the twin ignores the text), so their speech batches
        # are identical; an arm only sets text loss weights to 0.
        for _split in train valid; do
            _d=${_train}; [ "${_split}" = valid ] && _d=${_dev}
            _data_opts+=(--${_split}_data_path_and_name_and_type "${_d}/phones,text,text"
                         --${_split}_data_path_and_name_and_type "${_d}/unpaired_phones,unpaired,text")
        done
        _data_opts+=(--model_conf "phone_list=${phone_token_list}")
        [ "${_durations}" = true ] && _data_opts+=(--model_conf "phone_durations=${phone_durations}")
        case "${_arm}" in
            twin) _data_opts+=(--model_conf text_weight=0.0 --model_conf paired_weight=0.0) ;;
            paired) _data_opts+=(--model_conf text_weight=0.0) ;;
        esac
    fi
    _stats=${_pt_exp}/stats
    if ! done_already "${_stats}/.done"; then
        log "Stage 3: speech lengths: ${_train}, ${_dev} -> ${_stats}"
        # shellcheck disable=SC2086
        run_collect_stats "${_stats}" "${_train}" "${_dev}" \
            ${python} -m espnet_ext.bin.pretrain_train "${_data_opts[@]}" \
                --config "${_cfg}" ${pretrain_args}
        touch "${_stats}/.done"
    fi
    log "Stage 3: pre-training ${_cfg} on ${_train} -> ${_pt_exp}"
    # shellcheck disable=SC2086
    launch_train "${_pt_exp}" "pretrain_${_tag}" "${_s}" \
        ${python} -m espnet_ext.bin.pretrain_train "${_data_opts[@]}" \
            --train_shape_file "${_stats}/train/speech_shape" \
            --valid_shape_file "${_stats}/valid/speech_shape" \
            --use_tensorboard true \
            --config "${_cfg}" ${pretrain_args}
    touch "${_pt_exp}/.done"
    log "Stage 3: ${_pt_exp} done"
}

if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ]; then
    export XLING_STAGE=3
    # Nested amounts first (one writer per subset dir, even when runs share an amount).
    for _h in $(for _run in "${_pretrain_runs[@]}"; do echo "${_run}" | cut -d' ' -f2; done | sort -u); do
        [ "${_h}" = all ] || [ "${_h}" = 0 ] && continue
        log "Stage 3: nested ${_h} h of ${datadir}/${pretrain_set} -> $(pretrain_data_of "${_h}")"
        ${python} -m espnet_ext.bin.subset_data_dir --max_hours "${_h}" --seed "${seed}" \
            "${datadir}/${pretrain_set}" "$(pretrain_data_of "${_h}")"
    done
    # Every pool amount and the validation set, checked once for all runs.
    _dirs=("${datadir}/${pretrain_valid_set}")
    for _run in "${_pretrain_runs[@]}"; do
        _h=$(echo "${_run}" | cut -d' ' -f2); [ "${_h}" = 0 ] && continue
        _d=$(pretrain_data_of "${_h}")
        [[ " ${_dirs[*]} " == *" ${_d} "* ]] || _dirs+=("${_d}")
    done
    [ ${#_pretrain_runs[@]} -eq 0 ] || validate "${_dirs[@]}"
    for _run in "${_pretrain_runs[@]}"; do
        pooled pretrain_one "${_run}"
    done
    pool_wait
fi

# export_one "CONFIG HOURS ARM SEED ...": export one pre-trained model (stage 4), skipped when its
# upstream is newer than the training (amount 0: than the config; the untrained model is built
# here).
export_one() {
    local _cfg _h _arm _s _tag _pt_exp _out _trained _what=()
    read -r _cfg _h _arm _s _ <<< "${1}"
    _tag=$(pretrain_tag_of "${_cfg}" "${_h}" "${_arm}" "${_s}")
    _pt_exp=${expdir}/pretrain_${_tag}
    _out=${expdir}/upstreams/xling_${_tag}
    _trained=${_pt_exp}/.done
    if [ "${_h}" = 0 ]; then
        _trained=${_cfg}
        _what=(--random_init "${_cfg}" --seed "${_s}" --info "pretrain_hours=0"
               --info "variant=random_init")
    else
        _what=(--info "pretrain_hours=${_h}" --info "pretrain_data=$(pretrain_data_of "${_h}")"
               --info "variant=${_arm}")
    fi
    if done_already "${_out}.yaml" && [ "${_out}.yaml" -nt "${_trained}" ]; then
        log "Stage 4: ${_out}.yaml exists, skipping"
        return 0
    fi
    [ -f "${_trained}" ] || { log "Error: ${_pt_exp} is not trained: run stage 3"; exit 2; }
    log "Stage 4: export ${_pt_exp} -> ${_out}.{pt,yaml}"
    ${python} -m espnet_ext.bin.export_upstream --exp_dir "${_pt_exp}" \
        --out_ckpt "${_out}.pt" --out_yaml "${_out}.yaml" "${_what[@]}" \
        --info "pretrain_config=${_cfg}" --info "seed=${_s}" \
        || { log "Error: export of ${_pt_exp} failed (above)"; exit 1; }
}

if [ ${stage} -le 4 ] && [ ${stop_stage} -ge 4 ]; then
    export XLING_STAGE=4
    for _run in "${_pretrain_runs[@]}"; do
        pooled export_one "${_run}"
    done
    pool_wait
fi

# extract_one UPSTREAM: the feature caches of one upstream on every set (stage 5). Upstreams
# without a cache (fbank, fine-tuned ones) are skipped by the step itself; complete caches whose
# key (config + checkpoint + data) matches are reused.
extract_one() {
    local upstream=$1 _sets=() _test lang _root
    _root=$(cache_root_of "${upstream}")
    for lang in ${languages}; do
        _sets+=(--data_dir "$(train_set_of "${lang}")" --data_dir "${datadir}/dev_${lang}")
        for _test in $(test_sets_of "${lang}"); do _sets+=(--data_dir "${datadir}/${_test}"); done
    done
    log "Stage 5: feature cache (${upstream}): ${languages} -> ${_root}"
    # shellcheck disable=SC2086
    ${_extract_cmd} "${_root}/extract.log" \
        ${python} -m espnet_ext.bin.extract_features --upstream "${upstream}" \
            "${_sets[@]}" --out_root "${_root}" \
            --dtype "${feats_dtype}" --device "${_extract_device}" "${_force[@]}" \
        || { log "Error: feature extraction failed; see ${_root}/extract.log"; exit 1; }
}

if [ ${stage} -le 5 ] && [ ${stop_stage} -ge 5 ]; then
    export XLING_STAGE=5
    # Frozen upstreams run on a GPU when the recipe has one (stage 5 is otherwise the slowest
    # CPU step of a real-size run).
    _extract_device=cpu; _extract_cmd=${train_cmd}
    if [ "${ngpu}" -gt 0 ]; then _extract_device=cuda; _extract_cmd="${cuda_cmd} --gpu 1"; fi
    for upstream in ${all_upstreams}; do
        pooled extract_one "${upstream}"
    done
    pool_wait
fi

# The upstream's tag without its seed suffix: names rows, so that seeds of one upstream group.
base_tag_of() { local _t; _t=$(upstream_tag "${1}"); echo "${_t%"$(seed_suffix "${2}")"}"; }
# asr_exp_of UPSTREAM LANG SEED ASR_CONFIG
asr_exp_of() { echo "${expdir}/asr_$(base_tag_of "${1}" "${3}")_${2}${_cap}${asr_tag:+_${asr_tag}}$(head_suffix "${4}")$(seed_suffix "${3}")"; }

# asr_train_one UPSTREAM LANG SEED ASR_CONFIG: collect stats and train one downstream ASR
# (stage 6), skipped when done.
asr_train_one() {
    local upstream=$1 lang=$2 _seed=$3 _cfg=$4 _train _dev _tdir _asr_exp _stats _in_opts _s
    local _tok_opts _data_opts _norm_opts
    _train=$(train_set_of "${lang}")
    _dev=${datadir}/dev_${lang}
    _tdir=$(token_dir "${lang}")
    _asr_exp=$(asr_exp_of "${upstream}" "${lang}" "${_seed}" "${_cfg}")
    _stats=${_asr_exp}/stats
    _tok_opts=(--token_type "${token_type}" --token_list "${_tdir}/tokens.txt")
    [ "${token_type}" = bpe ] && _tok_opts+=(--bpemodel "${_tdir}/bpe.model")
    if done_already "${_asr_exp}/.done"; then
        log "Stage 6: ${_asr_exp} is trained, skipping"
        return 0
    fi
    [ -f "${_tdir}/tokens.txt" ] || { log "Error: ${_tdir}/tokens.txt missing: run stage 2"; exit 2; }
    # Input side of this upstream (frontend, speech data, its fold length), then the text.
    mapfile -t _in_opts < <(${python} -m espnet_ext.bin.upstream_asr_args \
        --upstream "${upstream}" --cache_root "$(cache_root_of "${upstream}")" \
        --dtype "${feats_dtype}" --train "${_train}" --valid "${_dev}" \
        --encoder_frame_ms "${encoder_frame_ms}") \
        && [ ${#_in_opts[@]} -gt 0 ] || { log "Error: upstream '${upstream}' cannot be used (above)"; exit 2; }
    _data_opts=("${_in_opts[@]}"
        --train_data_path_and_name_and_type "${_train}/text,text,text"
        --valid_data_path_and_name_and_type "${_dev}/text,text,text"
        --fold_length 150
    )

    if ! done_already "${_stats}/.done"; then
        log "Stage 6: collect stats: ${_train}, ${_dev} -> ${_stats}"
        # shellcheck disable=SC2086
        run_collect_stats "${_stats}" "${_train}" "${_dev}" \
            ${python} -m espnet_ext.bin.asr_train --use_preprocessor true \
                "${_tok_opts[@]}" "${_data_opts[@]}" --config "${_cfg}" ${asr_args}
        # ESPnet names text shape files by token type (asr.sh does the same rename).
        for _s in train valid; do
            mv "${_stats}/${_s}/text_shape" "${_stats}/${_s}/text_shape.${token_type}"
        done
        fail_point collect_stats
        touch "${_stats}/.done"
    fi

    _norm_opts=(--normalize "${feats_normalize}")
    [ "${feats_normalize}" = global_mvn ] && \
        _norm_opts+=(--normalize_conf "stats_file=${_stats}/train/feats_stats.npz")
    log "Stage 6: ASR training (${upstream}, ${lang}): ${_train} -> ${_asr_exp}"
    # shellcheck disable=SC2086
    launch_train "${_asr_exp}" "$(basename "${_asr_exp}")" "${_seed}" \
        ${python} -m espnet_ext.bin.asr_train \
            --use_preprocessor true \
            "${_tok_opts[@]}" "${_data_opts[@]}" \
            --train_shape_file "${_stats}/train/speech_shape" \
            --train_shape_file "${_stats}/train/text_shape.${token_type}" \
            --valid_shape_file "${_stats}/valid/speech_shape" \
            --valid_shape_file "${_stats}/valid/text_shape.${token_type}" \
            "${_norm_opts[@]}" \
            --use_tensorboard false \
            --config "${_cfg}" ${asr_args}
    touch "${_asr_exp}/.done"
    log "Stage 6: ${_asr_exp} done"
}

if [ ${stage} -le 6 ] && [ ${stop_stage} -ge 6 ]; then
    export XLING_STAGE=6
    _dirs=()
    for lang in ${languages}; do _dirs+=("$(train_set_of "${lang}")" "${datadir}/dev_${lang}"); done
    [ ${#_dirs[@]} -eq 0 ] || validate "${_dirs[@]}"
    for _run in "${_asr_runs[@]}"; do
        read -r upstream _s _cfg <<< "${_run}"
        for lang in ${languages}; do
            pooled asr_train_one "${upstream}" "${lang}" "${_s}" "${_cfg}"
        done
    done
    pool_wait
fi

# decode_lang UPSTREAM LANG SEED ASR_CONFIG: decode every test set of LANG (clean and each
# condition) not yet decoded with the ASR of (UPSTREAM, LANG, head) (stage 7). One asr_inference
# process per job decodes all of them in turn (--sets_file): ESPnet's import costs more than a
# small test set's decoding.
decode_lang() {
    local upstream=$1 lang=$2 _seed=$3 _cfg=$4 _asr_exp _decode_dir _todo=() _test_name _test _dir
    local _logdir _nj _in_opts _input _model i j
    _asr_exp=$(asr_exp_of "${upstream}" "${lang}" "${_seed}" "${_cfg}")
    _decode_dir=${_asr_exp}/${inference_tag}
    for _test_name in $(test_sets_of "${lang}"); do
        if done_already "${_decode_dir}/${_test_name}/.done"; then
            log "Stage 7: ${_decode_dir}/${_test_name} exists, skipping"
        else
            _todo+=("${_test_name}")
        fi
    done
    [ ${#_todo[@]} -gt 0 ] || return 0
    _model=$(inference_model_of "${_cfg}")
    [ -f "${_asr_exp}/${_model}" ] || {
        log "Error: ${_asr_exp}/${_model} missing: run stage 6"; exit 2; }
    _nj=${inference_nj}
    for _test_name in "${_todo[@]}"; do
        _nj=$(min "${_nj}" "$(wc -l < "${datadir}/${_test_name}/wav.scp")")
    done
    mkdir -p "${_decode_dir}/logdir"
    rm -f "${_decode_dir}"/logdir/sets.*
    # Two lines per test set, in the order of _todo: the option name and the speech input.
    mapfile -t _in_opts < <(${python} -m espnet_ext.bin.upstream_asr_args \
        --upstream "${upstream}" --cache_root "$(cache_root_of "${upstream}")" \
        --dtype "${feats_dtype}" "${_todo[@]/#/--test=${datadir}/}") \
        && [ ${#_in_opts[@]} -eq $(( 2 * ${#_todo[@]} )) ] \
        || { log "Error: upstream '${upstream}' cannot be used (above)"; exit 2; }
    for i in "${!_todo[@]}"; do
        _test=${datadir}/${_todo[${i}]}
        _logdir=${_decode_dir}/${_todo[${i}]}/logdir
        _input=${_in_opts[$(( 2 * i + 1 ))]}
        rm -rf "${_logdir}"; mkdir -p "${_logdir}"
        ${python} -m espnet_ext.bin.split_keys --num_splits "${_nj}" "${_test}/wav.scp" "${_logdir}/keys"
        for j in $(seq "${_nj}"); do
            echo "${_logdir}/output.${j} ${_logdir}/keys.${j}.scp ${_input}" >> "${_decode_dir}/logdir/sets.${j}"
        done
    done
    log "Stage 7: decoding (${upstream}, ${lang}): ${_todo[*]} with ${_asr_exp}/${_model} -> ${_decode_dir}"
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 ${decode_cmd} --gpu "${_ngpu_inf}" JOB=1:"${_nj}" "${_decode_dir}/logdir/asr_inference.JOB.log" \
        ${python} -m espnet_ext.bin.asr_inference \
            --batch_size 1 \
            --ngpu "${_ngpu_inf}" \
            --seed "${seed}" \
            --sets_file "${_decode_dir}/logdir/sets.JOB" \
            --asr_train_config "${_asr_exp}/config.yaml" \
            --asr_model_file "${_asr_exp}/${_model}" \
            --config "${inference_config}" ${inference_args} \
        || { log "Error: decoding failed; see ${_decode_dir}/logdir/asr_inference.*.log"; exit 1; }
    fail_point decoded
    for _test_name in "${_todo[@]}"; do
        _dir=${_decode_dir}/${_test_name}
        for i in $(seq "${_nj}"); do
            cat "${_dir}/logdir/output.${i}/1best_recog/text"
        done | LC_ALL=C sort -k1,1 > "${_dir}/text.tmp"
        mv "${_dir}/text.tmp" "${_dir}/text"
        touch "${_dir}/.done"
    done
}

if [ ${stage} -le 7 ] && [ ${stop_stage} -ge 7 ]; then
    export XLING_STAGE=7
    _dirs=()
    for lang in ${languages}; do
        for _test in $(test_sets_of "${lang}"); do _dirs+=("${datadir}/${_test}"); done
    done
    [ ${#_dirs[@]} -eq 0 ] || validate "${_dirs[@]}"
    # Decoding jobs share the --train_jobs pool (each is ${inference_nj} single-thread processes).
    for _run in "${_asr_runs[@]}"; do
        read -r upstream _s _cfg <<< "${_run}"
        for lang in ${languages}; do
            pooled decode_lang "${upstream}" "${lang}" "${_s}" "${_cfg}"
        done
    done
    pool_wait
fi

if [ ${stage} -le 8 ] && [ ${stop_stage} -ge 8 ]; then
    export XLING_STAGE=8
    for _run in "${_asr_runs[@]}"; do
    read -r upstream _s _cfg <<< "${_run}"
    for lang in ${languages}; do
    for _test in $(test_sets_of "${lang}"); do
        _asr_exp=$(asr_exp_of "${upstream}" "${lang}" "${_s}" "${_cfg}")
        _dir=${_asr_exp}/${inference_tag}/${_test}
        _condition=${_test#test_"${lang}"}; _condition=${_condition#_}
        if done_already "${_dir}/score/.done"; then
            log "Stage 8: ${_dir}/score exists, skipping"
            continue
        fi
        log "Stage 8: scoring: ${_dir}/text vs ${datadir}/${_test}/text -> ${_dir}/score"
        ${python} -m espnet_ext.bin.score --ref "${datadir}/${_test}/text" \
            --hyp "${_dir}/text" --lang "${lang}" --out_dir "${_dir}/score" \
            --normalize "${score_normalize}" \
            --meta "upstream=$(base_tag_of "${upstream}" "${_s}")${asr_tag:+_${asr_tag}}" \
            --meta "seed=${_s}" \
            --meta "test_set=${_test}" \
            --meta "condition=${_condition:-clean}" \
            --meta "train_set=$(basename "$(train_set_of "${lang}")")" \
            --meta "decode=${inference_tag}" \
            --meta "encoder_frame_ms=${encoder_frame_ms:-config}" \
            --meta "head=$(basename "${_cfg}" .yaml)" \
            --meta "main_head=$([ -z "$(head_suffix "${_cfg}")" ] && echo true || echo false)"
        fail_point scored
        touch "${_dir}/score/.done"
    done
    done
    done
fi

if [ ${stage} -le 9 ] && [ ${stop_stage} -ge 9 ]; then
    export XLING_STAGE=9
    # One synthetic probe set per language (shared by every upstream), then one probe per
    # (upstream, language); each step keeps its own .done marker.
    for lang in ${probe_languages}; do
        [ -f "${datadir}/test_${lang}/text" ] || {
            log "Error: ${datadir}/test_${lang}/text missing: the probe reads its sentences"; exit 2; }
        # One process per language probes every upstream in turn (imports cost more than a probe).
        _pairs=()
        for upstream in ${probe_upstreams}; do
            _pairs+=(--upstream "${upstream}"
                     --out_dir "${expdir}/probe/$(base_tag_of "${upstream}" "${first_seed}")/${lang}")
        done
        log "Stage 9: phone probe (${probe_upstreams# }; ${lang}): ${datadir}/test_${lang}/text -> ${expdir}/probe/<upstream>/${lang}"
        ${python} -m espnet_ext.bin.phone_probe "${_pairs[@]}" --lang "${lang}" \
            --text "${datadir}/test_${lang}/text" --num_utts "${probe_num_utts}" \
            --synth_dir "${expdir}/probe/synth_${lang}" \
            --voice "${lang}${probe_variants:+,${lang}+${probe_variants// /,${lang}+}}" \
            --seed "${seed}" "${_force[@]}" \
            || { log "Error: phone probe failed (${lang}; above)"; exit 1; }
    done
    if [ "${pr_updates}" -gt 0 ]; then
        for lang in ${languages}; do
            _pairs=()
            for upstream in ${probe_upstreams}; do
                _pairs+=(--upstream "${upstream}" --out_dir
                         "${expdir}/phone_recognition/$(base_tag_of "${upstream}" "${first_seed}")/${lang}")
            done
            log "Stage 9: phone recognition (${probe_upstreams# }; ${lang}): $(train_set_of "${lang}"), ${datadir}/test_${lang} -> ${expdir}/phone_recognition/<upstream>/${lang}"
            ${python} -m espnet_ext.bin.phone_recognition "${_pairs[@]}" --lang "${lang}" \
                --train_dir "$(train_set_of "${lang}")" --test_dir "${datadir}/test_${lang}" \
                --updates "${pr_updates}" --seed "${seed}" "${_force[@]}" \
                || { log "Error: phone recognition failed (${lang}; above)"; exit 1; }
        done
    fi
fi

if [ ${stage} -le 10 ] && [ ${stop_stage} -ge 10 ]; then
    export XLING_STAGE=10
    log "Stage 10: report: ${expdir}/{asr_*,probe,upstreams} -> ${expdir}/results"
    _compare=()
    for _pair in ${report_compare}; do _compare+=(--compare "${_pair}"); done
    ${python} -m espnet_ext.bin.make_report --exp_dir "${expdir}" --out_dir "${expdir}/results" \
        --decode "${inference_tag}" --n_resamples "${bootstrap_resamples}" --seed "${seed}" \
        "${_compare[@]}" --title "Results: $(basename "$(cd ..; pwd)")/$(basename "$(pwd)")"
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
