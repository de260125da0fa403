"""The logic of the xling1 stage script (egs2/TEMPLATE/xling1/xling.sh) that is not shell work:
the run plan (:mod:`.plan`: every dir name and every list of runs) and the bookkeeping of its
stages (:mod:`.stages`: option checks, argument assembly, decoding splits and merges, scoring).
xling.sh reads them through ``python -m espnet_ext.bin.recipe_plan``."""
