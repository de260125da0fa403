# Job backends, as in ESPnet recipes: every job of xling.sh goes through one of these.
#   train_cmd  : CPU jobs (statistics, data processing)
#   cuda_cmd   : training (ESPnet's launcher adds --gpu N)
#   decode_cmd : decoding
# cmd_backend=local runs on this machine with utils/run.pl.
# cmd_backend=slurm uses Kaldi/ESPnet's slurm.pl: copy utils/slurm.pl and conf/slurm.conf from an
# ESPnet checkout (egs2/TEMPLATE/asr1/utils/slurm.pl, egs2/TEMPLATE/asr1/conf/slurm.conf) into
# this recipe's utils/ and conf/, adjust the partition names, then set cmd_backend=slurm.
cmd_backend=${cmd_backend:-local}

if [ "${cmd_backend}" = local ]; then
    export train_cmd="run.pl"
    export cuda_cmd="run.pl"
    export decode_cmd="run.pl"
elif [ "${cmd_backend}" = slurm ]; then
    export train_cmd="slurm.pl --config conf/slurm.conf"
    export cuda_cmd="slurm.pl --config conf/slurm.conf"
    export decode_cmd="slurm.pl --config conf/slurm.conf"
else
    echo "cmd.sh: unknown cmd_backend '${cmd_backend}' (local or slurm)" >&2
    return 1
fi
