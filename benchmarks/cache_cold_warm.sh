#!/bin/bash
# Cold (empty set-up cache) then warm `tmsfield target --head mni152_coarse`: wall time and peak RSS by /usr/bin/time -v.
# Results: benchmarks/RESULTS.md ("Set-up cache, cold vs warm"). OUT= where the cache, results and timings go.
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD TMSFIELD_CACHE_DIR=${OUT:-/tmp/tmsfield-cache-bench}/cache
rm -rf ${OUT:-/tmp/tmsfield-cache-bench}/cache ${OUT:-/tmp/tmsfield-cache-bench}/out; mkdir -p ${OUT:-/tmp/tmsfield-cache-bench}/out; export PYTHONPATH=$PWD
for run in cold warm; do
  /usr/bin/time -v -o ${OUT:-/tmp/tmsfield-cache-bench}/$run.time timeout 1200 ${TMSFIELD:-.venv/bin/tmsfield} target --head mni152_coarse --out ${OUT:-/tmp/tmsfield-cache-bench}/out/$run.json > ${OUT:-/tmp/tmsfield-cache-bench}/$run.out 2> ${OUT:-/tmp/tmsfield-cache-bench}/$run.err
  echo "$run rc=$?" >> ${OUT:-/tmp/tmsfield-cache-bench}/status
done
